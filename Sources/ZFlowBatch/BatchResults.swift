import Foundation
import ZFlowEval

// Summaries and the results table from sample records, the same code for a whole run and a
// merge of shards: metrics come from counts in dataset order, so they do not depend on how
// the work was split.

/// summary.json: metrics per grid point.
public struct RunSummary: Codable, Equatable, Sendable {
    public struct Point: Codable, Equatable, Sendable {
        public var index: Int
        public var params: [String: String]
        /// Samples that failed (`--keep-going`): not in the metrics.
        public var failed: Int
        public var headline: Headline?
        public var metrics: MetricSummary?
    }
    public var thresholds: [Double]
    public var points: [Point]
}

/// The numbers the paper reports (CLIPSeg protocol).
public struct Headline: Codable, Equatable, Sendable {
    public var ap: Double?
    public var foregroundIoU03: Double
    public var meanIoU03: Double
    public var foregroundIoU05: Double
    public var meanIoU05: Double
    public var bestForegroundIoU: Double
    public var bestForegroundIoUThreshold: Double
    public var bestMeanIoU: Double
    public var bestMeanIoUThreshold: Double

    public init(_ summary: MetricSummary) {
        ap = summary.ap
        foregroundIoU03 = summary.foregroundIoUAt03
        meanIoU03 = summary.meanIoUAt03
        foregroundIoU05 = summary.foregroundIoUAt05
        meanIoU05 = summary.meanIoUAt05
        (bestForegroundIoU, bestForegroundIoUThreshold) = summary.bestForegroundIoU
        (bestMeanIoU, bestMeanIoUThreshold) = summary.bestMeanIoU
    }
}

/// results.json: one row per point with the cost of computing it.
public struct ResultRow: Codable, Equatable, Sendable {
    public var point: Int
    public var params: [String: String]
    /// Samples scored (failed ones excluded).
    public var samples: Int
    public var failed: Int
    public var headline: Headline?
    public var seconds: Double
    public var executed: Int
    public var cached: Int
}

extension Headline {
    /// Why this AP should not be trusted when it lies outside [0, 1]; nil when it lies inside.
    /// Said by `eval`, `sweep` and `merge` (on stderr), `report` (on the page) and `train`'s
    /// validation line.
    public var apWarning: String? {
        guard let ap, !(0...1).contains(ap) else { return nil }
        return String(format: "AP %.4f lies outside [0, 1]: ", ap) + Headline.apOvershootReason
    }

    /// Why the protocol's AP can leave [0, 1], and what to compare instead (also said by `zflow probe`).
    public static let apOvershootReason =
        "the protocol's Simpson rule overshoots when the precision-recall curve has few, unevenly spaced points "
        + "(predictions bunched at a few values); compare by IoU here (docs/parity/eval.md, \"AP outside [0, 1]\")"
}

extension ResultRow {
    /// The headline's AP warning, naming the point.
    public var apWarning: String? {
        headline?.apWarning.map { "point \(point): " + $0 }
    }
}

public enum BatchResults {
    /// Checks the records against the run (each (point, sample) exactly once, all present
    /// unless `allowPartial`), then writes summary.json, results.json and results.csv.
    @discardableResult
    public static func finalize(_ folder: URL, description: RunDescription, records: [SampleRecord],
                                allowPartial: Bool = false) throws -> (RunSummary, [ResultRow]) {
        var byPoint: [Int: [Int: SampleRecord]] = [:]
        for record in records {
            guard description.points.indices.contains(record.point) else {
                throw BatchError("record of sample '\(record.id)' names grid point \(record.point), the run has \(description.points.count)")
            }
            if byPoint[record.point]?[record.index] != nil {
                throw BatchError("sample '\(record.id)' of point \(record.point) appears twice (overlapping shards?)")
            }
            byPoint[record.point, default: [:]][record.index] = record
        }
        let expected = description.samples
        var summaryPoints: [RunSummary.Point] = [], rows: [ResultRow] = []
        for point in description.points {
            let done = byPoint[point.index] ?? [:]
            if !allowPartial && done.count != expected {
                let missing = (0..<expected).filter { done[$0] == nil }
                throw BatchError("point \(point.index) has \(done.count) of \(expected) samples; missing positions "
                    + missing.prefix(10).map(String.init).joined(separator: ", ") + (missing.count > 10 ? ", ..." : "")
                    + " (a shard not run or not finished?)")
            }
            var accumulator = MetricAccumulator()
            for record in done.values {
                if let counts = record.counts { try accumulator.add(counts, at: record.index) }
            }
            let metrics = accumulator.samples.isEmpty ? nil : try accumulator.summary()
            let headline = metrics.map(Headline.init)
            let failed = done.values.filter { $0.error != nil }.count
            summaryPoints.append(.init(index: point.index, params: point.params, failed: failed, headline: headline,
                                       metrics: metrics))
            let ordered = done.keys.sorted().compactMap { done[$0] }
            rows.append(ResultRow(point: point.index, params: point.params, samples: done.count - failed, failed: failed,
                                  headline: headline,
                                  seconds: ordered.reduce(0) { $0 + $1.seconds },
                                  executed: ordered.reduce(0) { $0 + $1.executed },
                                  cached: ordered.reduce(0) { $0 + $1.cached }))
        }
        let summary = RunSummary(thresholds: EvaluationThresholds.values, points: summaryPoints)
        try RunFiles.write(summary, to: RunFiles.summary(folder))
        try RunFiles.write(rows, to: RunFiles.resultsJSON(folder))
        try csv(rows, axes: description.axes).write(to: RunFiles.resultsCSV(folder), atomically: true, encoding: .utf8)
        return (summary, rows)
    }

