/// Matches `torch.nn.functional.linear`: x [..., in] x weightᵀ + bias -> [..., out],
/// with `weight` in PyTorch layout [out, in].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
    let timing = timeOp("linear")
    defer { timing?.stop() }
    guard x.rank >= 1, weight.rank == 2, x.shape[x.rank - 1] == weight.shape[1] else {
        throw ShapeError("linear", "input \(x.shape) does not match weight \(weight.shape) ([out, in])")
    }
    let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
    if let bias, bias.shape != [outFeatures] {
        throw ShapeError("linear", "bias \(bias.shape) does not match weight \(weight.shape)")
    }
    let rows = x.count / max(inFeatures, 1)
    let result = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
    if let bias { fillRows(result.mutablePointer, rows: rows, with: bias.pointer, count: outFeatures) }
    sgemm(m: rows, n: outFeatures, k: inFeatures,
          a: x.pointer, lda: inFeatures,
          b: weight.pointer, ldb: inFeatures, transposeB: true,
          c: result.mutablePointer, ldc: outFeatures, beta: bias == nil ? 0 : 1)
    GradientTape.note("linear", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: result,
                      pullback: linearBackward(x, weight: weight, hasBias: bias != nil))
    return result
}

/// Writes `values` (length `count`) into each of `rows` consecutive rows.
func fillRows(_ destination: UnsafeMutablePointer<Float>, rows: Int, with values: UnsafePointer<Float>, count: Int) {
    for row in 0..<rows { (destination + row * count).update(from: values, count: count) }
}
