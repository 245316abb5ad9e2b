import CDNNL

/// From the output y of a softmax over the last dimension: dx = y (g - sum(g y)) per row, on the
/// backend the tuner chose for this shape (ZFlow's own kernel or oneDNN's softmax backward).
func softmaxBackward(_ y: Tensor) -> GradientTape.Pullback {
    { gradient, _ in
        let width = y.rank == 0 ? 1 : y.shape[y.rank - 1], rows = y.count / max(width, 1)
        return [tunedKernel(.softmaxBackward, shape: rowsKey(rows, width), work: streamingWork(y.count), own: {
            let result = Tensor(uninitialized: y.shape)
            let values = y.pointer, upstream = gradient.pointer, destination = result.mutablePointer
            parallelRanges(rows, costPerItem: width * 3) { rows in
                for row in rows {
                    softmaxRowBackward(values + row * width, upstream + row * width, count: width,
                                       scale: 1, into: destination + row * width)
                }
            }
            return result
        }, onednn: {
            let result = Tensor(uninitialized: y.shape)
            return zflow_dnnl_softmax_backward(rows, width, y.pointer, gradient.pointer, result.mutablePointer) == 0
                ? result : nil
        })]
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
