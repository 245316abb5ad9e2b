// Pullbacks of the elementwise ops (Elementwise.swift) and the sums their broadcasts need.

func addBackward() -> GradientTape.Pullback {
    { gradient, _ in [gradient, gradient] }
}

func subBackward() -> GradientTape.Pullback {
    { gradient, needed in [gradient, needed[1] ? scaled(gradient, by: -1) : nil] }
}

func mulBackward(_ a: Tensor, _ b: Tensor) -> GradientTape.Pullback {
    { gradient, needed in
        [needed[0] ? try mul(gradient, b) : nil, needed[1] ? try mul(gradient, a) : nil]
    }
}

func channelBiasBackward(perSample: Bool) -> GradientTape.Pullback {
    { gradient, needed in
        [gradient, needed[1] ? (perSample ? planeSums(gradient) : channelSums(gradient)) : nil]
    }
}

/// y was added to each of `repeats` consecutive blocks of x: dy is the sum of the blocks.
func broadcastAddBackward(_ shape: [Int], repeats: Int) -> GradientTape.Pullback {
    { gradient, needed in
        let size = Tensor.elementCount(shape)
        return [gradient, needed[1] ? try columnSums(gradient.pointer, rows: repeats, columns: size).reshaped(shape) : nil]
    }
}

func scaledBackward(_ factor: Float) -> GradientTape.Pullback {
    { gradient, _ in [scaled(gradient, by: factor)] }
}

/// The sum of `g` [N, C, ...] over every dimension but 1: [C]. Parallel over channels, each summed
/// in a fixed order (planes in order of N), so the result does not depend on the thread count.
func channelSums(_ g: Tensor) -> Tensor {
    let batch = g.shape[0], channels = g.shape[1]
    let inner = g.shape.dropFirst(2).reduce(1, *)
    let result = Tensor(uninitialized: [channels])
    let source = g.pointer, destination = result.mutablePointer
    parallelRanges(channels, costPerItem: batch * inner) { range in
        for channel in range {
            var total: Float = 0
            for item in 0..<batch { total += sum(source + (item * channels + channel) * inner, count: inner) }
            destination[channel] = total
        }
    }
    return result
}

/// The sum of each plane of `g` [N, C, ...]: [N, C], parallel over planes.
func planeSums(_ g: Tensor) -> Tensor {
    let planes = g.shape[0] * g.shape[1], inner = g.shape.dropFirst(2).reduce(1, *)
    let result = Tensor(uninitialized: [g.shape[0], g.shape[1]])
    let source = g.pointer, destination = result.mutablePointer
    parallelRanges(planes, costPerItem: inner) { range in
        for plane in range { destination[plane] = sum(source + plane * inner, count: inner) }
    }
    return result
}

/// The sum of the rows of `values` [rows, columns]: [columns], rows added in order, parallel over
/// column ranges (deterministic).
func columnSums(_ values: UnsafePointer<Float>, rows: Int, columns: Int) -> Tensor {
    let result = Tensor(zeros: [columns])
    let destination = result.mutablePointer
    parallelRanges(columns, costPerItem: rows) { range in
        for row in 0..<rows {
            let source = values + row * columns
            for column in range { destination[column] += source[column] }
        }
    }
    return result
}

/// A fresh tensor with `function(a[i...i+15], b[i...i+15])` for same-shaped a and b, on both cores when large.
func zipMap(_ a: Tensor, _ b: Tensor, _ function: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>) -> Tensor {
    precondition(a.shape == b.shape, "zipMap: \(a.shape) and \(b.shape) differ")
    let result = Tensor(uninitialized: a.shape)
    let left = a.pointer, right = b.pointer, destination = result.mutablePointer
    parallelRanges(a.count, costPerItem: 4) { range in
        let first = left + range.lowerBound, second = right + range.lowerBound
        transform(first, count: range.count, into: destination + range.lowerBound) { values, index in
            function(values, load16Padded(second + index, available: range.count - index))
        }
    }
    return result
}
