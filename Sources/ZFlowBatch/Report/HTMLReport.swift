import Foundation

// `zflow report`: one self-contained HTML page from an eval or sweep folder: the results
// table, metric-vs-parameter lines, a heatmap when exactly two parameters are swept (like the
// paper's Fig. 4), precision-recall curves, and a grid of example overlays as data URIs.
// A training run's folder gets TrainingReport's page instead.

public enum HTMLReport {
    static let maxCurves = 10
    static let maxExampleColumns = 8

    public static func render(folder: URL) throws -> String {
        if TrainingReport.isTrainingRun(folder) { return try TrainingReport.render(folder: folder) }
        let description = try RunFiles.read(RunDescription.self, from: RunFiles.description(folder))
        try requireSummary(folder)
        let summary = try RunFiles.read(RunSummary.self, from: RunFiles.summary(folder))
        let identity = description.identity
        let rows = try RunFiles.read([ResultRow].self, from: RunFiles.resultsJSON(folder))
        var page = pageStart(title: "ZFlow report", identity: identity) + """
            .
            Metrics follow CLIPSeg's protocol: IoU_FG pooled over pixels, mIoU the mean over samples, AP the area under the precision-recall curve; thresholds 0.02..0.98.</p>

            """
        page += "<h2>Results</h2>\n" + table(rows, axes: description.axes) + "\n" + warnings(rows)
        page += "<h2>Charts</h2>\n<div class=\"charts\">\n" + charts(description, summary: summary) + "</div>\n"
        page += examples(folder, description: description, rows: rows)
        page += "</body></html>\n"
        return page
    }

