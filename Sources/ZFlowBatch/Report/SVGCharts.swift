import Foundation

// Small inline-SVG charts for the report: lines over categorical x values, a heatmap, and
// precision-recall curves. Every chart is a standalone, well-formed <svg> element.

enum SVGCharts {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                          "#7f7f7f", "#bcbd22"]

    struct Series {
        var name: String
        var values: [Double?]
    }

    private static let width = 520.0, height = 260.0
    private static let left = 48.0, right = 200.0, top = 28.0, bottom = 40.0

    /// Lines of `series` over `categories` (evenly spaced), y from 0 to 1.
    static func lineChart(title: String, xLabel: String, categories: [String], series: [Series]) -> String {
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        func x(_ i: Int) -> Double {
            categories.count == 1 ? left + plotWidth / 2 : left + plotWidth * Double(i) / Double(categories.count - 1)
        }
        func y(_ v: Double) -> Double { top + plotHeight * (1 - min(1, max(0, v))) }
        var body = axes(plotWidth: plotWidth, plotHeight: plotHeight, title: title, xLabel: xLabel)
        for (i, category) in categories.enumerated() {
            body += text(x(i), top + plotHeight + 16, category, anchor: "middle")
        }
        for (s, line) in series.enumerated() {
            let color = palette[s % palette.count]
            let points = line.values.enumerated().compactMap { i, v in v.map { (x(i), y($0)) } }
            body += "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\""
                + points.map { "\(format($0.0)),\(format($0.1))" }.joined(separator: " ") + "\"/>"
            for point in points {
                body += "<circle cx=\"\(format(point.0))\" cy=\"\(format(point.1))\" r=\"3\" fill=\"\(color)\"/>"
            }
            body += legend(s, line.name, color: color)
        }
        return svg(body)
    }

    /// A `rows` x `columns` grid of values in 0...1, colored and labeled.
    static func heatmap(title: String, rowLabel: String, columnLabel: String, rows: [String], columns: [String],
                        values: [[Double?]]) -> String {
        // Cells wide enough for the longest column label (about 6.5 px per character at 11 px).
        let cellWidth = max(52, 6.5 * Double(columns.map(\.count).max() ?? 0) + 8), cellHeight = 40.0
        let originX = max(60, 6.5 * Double(rows.map(\.count).max() ?? 0) + 16), originY = 44.0
        let chartWidth = originX + cellWidth * Double(columns.count) + 20, chartHeight = originY + cellHeight * Double(rows.count) + 36
        var body = text(chartWidth / 2, 16, title, anchor: "middle", weight: "bold")
        body += text(originX + cellWidth * Double(columns.count) / 2, chartHeight - 8, columnLabel, anchor: "middle")
        body += text(originX - 6, originY - 8, rowLabel, anchor: "end")
        let finite = values.flatMap { $0 }.compactMap { $0 }
        let low = finite.min() ?? 0, high = finite.max() ?? 1
        for (c, column) in columns.enumerated() {
            body += text(originX + cellWidth * (Double(c) + 0.5), originY + cellHeight * Double(rows.count) + 14, column, anchor: "middle")
        }
        for (r, row) in rows.enumerated() {
            body += text(originX - 6, originY + cellHeight * (Double(r) + 0.55), row, anchor: "end")
            for c in columns.indices {
                let value = values[r][c]
                let shade = value.map { high > low ? ($0 - low) / (high - low) : 1 } ?? 0
                let fill = value == nil ? "#eeeeee" : color(shade)
                body += "<rect class=\"cell\" x=\"\(format(originX + cellWidth * Double(c)))\" y=\"\(format(originY + cellHeight * Double(r)))\" "
                    + "width=\"\(format(cellWidth - 2))\" height=\"\(format(cellHeight - 2))\" fill=\"\(fill)\"/>"
                body += text(originX + cellWidth * (Double(c) + 0.5) - 1, originY + cellHeight * (Double(r) + 0.55),
                             value.map { String(format: "%.3f", $0) } ?? "-", anchor: "middle",
                             fill: shade < 0.45 ? "#ffffff" : "#000000")
            }
        }
        return svg(body, width: chartWidth, height: chartHeight)
    }

    /// Precision against recall, one line per series, both axes 0...1.
    static func precisionRecall(title: String, curves: [(name: String, points: [(recall: Double, precision: Double)])]) -> String {
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        var body = axes(plotWidth: plotWidth, plotHeight: plotHeight, title: title, xLabel: "recall")
        for tick in [0.0, 0.5, 1.0] {
            body += text(left + plotWidth * tick, top + plotHeight + 16, String(format: "%.1f", tick), anchor: "middle")
        }
        for (s, curve) in curves.enumerated() {
            let color = palette[s % palette.count]
            body += "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\""
                + curve.points.map { "\(format(left + plotWidth * $0.recall)),\(format(top + plotHeight * (1 - $0.precision)))" }
                    .joined(separator: " ") + "\"/>"
            body += legend(s, curve.name, color: color)
        }
        return svg(body)
    }

    private static func axes(plotWidth: Double, plotHeight: Double, title: String, xLabel: String) -> String {
        var body = text(width / 2 - right / 2 + left / 2, 16, title, anchor: "middle", weight: "bold")
        body += "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(plotWidth))\" height=\"\(format(plotHeight))\" fill=\"none\" stroke=\"#999\"/>"
        for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let y = top + plotHeight * (1 - tick)
            body += "<line x1=\"\(format(left))\" x2=\"\(format(left + plotWidth))\" y1=\"\(format(y))\" y2=\"\(format(y))\" stroke=\"#e5e5e5\"/>"
            body += text(left - 6, y + 4, String(format: "%.2f", tick), anchor: "end")
        }
        body += text(left + plotWidth / 2, height - 6, xLabel, anchor: "middle")
        return body
    }

    private static func legend(_ index: Int, _ name: String, color: String) -> String {
        let y = top + 8 + 16 * Double(index)
        return "<rect x=\"\(format(width - right + 10))\" y=\"\(format(y - 8))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
            + text(width - right + 24, y + 1, name, anchor: "start")
    }

    private static func text(_ x: Double, _ y: Double, _ content: String, anchor: String, weight: String = "normal",
                             fill: String = "#222222") -> String {
        "<text x=\"\(format(x))\" y=\"\(format(y))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(fill)\">"
            + HTML.escape(content) + "</text>"
    }

    private static func svg(_ body: String, width: Double = width, height: Double = height) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(format(width))\" height=\"\(format(height))\" "
            + "viewBox=\"0 0 \(format(width)) \(format(height))\" font-family=\"sans-serif\" font-size=\"11\">"
            + body + "</svg>"
    }

    /// Viridis-like ramp from dark blue (0) to yellow (1).
    private static func color(_ t: Double) -> String {
        let (r, g, b) = ramp(t)
        return String(format: "#%02x%02x%02x", r, g, b)
    }

    /// The ramp's red, green and blue at `t` (also drawn by `HeatmapImage`).
    static func ramp(_ t: Double) -> (Int, Int, Int) {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let scaled = min(1, max(0, t)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(scaled)), f = scaled - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        return (Int(a.0 + (b.0 - a.0) * f), Int(a.1 + (b.1 - a.1) * f), Int(a.2 + (b.2 - a.2) * f))
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}

enum HTML {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