    static func csv(_ rows: [ResultRow], axes: [GridAxis]) -> String {
        let metricNames = ["ap", "fgiou_0.3", "miou_0.3", "fgiou_0.5", "miou_0.5", "fgiou_best", "fgiou_best_t",
                           "miou_best", "miou_best_t"]
        var lines = [(["point"] + axes.map(\.name) + ["samples", "failed"] + metricNames + ["seconds", "executed", "cached"])
            .joined(separator: ",")]
        for row in rows {
            let metrics = row.headline.map { h in
                [h.ap, h.foregroundIoU03, h.meanIoU03, h.foregroundIoU05, h.meanIoU05, h.bestForegroundIoU,
                 h.bestForegroundIoUThreshold, h.bestMeanIoU, h.bestMeanIoUThreshold].map { $0.map { "\($0)" } ?? "" }
            } ?? Array(repeating: "", count: metricNames.count)
            let fields = ["\(row.point)"] + axes.map { quote(row.params[$0.name] ?? "") } + ["\(row.samples)", "\(row.failed)"] + metrics
                + [String(format: "%.3f", row.seconds), "\(row.executed)", "\(row.cached)"]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func quote(_ field: String) -> String {
        field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }

    /// `zflow merge`: the records of every samples file in `folders` (shards may write to one
    /// shared folder or to separate ones), finalized into `output`.
    public static func merge(_ folders: [URL], into output: URL, allowPartial: Bool = false) throws -> (RunSummary, [ResultRow]) {
        guard let first = folders.first else { throw BatchError("merge: no folders given") }
        let description = try RunFiles.read(RunDescription.self, from: RunFiles.description(first))
        var records: [SampleRecord] = []
        for folder in folders {
            let other = try RunFiles.read(RunDescription.self, from: RunFiles.description(folder))
            let differences = description.identity.differences(to: other.identity)
            guard differences.isEmpty else {
                throw BatchError("merge: \(folder.path) holds another run than \(first.path); what differs:\n"
                    + differences.map { "  " + $0 }.joined(separator: "\n"))
            }
            for file in try RunFiles.allSampleFiles(folder) {
                let fileRecords = try RunFiles.readRecords(file)
                try RunFolder.requireRun(fileRecords, of: description, in: file)
                records += fileRecords
            }
        }
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        if output.standardizedFileURL != first.standardizedFileURL {
            try RunFiles.write(description, to: RunFiles.description(output))
        }
        for folder in folders where folder.standardizedFileURL != output.standardizedFileURL {
            try copyExamples(from: folder, to: output)
        }
        return try finalize(output, description: description, records: records, allowPartial: allowPartial)
    }

    /// Copies the overlay thumbnails of a shard folder (those not already there), for the report.
    private static func copyExamples(from folder: URL, to output: URL) throws {
        let source = RunFiles.examples(folder)
        guard let files = FileManager.default.enumerator(atPath: source.path) else { return }
        for case let relative as String in files where relative.hasSuffix(".png") {
            let destination = RunFiles.examples(output).appendingPathComponent(relative)
            guard !FileManager.default.fileExists(atPath: destination.path) else { continue }
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: source.appendingPathComponent(relative), to: destination)
        }
    }
}