    /// The page's head and heading, and an open paragraph naming the run's graph, dataset,
    /// settings and ZFlow version (the caller continues and closes it).
    static func pageStart(title: String, identity: RunIdentity) -> String {
        let settings = identity.settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(title): \(HTML.escape(identity.graphPath))</title>
            <style>
            body { font-family: sans-serif; margin: 24px; color: #222; }
            table { border-collapse: collapse; font-size: 13px; }
            th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
            th { background: #f2f2f2; } td.param { text-align: left; }
            .charts { display: flex; flex-wrap: wrap; gap: 16px; }
            .examples img { display: block; max-width: 160px; }
            .examples td { text-align: center; vertical-align: top; font-size: 11px; }
            .warnings { color: #a33; }
            </style></head><body>
            <h1>\(title)</h1>
            <p>Graph <code>\(HTML.escape(identity.graphPath))</code>\(identity.dataset.map { ", dataset <code>\(HTML.escape($0.path))</code> (\($0.samples) samples)" } ?? "")\(settings.isEmpty ? "" : ", settings <code>" + HTML.escape(settings.joined(separator: " ")) + "</code>"), ZFlow \(HTML.escape(identity.zflowVersion))
            """
    }

    /// A folder of unmerged shards has samples files but no summary: say how to make one.
    private static func requireSummary(_ folder: URL) throws {
        guard !FileManager.default.fileExists(atPath: RunFiles.summary(folder).path) else { return }
        let shards = try RunFiles.allSampleFiles(folder).map(\.lastPathComponent).filter { $0.hasPrefix("samples.shard-") }
        guard shards.isEmpty else {
            throw BatchError("\(folder.relativePath) holds unmerged shards (\(shards.joined(separator: ", "))) and no summary.json: "
                + "run `zflow merge \(folder.relativePath)` first (with every shard's folder if they wrote to several)")
        }
    }

    private static func number(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "-" }

    static func table(_ rows: [ResultRow], axes: [GridAxis]) -> String {
        var html = "<table class=\"results\"><tr><th>#</th>" + axes.map { "<th>\(HTML.escape($0.name))</th>" }.joined()
            + "<th>samples</th><th>failed</th><th>AP</th><th>IoU_FG@0.3</th><th>mIoU@0.3</th><th>IoU_FG@0.5</th><th>mIoU@0.5</th>"
            + "<th>best IoU_FG (t)</th><th>best mIoU (t)</th><th>time s</th><th>nodes run</th><th>cached</th></tr>\n"
        for row in rows {
            let h = row.headline
            html += "<tr><td>\(row.point)</td>" + axes.map { "<td class=\"param\">\(HTML.escape(row.params[$0.name] ?? ""))</td>" }.joined()
                + "<td>\(row.samples)</td><td>\(row.failed)</td><td>\(number(h?.ap))</td><td>\(number(h?.foregroundIoU03))</td><td>\(number(h?.meanIoU03))</td>"
                + "<td>\(number(h?.foregroundIoU05))</td><td>\(number(h?.meanIoU05))</td>"
                + "<td>\(number(h?.bestForegroundIoU)) (\(h.map { String(format: "%.2f", $0.bestForegroundIoUThreshold) } ?? "-"))</td>"
                + "<td>\(number(h?.bestMeanIoU)) (\(h.map { String(format: "%.2f", $0.bestMeanIoUThreshold) } ?? "-"))</td>"
                + String(format: "<td>%.2f</td>", row.seconds) + "<td>\(row.executed)</td><td>\(row.cached)</td></tr>\n"
        }
        return html + "</table>"
    }

    /// The points' AP warnings (the ones eval prints on stderr), under the table.
    static func warnings(_ rows: [ResultRow]) -> String {
        let warnings = rows.compactMap(\.apWarning)
        guard !warnings.isEmpty else { return "" }
        return "<ul class=\"warnings\">" + warnings.map { "<li>warning: \(HTML.escape($0))</li>" }.joined() + "</ul>\n"
    }

    static func charts(_ description: RunDescription, summary: RunSummary) -> String {
        let headlines = Dictionary(uniqueKeysWithValues: summary.points.map { ($0.index, $0.headline) })
        guard headlines.values.contains(where: { $0 != nil }) else { return "<p>No metrics (the run had no dataset).</p>\n" }
        var html = ""
        let metrics: [(String, (Headline) -> Double?)] = [("AP", { $0.ap }), ("IoU_FG@0.3", { $0.foregroundIoU03 }),
                                                           ("mIoU@0.3", { $0.meanIoU03 })]
        for axis in description.axes {
            // Each value of this axis: the mean over the points having it (over the other axes' values).
            let series = metrics.map { name, metric in
                SVGCharts.Series(name: name, values: axis.texts.map { value in
                    let values = description.points.filter { $0.params[axis.name] == value }
                        .compactMap { headlines[$0.index].flatMap { $0 }.flatMap(metric) }
                    return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
                })
            }
            let title = description.axes.count > 1 ? "metrics vs \(axis.name) (mean over others)" : "metrics vs \(axis.name)"
            html += SVGCharts.lineChart(title: title, xLabel: axis.name, categories: axis.texts, series: series) + "\n"
        }
        if description.axes.count == 2 {
            let (rowsAxis, columnsAxis) = (description.axes[0], description.axes[1])
            for (name, metric) in metrics where name != "IoU_FG@0.3" {
                let values = rowsAxis.texts.map { r in
                    columnsAxis.texts.map { c in
                        description.points.first { $0.params[rowsAxis.name] == r && $0.params[columnsAxis.name] == c }
                            .flatMap { headlines[$0.index].flatMap { $0 } }.flatMap(metric)
                    }
                }
                html += SVGCharts.heatmap(title: "\(name) by \(rowsAxis.name) x \(columnsAxis.name)", rowLabel: rowsAxis.name,
                                          columnLabel: columnsAxis.name, rows: rowsAxis.texts, columns: columnsAxis.texts,
                                          values: values) + "\n"
            }
        }
        let curves = summary.points.prefix(maxCurves).compactMap { point in
            point.metrics.map { (name: label(point.params, axes: description.axes),
                                 points: $0.precisionRecall.map { ($0.recall, $0.precision) }) }
        }
        html += SVGCharts.precisionRecall(title: "precision-recall", curves: curves) + "\n"
        return html
    }

    static func label(_ params: [String: String], axes: [GridAxis]) -> String {
        axes.isEmpty ? "run" : axes.map { "\($0.name)=\(params[$0.name] ?? "")" }.joined(separator: " ")
    }

    static func examples(_ folder: URL, description: RunDescription, rows: [ResultRow]) -> String {
        let truthFolder = RunFiles.examples(folder).appendingPathComponent("truth")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: truthFolder.path).filter({ $0.hasSuffix(".png") }).sorted(),
              !files.isEmpty else { return "" }
        let points = description.points.prefix(maxExampleColumns)
        var html = "<h2>Examples</h2>\n<p>Green: ground truth; red: prediction &gt; 0.5.</p>\n<table class=\"examples\"><tr><th>truth</th>"
            + points.map { "<th>\(HTML.escape(label($0.params, axes: description.axes)))</th>" }.joined() + "</tr>\n"
        for file in files {
            html += "<tr><td>" + image(truthFolder.appendingPathComponent(file)) + HTML.escape(String(file.dropLast(4))) + "</td>"
            for point in points {
                html += "<td>" + image(RunFiles.examples(folder).appendingPathComponent("p\(point.index)").appendingPathComponent(file)) + "</td>"
            }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }

    private static func image(_ url: URL) -> String {
        guard let data = try? Data(contentsOf: url) else { return "-" }
        return "<img alt=\"\(HTML.escape(url.lastPathComponent))\" src=\"data:image/png;base64,\(data.base64EncodedString())\">"
    }
}
