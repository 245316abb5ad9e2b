import Foundation

/// A self-contained HTML page for a run whose result is one grid of values (e.g. `zflow probe`'s
/// AP per tap and timestep): the heatmap PNG (`HeatmapImage`) as a data URI and the table.
public enum GridReport {
    public static func page(title: String, intro: String, rowLabel: String, columnLabel: String, rows: [String],
                            columns: [String], values: [[Double?]], heatmap: [UInt8]) -> String {
        var table = "<table><tr><th>\(HTML.escape(rowLabel)) \\ \(HTML.escape(columnLabel))</th>"
            + columns.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>\n"
        for (row, line) in zip(rows, values) {
            table += "<tr><td class=\"param\">\(HTML.escape(row))</td>"
                + line.map { "<td>\($0.map { String(format: "%.4f", $0) } ?? "-")</td>" }.joined() + "</tr>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(title))</title>
            <style>
            body { font-family: sans-serif; margin: 24px; color: #222; }
            table { border-collapse: collapse; font-size: 13px; }
            th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
            th { background: #f2f2f2; } td.param { text-align: left; }
            </style></head><body>
            <h1>\(HTML.escape(title))</h1>
            <p>\(HTML.escape(intro))</p>
            <img alt="heatmap" src="data:image/png;base64,\(Data(heatmap).base64EncodedString())">
            <h2>Table</h2>
            \(table)</table>
            </body></html>

            """
    }
}
