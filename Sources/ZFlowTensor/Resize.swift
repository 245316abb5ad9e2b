/// Matches `torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")`:
/// [N,C,H,W] -> [N,C,2H,2W] (any leading dimensions), each value copied into a 2x2 block.
public func upsampleNearest2x(_ x: Tensor) -> Tensor {
    let timing = timeOp("resize")
    defer { timing?.stop() }
    precondition(x.rank >= 2, "upsampleNearest2x needs [..., H, W], got \(x.shape)")
    let height = x.shape[x.rank - 2], width = x.shape[x.rank - 1]
    let planes = x.shape.dropLast(2).reduce(1, *)
    let result = Tensor(uninitialized: x.shape.dropLast(2) + [2 * height, 2 * width])
    let source = x.pointer, destination = result.mutablePointer
    parallelRanges(planes * height, costPerItem: 4 * width) { rows in
        for row in rows {
            let input = source + row * width
            let output = destination + row * 4 * width
            for column in 0..<width {
                output[2 * column] = input[column]
                output[2 * column + 1] = input[column]
            }
            (output + 2 * width).update(from: output, count: 2 * width)
        }
    }
    GradientTape.note("upsampleNearest2x", inputs: [x], output: result, pullback: upsampleNearest2xBackward(x.shape))
    return result
}

/// Matches `torch.nn.functional.interpolate(x, size=(height, width), mode="bicubic",
/// align_corners=False)` (no antialiasing): cubic convolution with A = -0.75, source
/// coordinate (dst + 0.5) * in/out - 0.5, taps clamped to the border. x is [N,C,H,W].
public func resizeBicubic(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
    let timing = timeOp("resize")
    defer { timing?.stop() }
    guard x.rank == 4, x.shape[2] > 0, x.shape[3] > 0, height > 0, width > 0 else {
        throw ShapeError("resizeBicubic", "cannot resize \(x.shape) ([N,C,H,W]) to \(height)x\(width)")
    }
    let inHeight = x.shape[2], inWidth = x.shape[3]
    let planes = x.shape[0] * x.shape[1]
    let columnTaps = CubicTaps(inputSize: inWidth, outputSize: width)
    let rowTaps = CubicTaps(inputSize: inHeight, outputSize: height)
    let result = Tensor(uninitialized: [x.shape[0], x.shape[1], height, width])
    let source = x.pointer, destination = result.mutablePointer
    parallelRanges(planes, costPerItem: 8 * (inHeight + height) * width) { planeRange in
        // Horizontal pass into [inHeight, width], then vertical, as PyTorch orders the sums.
        let rowsResized = allocateFloats(inHeight * width)
        defer { releaseFloats(rowsResized) }
        for plane in planeRange {
            let input = source + plane * inHeight * inWidth
            for row in 0..<inHeight {
                columnTaps.apply(input + row * inWidth, stride: 1, into: rowsResized + row * width, outputStride: 1)
            }
            let output = destination + plane * height * width
            for column in 0..<width {
                rowTaps.apply(rowsResized + column, stride: width, into: output + column, outputStride: width)
            }
        }
    }
    GradientTape.note("resizeBicubic", inputs: [x], output: result,
                      pullback: resizeBicubicBackward(x.shape, height: height, width: width))
    return result
}

/// The four source indices and weights of each output position along one axis.
struct CubicTaps {
    let outputSize: Int
    var indices: [Int] = []
    var weights: [Float] = []

    init(inputSize: Int, outputSize: Int) {
        self.outputSize = outputSize
        let scale = Float(inputSize) / Float(outputSize)
        let a: Float = -0.75
        for position in 0..<outputSize {
            let real = scale * (Float(position) + 0.5) - 0.5
            let floor = real.rounded(.down)
            let t = real - floor
            let base = Int(floor)
            for tap in 0..<4 { indices.append(min(max(base - 1 + tap, 0), inputSize - 1)) }
            let nearWeight = { (d: Float) in ((a + 2) * d - (a + 3)) * d * d + 1 }
            let farWeight = { (d: Float) in ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
            weights += [farWeight(t + 1), nearWeight(t), nearWeight(1 - t), farWeight(2 - t)]
        }
    }

    func apply(_ input: UnsafePointer<Float>, stride: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int) {
        for position in 0..<outputSize {
            var value: Float = 0
            for tap in 0..<4 {
                value += input[indices[4 * position + tap] * stride] * weights[4 * position + tap]
            }
            output[position * outputStride] = value
        }
    }
}
