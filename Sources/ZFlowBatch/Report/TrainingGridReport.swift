import Foundation

// `zflow report` on a `zflow train --grid` folder: the Table 4 layout (TrainingGridTable) and
// the variants' loss curves side by side: one chart with every variant (the mean over its seeds
// at each step), then one chart per variant with a line per seed. Curves are running means, as
// in a single run's report.

public enum TrainingGridReport {
    public static func render(folder: URL, table: TrainingGridTable) throws -> String {
        let identity = try RunFiles.read(RunIdentity.self, from: RunFiles.description(folder))
        let points = table.variants.reduce(0) { $0 + $1.points.count }
        var page = HTMLReport.pageStart(title: "ZFlow training grid report", identity: identity) + """
            , \(points) points in \(table.variants.count) variants.
            Each point was evaluated on the validation set after its last step with the EMA weights (the eval protocol: IoU_FG and mIoU at 0.3, AP).
            Values are the mean ± the sample standard deviation (n - 1) over the seeds evaluated.</p>

            """
        page += "<h2>Variants</h2>\n" + html(table) + "\n"
        if !table.warnings.isEmpty {
            page += "<h2>Left out</h2>\n<ul>" + table.warnings.map { "<li><pre>\(HTML.escape($0))</pre></li>" }.joined() + "</ul>\n"
        }
        page += "<h2>Loss curves</h2>\n<div class=\"charts\">\n" + (try curves(folder, table)) + "</div>\n"
        return page + "</body></html>\n"
    }

    private static func html(_ table: TrainingGridTable) -> String {
        var html = "<table class=\"variants\"><tr>" + table.variantAxes.map { "<th>\(HTML.escape($0.name))</th>" }.joined()
            + "<th>seeds</th><th>mIoU@0.3</th><th>IoU_FG@0.3</th><th>AP</th></tr>\n"
        for variant in table.variants {
            html += "<tr>" + table.variantAxes.map { "<td class=\"param\">\(HTML.escape(variant.params[$0.name] ?? ""))</td>" }.joined()
                + "<td>\(variant.evaluations.count)/\(variant.points.count)</td>"
                + [variant.meanIoU, variant.foregroundIoU, variant.ap].map { "<td>\(HTML.escape($0?.text ?? "-"))</td>" }.joined()
                + "</tr>\n"
        }
        if !table.missing.isEmpty {
            html += "</table>\n<p>Not evaluated yet: <code>\(HTML.escape(table.missing.joined(separator: " ")))</code></p>"
            return html
        }
        return html + "</table>"
    }

    private static func curves(_ folder: URL, _ table: TrainingGridTable) throws -> String {
        var together: [SVGCharts.NumericSeries] = [], apart = ""
        for variant in table.variants {
            let name = label(variant, axes: table.variantAxes)
            var seeds: [SVGCharts.NumericSeries] = []
            for point in variant.points {
                let steps: [TrainingReport.StepLine] = try TrainingReport.lines(folder.appendingPathComponent(point.folder), "log.jsonl")
                guard !steps.isEmpty else { continue }
                seeds.append(.init(name: point.params[TrainingGridDescription.seedAxis].map { "seed \($0)" } ?? point.folder,
                                   points: TrainingReport.runningMean(steps.map { (Double($0.step), $0.loss) })))
            }
            guard !seeds.isEmpty else { continue }
            together.append(.init(name: name, points: meanOverSeeds(seeds)))
            apart += SVGCharts.numericLines(title: "loss: \(name)", xLabel: "step", series: seeds) + "\n"
        }
        guard !together.isEmpty else { return "<p>No step logged yet.</p>\n" }
        return SVGCharts.numericLines(title: "training loss by variant (mean over seeds)", xLabel: "step", series: together)
            + "\n" + apart
    }

    /// At each step the mean of the seeds' curves that reach it.
    private static func meanOverSeeds(_ seeds: [SVGCharts.NumericSeries]) -> [(x: Double, y: Double)] {
        var sums: [Double: (sum: Double, count: Int)] = [:]
        for point in seeds.flatMap(\.points) {
            sums[point.x, default: (0, 0)].sum += point.y
            sums[point.x, default: (0, 0)].count += 1
        }
        return sums.keys.sorted().map { x in (x, sums[x]!.sum / Double(sums[x]!.count)) }
    }

    private static func label(_ variant: TrainingGridTable.Variant, axes: [GridAxis]) -> String {
        axes.isEmpty ? "all points" : axes.map { "\($0.name)=\(variant.params[$0.name] ?? "")" }.joined(separator: " ")
    }
}
