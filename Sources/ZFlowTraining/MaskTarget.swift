import ZFlowBatch
import ZFlowTensor

/// A training sample's mask (true: foreground), whole or cropped.
struct TargetMask {
    let width: Int
    let height: Int
    let foreground: [Bool]

    init(_ mask: GroundTruthMask) {
        self.init(width: mask.width, height: mask.height, foreground: mask.foreground)
    }

    init(width: Int, height: Int, foreground: [Bool]) {
        self.width = width
        self.height = height
        self.foreground = foreground
    }

    func cropped(_ crop: SquareCrop) -> TargetMask {
        var values: [Bool] = []
        values.reserveCapacity(crop.side * crop.side)
        for y in crop.y..<(crop.y + crop.side) {
            values += foreground[(y * width + crop.x)..<(y * width + crop.x + crop.side)]
        }
        return TargetMask(width: crop.side, height: crop.side, foreground: values)
    }

    /// Foreground counts of every top-left rectangle: entry (y, x) of a (height + 1) x (width + 1)
    /// table is the count in rows 0..<y and columns 0..<x.
    func summedArea() -> [Int] {
        var sums = [Int](repeating: 0, count: (width + 1) * (height + 1))
        for y in 0..<height {
            var row = 0
            for x in 0..<width {
                if foreground[y * width + x] { row += 1 }
                sums[(y + 1) * (width + 1) + x + 1] = sums[y * (width + 1) + x + 1] + row
            }
        }
        return sums
    }

    /// The mask as BCE targets (1 foreground, 0 background), [1, 1, height, width], resized with
    /// nearest as `torch.nn.functional.interpolate(mode="nearest")` does: source index
    /// `min(floor(dst * Float(in) / Float(out)), in - 1)`.
    func target(height: Int, width: Int) -> Tensor {
        func sources(_ output: Int, _ input: Int) -> [Int] {
            let scale = Float(input) / Float(output)
            return (0..<output).map { min(Int((Float($0) * scale).rounded(.down)), input - 1) }
        }
        let rows = sources(height, self.height), columns = sources(width, self.width)
        var values = [Float](repeating: 0, count: height * width)
        for (y, sourceY) in rows.enumerated() {
            for (x, sourceX) in columns.enumerated() where foreground[sourceY * self.width + sourceX] {
                values[y * width + x] = 1
            }
        }
        return Tensor(shape: [1, 1, height, width], scalars: values)
    }
}
