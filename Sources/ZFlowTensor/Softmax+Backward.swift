/// From the output y of a softmax over the last dimension: dx = y (g - sum(g y)) per row. ZFlow's
/// own on every backend: oneDNN 2.6's softmax backward has no JIT kernel below AVX-512 (its
/// reference one ran at 0.06-0.14x of this one on AVX2; docs/benchmarks.md).
func softmaxBackward(_ y: Tensor) -> GradientTape.Pullback {
    { gradient, _ in
        let width = y.rank == 0 ? 1 : y.shape[y.rank - 1]
        let result = Tensor(uninitialized: y.shape)
        let values = y.pointer, upstream = gradient.pointer, destination = result.mutablePointer
        parallelRanges(y.count / max(width, 1), costPerItem: width * 3) { rows in
            for row in rows {
                softmaxRowBackward(values + row * width, upstream + row * width, count: width,
                                   scale: 1, into: destination + row * width)
            }
        }
        return [result]
    }
}

/// destination = scale * y (g - sum(g y)) for one row of `count` values (it may alias `gradient`).
func softmaxRowBackward(_ y: UnsafePointer<Float>, _ gradient: UnsafePointer<Float>, count: Int, scale: Float,
                        into destination: UnsafeMutablePointer<Float>) {
    var lanes = SIMD16<Float>(repeating: 0)
    var index = 0
    while index + 16 <= count {
        lanes += load16(y + index) * load16(gradient + index)
        index += 16
    }
    var dot = lanes.sum()
    for tail in index..<count { dot += y[tail] * gradient[tail] }
    for position in 0..<count { destination[position] = scale * y[position] * (gradient[position] - dot) }
}
