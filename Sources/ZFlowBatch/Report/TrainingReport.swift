import Foundation

// `zflow report` on a `zflow train` folder: the run's options, the loss and gradient-norm
// curves, the validation curves and table, and what each epoch cost. It reads the JSON lines
// the trainer writes (log.jsonl, val.jsonl, epochs.jsonl), taking only the fields it draws.

enum TrainingReport {
    struct StepLine: Decodable {
        var step: Int
        var loss: Double
        var gradNorm: Double?

        enum CodingKeys: String, CodingKey { case step, loss, gradNorm = "grad_norm" }
    }

    private struct ValidationLine: Decodable {
        var step: Int
        var weights: String
        var samples: Int
        var metrics: Headline
    }

    private struct EpochLine: Decodable {
        var epoch: Int
        var steps: Int
        var seconds: Double
        var executed: [String: Int]
        var cached: Int
    }

    /// Whether `folder` is a training run (it has the trainer's step log).
    static func isTrainingRun(_ folder: URL) -> Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent("log.jsonl").path)
    }

    static func render(folder: URL) throws -> String {
        let identity = try RunFiles.read(RunIdentity.self, from: RunFiles.description(folder))
        let steps: [StepLine] = try lines(folder, "log.jsonl")
        let validations: [ValidationLine] = try lines(folder, "val.jsonl")
        let epochs: [EpochLine] = try lines(folder, "epochs.jsonl")
        let options = identity.options.sorted { $0.key < $1.key }.map { "--\($0.key) \($0.value)" }
        var page = HTMLReport.pageStart(title: "ZFlow training report", identity: identity) + """
            , \(steps.count) steps logged.</p>
            <p>Options <code>\(HTML.escape(options.joined(separator: " ")))</code></p>

            """
        page += "<h2>Curves</h2>\n<div class=\"charts\">\n"
        if steps.isEmpty {
            page += "<p>No step logged yet.</p>\n"
        } else {
            let losses = steps.map { (Double($0.step), $0.loss) }
            var series = [SVGCharts.NumericSeries(name: "loss", points: losses)]
            if window(losses.count) > 1 {
                series.append(.init(name: "mean of \(window(losses.count))", points: runningMean(losses)))
            }
            page += SVGCharts.numericLines(title: "training loss", xLabel: "step", series: series) + "\n"
            let norms = steps.compactMap { line in line.gradNorm.map { (Double(line.step), $0) } }
            if !norms.isEmpty {
                page += SVGCharts.numericLines(title: "gradient norm (before clipping)", xLabel: "step",
                                               series: [.init(name: "grad-norm", points: norms)]) + "\n"
            }
        }
        if !validations.isEmpty {
            let metrics: [(String, (Headline) -> Double?)] = [("AP", { $0.ap }), ("IoU_FG@0.3", { $0.foregroundIoU03 }),
                                                               ("mIoU@0.3", { $0.meanIoU03 })]
            page += SVGCharts.numericLines(title: "validation (\(validations[0].weights) weights)", xLabel: "step",
                                           series: metrics.map { name, metric in
                                               .init(name: name, points: validations.compactMap { v in metric(v.metrics).map { (Double(v.step), $0) } })
                                           }, yRange: 0...1) + "\n"
        }
        page += "</div>\n"
        if !validations.isEmpty { page += "<h2>Validation</h2>\n" + validationTable(validations) + "\n" }
        if !epochs.isEmpty { page += "<h2>Epochs</h2>\n" + epochTable(epochs) + "\n" }
        return page + "</body></html>\n"
    }

    static func lines<T: Decodable>(_ folder: URL, _ name: String) throws -> [T] {
        let url = folder.appendingPathComponent(name)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").enumerated().map { index, line in
            do { return try JSONDecoder().decode(T.self, from: Data(line.utf8)) } catch {
                throw BatchError("\(url.relativePath) line \(index + 1): not a line of zflow train's \(name) (\(error))")
            }
        }
    }

    static func window(_ count: Int) -> Int { max(1, count / 20) }

    /// The mean of each point and the window - 1 before it.
    static func runningMean(_ points: [(Double, Double)]) -> [(Double, Double)] {
        let size = window(points.count)
        var sum = 0.0
        return points.enumerated().map { index, point in
            sum += point.1
            if index >= size { sum -= points[index - size].1 }
            return (point.0, sum / Double(min(index + 1, size)))
        }
    }

    private static func number(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "-" }

    private static func validationTable(_ rows: [ValidationLine]) -> String {
        var html = "<table class=\"validation\"><tr><th>step</th><th>weights</th><th>samples</th><th>AP</th><th>IoU_FG@0.3</th>"
            + "<th>mIoU@0.3</th><th>IoU_FG@0.5</th><th>mIoU@0.5</th></tr>\n"
        for row in rows {
            let m = row.metrics
            html += "<tr><td>\(row.step)</td><td class=\"param\">\(HTML.escape(row.weights))</td><td>\(row.samples)</td>"
                + "<td>\(number(m.ap))</td><td>\(number(m.foregroundIoU03))</td><td>\(number(m.meanIoU03))</td>"
                + "<td>\(number(m.foregroundIoU05))</td><td>\(number(m.meanIoU05))</td></tr>\n"
        }
        return html + "</table>"
    }

    private static func epochTable(_ rows: [EpochLine]) -> String {
        var html = "<table class=\"epochs\"><tr><th>epoch</th><th>steps</th><th>time s</th><th>nodes run</th><th>cached</th></tr>\n"
        for row in rows {
            let executed = row.executed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            html += "<tr><td>\(row.epoch)</td><td>\(row.steps)</td>" + String(format: "<td>%.2f</td>", row.seconds)
                + "<td class=\"param\">\(HTML.escape(executed.isEmpty ? "none" : executed))</td><td>\(row.cached)</td></tr>\n"
        }
        return html + "</table>"
    }
}
