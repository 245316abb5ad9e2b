// Textured backgrounds in muted colours, in integer arithmetic: a blend of two colours whose
// weight follows value noise, stripes or a gradient, plus per-pixel grain, each channel clamped
// to `backgroundChannelRange` so that no pixel equals an object colour.

enum BackgroundStyle: String, CaseIterable, Sendable {
    case valueNoise = "value noise", stripes, gradient
}

enum Background {
    /// Interleaved RGB pixels of a `size` x `size` background.
    static func draw(size: Int, using random: inout SplitMix64) -> [UInt8] {
        let style = random.pick(BackgroundStyle.allCases)
        // Muted: a grey level with each channel pushed at most 40 from it.
        let colours = (0..<2).map { _ in
            let grey = random.int(in: 80...176)
            return (0..<3).map { _ in grey + random.int(in: -40...40) }
        }
        let weights = blendWeights(style, size: size, using: &random)
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for pixel in 0..<(size * size) {
            let weight = weights[pixel]
            for channel in 0..<3 {
                let blend = colours[0][channel] + (colours[1][channel] - colours[0][channel]) * weight / 256
                let value = blend + random.int(in: -12...12)
                pixels[3 * pixel + channel] = UInt8(min(max(value, backgroundChannelRange.lowerBound), backgroundChannelRange.upperBound))
            }
        }
        return pixels
    }

    /// Per pixel, the weight (0...256) of the second colour.
    private static func blendWeights(_ style: BackgroundStyle, size: Int, using random: inout SplitMix64) -> [Int] {
        var weights = [Int](repeating: 0, count: size * size)
        switch style {
        case .valueNoise:
            // Random values on a lattice of `cell`-pixel squares, interpolated bilinearly.
            let cell = max(2, size / random.int(in: 3...8))
            let side = size / cell + 2
            let lattice = (0..<(side * side)).map { _ in random.int(in: 0...256) }
            for y in 0..<size {
                for x in 0..<size {
                    let (gx, fx) = (x / cell, x % cell), (gy, fy) = (y / cell, y % cell)
                    let corners = [lattice[gy * side + gx] * (cell - fx) * (cell - fy),
                                   lattice[gy * side + gx + 1] * fx * (cell - fy),
                                   lattice[(gy + 1) * side + gx] * (cell - fx) * fy,
                                   lattice[(gy + 1) * side + gx + 1] * fx * fy]
                    weights[y * size + x] = corners.reduce(0, +) / (cell * cell)
                }
            }
        case .stripes, .gradient:
            // Projections on a random integer direction; stripes alternate every `period` units.
            var (dx, dy) = (0, 0)
            while dx == 0 && dy == 0 { (dx, dy) = (random.int(in: -4...4), random.int(in: -4...4)) }
            let scale = max(abs(dx), abs(dy))
            let period = style == .stripes ? random.int(in: max(2, size / 16)...max(2, size / 5)) * scale : 0
            let corners = [0, dx * (size - 1), dy * (size - 1), (dx + dy) * (size - 1)]
            let low = corners.min()!, span = max(1, corners.max()! - low)
            for y in 0..<size {
                for x in 0..<size {
                    let t = dx * x + dy * y - low
                    weights[y * size + x] = style == .stripes ? (t / period % 2) * 256 : t * 256 / span
                }
            }
        }
        return weights
    }
}
