import ZFlowImage

/// The report's heatmap (`SVGCharts.heatmap`: the same layout, ramp and labels) as PNG pixels, for
/// runs whose figure is one grid, such as `zflow probe`'s taps x timesteps AP. Text is drawn with
/// `BitmapFont` at twice its size.
public enum HeatmapImage {
    private static let scale = 2
    private static let cellHeight = 34

    /// `values[r][c]` for row `rows[r]`, column `columns[c]`; nil cells are grey and labelled "-".
    public static func png(title: String, rowLabel: String, columnLabel: String, rows: [String], columns: [String],
                           values: [[Double?]]) throws -> [UInt8] {
        let texts = values.map { $0.map { $0.map { String(format: "%.3f", $0) } ?? "-" } }
        let widest = (columns + texts.flatMap { $0 }).map { textWidth($0) }.max() ?? 0
        let cellWidth = max(72, widest + 12)
        let originX = max(72, (rows + [rowLabel]).map { textWidth($0) }.max()! + 24), originY = 56
        let width = max(originX + cellWidth * columns.count + 20, textWidth(title) + 20)
        let height = originY + cellHeight * rows.count + 64
        var canvas = Canvas(width: width, height: height)
        canvas.text(title, centerX: width / 2, top: 12, color: (0x22, 0x22, 0x22))
        canvas.text(rowLabel, right: originX - 8, top: originY - 24, color: (0x22, 0x22, 0x22))
        canvas.text(columnLabel, centerX: originX + cellWidth * columns.count / 2, top: height - 24, color: (0x22, 0x22, 0x22))
        let finite = values.flatMap { $0 }.compactMap { $0 }
        let low = finite.min() ?? 0, high = finite.max() ?? 1
        for (c, column) in columns.enumerated() {
            canvas.text(column, centerX: originX + cellWidth * c + cellWidth / 2, top: originY + cellHeight * rows.count + 8,
                        color: (0x22, 0x22, 0x22))
        }
        for (r, row) in rows.enumerated() {
            let top = originY + cellHeight * r
            canvas.text(row, right: originX - 8, top: top + (cellHeight - BitmapFont.height * scale) / 2, color: (0x22, 0x22, 0x22))
            for c in columns.indices {
                let value = values[r][c]
                let shade = value.map { high > low ? ($0 - low) / (high - low) : 1 } ?? 0
                let fill = value == nil ? (0xee, 0xee, 0xee) : SVGCharts.ramp(shade)
                canvas.fill(x: originX + cellWidth * c, y: top, width: cellWidth - 2, height: cellHeight - 2, color: fill)
                canvas.text(texts[r][c], centerX: originX + cellWidth * c + cellWidth / 2 - 1,
                            top: top + (cellHeight - BitmapFont.height * scale) / 2,
                            color: value != nil && shade < 0.45 ? (0xff, 0xff, 0xff) : (0, 0, 0))
            }
        }
        return try encodePNG(rgb: RGBImage(width: width, height: height, pixels: canvas.pixels))
    }

    private static func textWidth(_ text: String) -> Int { BitmapFont.textWidth(text) * scale }

    /// White RGB pixels to draw on.
    private struct Canvas {
        let width: Int, height: Int
        var pixels: [UInt8]

        init(width: Int, height: Int) {
            self.width = width
            self.height = height
            pixels = [UInt8](repeating: 0xff, count: width * height * 3)
        }

        mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: (Int, Int, Int)) {
            for row in max(0, y)..<min(height, y + h) {
                for column in max(0, x)..<min(width, x + w) {
                    let i = 3 * (row * width + column)
                    (pixels[i], pixels[i + 1], pixels[i + 2]) = (UInt8(color.0), UInt8(color.1), UInt8(color.2))
                }
            }
        }

        mutating func text(_ text: String, centerX: Int, top: Int, color: (Int, Int, Int)) {
            self.text(text, left: centerX - HeatmapImage.textWidth(text) / 2, top: top, color: color)
        }

        mutating func text(_ text: String, right: Int, top: Int, color: (Int, Int, Int)) {
            self.text(text, left: right - HeatmapImage.textWidth(text), top: top, color: color)
        }

        mutating func text(_ text: String, left: Int, top: Int, color: (Int, Int, Int)) {
            for (index, character) in text.enumerated() {
                let x = left + index * BitmapFont.advance * scale
                for (row, flags) in BitmapFont.glyph(character).enumerated() {
                    for (column, on) in flags.enumerated() where on {
                        fill(x: x + column * scale, y: top + row * scale, width: scale, height: scale, color: color)
                    }
                }
            }
        }
    }
}
