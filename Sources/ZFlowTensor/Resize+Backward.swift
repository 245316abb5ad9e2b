/// upsampleNearest2x's pullback: each input value receives the sum of its 2x2 block.
func upsampleNearest2xBackward(_ inputShape: [Int]) -> GradientTape.Pullback {
    { gradient, _ in
        let width = inputShape[inputShape.count - 1]
        let result = Tensor(uninitialized: inputShape)
        let source = gradient.pointer, destination = result.mutablePointer
        parallelRanges(result.count / max(width, 1), costPerItem: 4 * width) { rows in
            for row in rows {
                let top = source + row * 4 * width, bottom = top + 2 * width
                let output = destination + row * width
                for column in 0..<width {
                    output[column] = (top[2 * column] + top[2 * column + 1]) + (bottom[2 * column] + bottom[2 * column + 1])
                }
            }
        }
        return [result]
    }
}

/// resizeBicubic's pullback: the transposed passes in reverse order (vertical, then horizontal),
/// each output value's gradient scattered onto its four taps.
func resizeBicubicBackward(_ inputShape: [Int], height: Int, width: Int) -> GradientTape.Pullback {
    { gradient, _ in
        let inHeight = inputShape[2], inWidth = inputShape[3]
        let columnTaps = CubicTaps(inputSize: inWidth, outputSize: width)
        let rowTaps = CubicTaps(inputSize: inHeight, outputSize: height)
        let result = Tensor(zeros: inputShape)
        let source = gradient.pointer, destination = result.mutablePointer
        parallelRanges(inputShape[0] * inputShape[1], costPerItem: 8 * (inHeight + height) * width) { planes in
            let rowsGradient = allocateFloats(inHeight * width)
            defer { releaseFloats(rowsGradient) }
            for plane in planes {
                rowsGradient.update(repeating: 0, count: inHeight * width)
                let upstream = source + plane * height * width
                for column in 0..<width {
                    rowTaps.scatter(upstream + column, stride: width, into: rowsGradient + column, outputStride: width)
                }
                let output = destination + plane * inHeight * inWidth
                for row in 0..<inHeight {
                    columnTaps.scatter(rowsGradient + row * width, stride: 1, into: output + row * inWidth, outputStride: 1)
                }
            }
        }
        return [result]
    }
}

extension CubicTaps {
    /// The transpose of `apply`: output[tap index] += input[position] * tap weight (output zeroed by the caller).
    func scatter(_ input: UnsafePointer<Float>, stride: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int) {
        for position in 0..<outputSize {
            let value = input[position * stride]
            for tap in 0..<4 {
                output[indices[4 * position + tap] * outputStride] += value * weights[4 * position + tap]
            }
        }
    }
}
