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

    /// The mask as BCE targets [1, 1, height, width], resized as `torch.nn.functional.interpolate`
    /// does with `resize`'s mode.
    func target(height: Int, width: Int, resize: MaskResize = .nearest) -> Tensor {
        let values = switch resize {
        case .nearest: nearest(height: height, width: width)
        case .area: area(height: height, width: width)
        }
        return Tensor(shape: [1, 1, height, width], scalars: values)
    }

    /// 1 foreground, 0 background at source index `min(floor(dst * Float(in) / Float(out)), in - 1)`
    /// (`mode="nearest"`).
    private func nearest(height: Int, width: Int) -> [Float] {
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
        return values
    }

    /// The foreground fraction of each output cell's source window, rows and columns
    /// `floor(dst * in / out)..<ceil((dst + 1) * in / out)` (`mode="area"`, which is
    /// `adaptive_avg_pool2d`; windows overlap when `out` does not divide `in`).
    private func area(height: Int, width: Int) -> [Float] {
        func windows(_ output: Int, _ input: Int) -> [Range<Int>] {
            (0..<output).map { $0 * input / output..<(($0 + 1) * input + output - 1) / output }
        }
        let sums = summedArea(), stride = self.width + 1
        let rows = windows(height, self.height), columns = windows(width, self.width)
        var values = [Float](repeating: 0, count: height * width)
        for (y, r) in rows.enumerated() {
            for (x, c) in columns.enumerated() {
                let count = sums[r.upperBound * stride + c.upperBound] - sums[r.lowerBound * stride + c.upperBound]
                    - sums[r.upperBound * stride + c.lowerBound] + sums[r.lowerBound * stride + c.lowerBound]
                values[y * width + x] = Float(count) / Float(r.count * c.count)
            }
        }
        return values
    }
}

/// How `zflow train` resizes a mask to the logits' size for the loss.
public enum MaskResize: String, CaseIterable, Sendable {
    /// A 0/1 target sampled at each cell's top-left source pixel (the reference's).
    case nearest
    /// Each cell's foreground fraction, a soft target centred on its cell.
    case area
}
