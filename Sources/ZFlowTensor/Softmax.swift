import CDNNL

/// Matches `torch.softmax(x, dim=-1)`: max-subtracted, so large magnitudes do not overflow. Runs on
/// the backend the tuner chose for this shape: ZFlow's own kernel or oneDNN's softmax primitive.
/// They differ only on rows holding NaN or +inf: all NaN here and in PyTorch, while oneDNN 2.6
/// gives NaN only at those values and 0 elsewhere (such rows are already broken; finite rows,
/// -inf masks and all -inf rows agree, docs/parity.md).
public func softmax(_ x: Tensor) -> Tensor {
    let timing = timeOp("softmax")
    defer { timing?.stop() }
    let width = x.rank == 0 ? 1 : x.shape[x.rank - 1], rows = x.count / max(width, 1)
    let result = tunedKernel(.softmax, shape: rowsKey(rows, width), work: streamingWork(x.count), own: {
        let result = x.copied()
        let values = result.mutablePointer
        parallelRanges(rows, costPerItem: width * 4) { rows in
            for row in rows { softmaxInPlace(values + row * width, count: width) }
        }
        return result
    }, onednn: {
        let result = Tensor(uninitialized: x.shape)
        return zflow_dnnl_softmax(rows, width, x.pointer, result.mutablePointer) == 0 ? result : nil
    })
    GradientTape.note("softmax", inputs: [x], output: result, pullback: softmaxBackward(result))
    return result
}

/// Replaces `count` values by their softmax, optionally scaling them by `scale` (> 0) first.
/// A row without a finite maximum (all -inf, or +inf, or NaN) gives NaN, as in PyTorch.
func softmaxInPlace(_ values: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
    guard count > 0 else { return }
    let peak = maximum(values, count: count)
    guard peak.isFinite else {
        values.update(repeating: .nan, count: count)
        return
    }
    let total = expInPlace(values, count: count, subtracting: peak, scale: scale)
    affine(values, scale: 1 / total, shift: 0, into: values, count: count)
}
