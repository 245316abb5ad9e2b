import Foundation

/// The paper's Table 4 from a training grid's folder: one row per variant (the points that differ
/// only in the training seed), with mIoU, IoU_FG (both at threshold 0.3) and AP as the mean and
/// the sample standard deviation over the variant's seeds, read from each point's eval.json.
///
/// A number enters a row only when its eval.json was written for the run in that point's
/// folder and for this grid (both digests match), and when that run differs from the variant's
/// other evaluated points in the training seed alone: a point whose graph, settings or options
/// are another variant's is left out with a warning, never averaged in.
public struct TrainingGridTable: Sendable {
    /// The mean of a metric over a variant's seeds and the sample standard deviation (n - 1 in
    /// the denominator; nil for a single value).
    public struct Spread: Equatable, Sendable {
        public var mean: Double
        public var deviation: Double?
        public var count: Int

        public init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            count = values.count
            mean = values.reduce(0, +) / Double(count)
            let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            deviation = count > 1 ? (squares / Double(count - 1)).squareRoot() : nil
        }

        public var text: String {
            String(format: "%.4f", mean) + (deviation.map { String(format: " ± %.4f", $0) } ?? "")
        }
    }

    public struct Variant: Sendable {
        /// The non-seed axes' values, by axis name.
        public var params: [String: String]
        public var points: [TrainingGridDescription.Point]
        /// The evaluations that count, by point folder.
        public var evaluations: [String: PointEvaluation]

        public var meanIoU: Spread? { spread { $0.meanIoU03 } }
        public var foregroundIoU: Spread? { spread { $0.foregroundIoU03 } }
        public var ap: Spread? { spread { $0.ap } }

        /// The evaluated points' metric in point order (AP may be undefined for a point).
        public func spread(_ metric: (Headline) -> Double?) -> Spread? {
            Spread(points.compactMap { evaluations[$0.folder].flatMap { metric($0.metrics) } })
        }
    }

    public var axes: [GridAxis]
    /// The non-seed axes: the columns that name a variant.
    public var variantAxes: [GridAxis] { axes.filter { $0.name != TrainingGridDescription.seedAxis } }
    public var variants: [Variant]
    /// Points without a usable eval.json (not finished, another shard's, or left out).
    public var missing: [String]
    /// Why points were left out.
    public var warnings: [String]

    public static func load(_ folder: URL) throws -> TrainingGridTable {
        let grid = try RunFiles.read(RunIdentity.self, from: RunFiles.description(folder))
        let description = try RunFiles.read(TrainingGridDescription.self, from: TrainingGridFiles.description(folder))
        var table = TrainingGridTable(axes: description.axes, variants: [], missing: [], warnings: [])
        var firstRun: [Int: (folder: String, identity: RunIdentity)] = [:]
        for point in description.points {
            let params = point.params.filter { $0.key != TrainingGridDescription.seedAxis }
            let index = table.variants.firstIndex { $0.params == params } ?? {
                table.variants.append(Variant(params: params, points: [], evaluations: [:]))
                return table.variants.count - 1
            }()
            table.variants[index].points.append(point)
            let url = folder.appendingPathComponent(point.folder)
            guard let evaluation = try? RunFiles.read(PointEvaluation.self, from: TrainingGridFiles.evaluation(url)) else {
                table.missing.append(point.folder)
                continue
            }
            guard let identity = try? RunFiles.read(RunIdentity.self, from: RunFiles.description(url)),
                  evaluation.run == identity.digest, evaluation.grid == grid.digest else {
                table.missing.append(point.folder)
                table.warnings.append("\(point.folder)/eval.json was not written for the run in \(point.folder)/run.json "
                    + "in this grid: left out (rerun the grid to evaluate it again)")
                continue
            }
            var unseeded = identity
            unseeded.options[TrainingGridDescription.seedAxis] = nil
            if let first = firstRun[index] {
                let differences = first.identity.differences(to: unseeded)
                guard differences.isEmpty else {
                    table.missing.append(point.folder)
                    table.warnings.append("\(point.folder) is not a seed of the variant of \(first.folder), which differs in:\n"
                        + differences.map { "  " + $0 }.joined(separator: "\n") + "\nleft out of that variant's row")
                    continue
                }
            } else {
                firstRun[index] = (point.folder, unseeded)
            }
            table.variants[index].evaluations[point.folder] = evaluation
        }
        return table
    }

    /// The table as aligned text: a column per non-seed axis, the number of seeds evaluated,
    /// then each metric as `mean ± std`, and a line on what the spread is and what is missing.
    public var text: String {
        let header = variantAxes.map(\.name) + ["seeds", "mIoU@0.3", "IoU_FG@0.3", "AP"]
        let rows = variants.map { variant in
            variantAxes.map { variant.params[$0.name] ?? "" }
                + ["\(variant.evaluations.count)/\(variant.points.count)"]
                + [variant.meanIoU, variant.foregroundIoU, variant.ap].map { $0?.text ?? "-" }
        }
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        var lines = ([header] + rows).map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        lines.append("mean ± sample standard deviation (n - 1) over the seeds evaluated; one seed: the mean alone")
        if !missing.isEmpty { lines.append("not evaluated yet: " + missing.joined(separator: " ")) }
        return lines.joined(separator: "\n") + "\n"
    }
}
