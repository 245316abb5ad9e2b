/// conv2d's pullback: dx is the transposed convolution of g (ZFlow's col2im path, whose output
/// size is x's, so rows the forward's floor dropped get zeros), dW = sum over images of
/// g [O, Ho*Wo] x unfold(x)ᵀ, db = the channel sums of g.
func conv2dBackward(_ x: Tensor, weight: Tensor, hasBias: Bool, stride: Int, padding: Int) -> GradientTape.Pullback {
    { gradient, needed in
        let geometry = ConvGeometry(channels: x.shape[1], height: x.shape[2], width: x.shape[3],
                                    kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
        var inputGradient: Tensor?
        if needed[0] {
            let transposed = ConvGeometry(channels: geometry.channels, height: geometry.outputHeight,
                                          width: geometry.outputWidth, kernelHeight: geometry.kernelHeight,
                                          kernelWidth: geometry.kernelWidth, stride: stride, padding: padding)
            let dx = Tensor(uninitialized: x.shape)
            ownConvTranspose2d(gradient, weight: weight, bias: nil, geometry: transposed, bufferFloats: im2colBudget, into: dx)
            inputGradient = dx
        }
        let weightGradient = needed[1]
            ? unfoldedProducts(gradient, times: x, geometry: geometry, shape: weight.shape) : nil
        let biasGradient = hasBias && needed[2] ? channelSums(gradient) : nil
        return hasBias ? [inputGradient, weightGradient, biasGradient] : [inputGradient, weightGradient]
    }
}

/// The sum over images n of left[n] [R, P] x unfold(source[n])ᵀ [P, patch], with P the output
/// pixels of `geometry` on `source`: the weight gradient of a convolution (left = g, source = x)
/// and of a transposed one (left = x, source = g). Images and bands are added in order.
func unfoldedProducts(_ left: Tensor, times source: Tensor, geometry g: ConvGeometry, shape: [Int]) -> Tensor {
    let rows = left.shape[1], pixels = g.outputHeight * g.outputWidth
    precondition(left.shape[2] * left.shape[3] == pixels, "unfoldedProducts: \(left.shape) does not match \(g)")
    let result = Tensor(uninitialized: shape)
    let rowsPerBand = max(1, min(g.outputHeight, im2colBudget / max(1, g.patchSize * g.outputWidth)))
    let columns = g.isPointwise ? nil : allocateFloats(g.patchSize * rowsPerBand * g.outputWidth)
    defer { if let columns { releaseFloats(columns) } }
    var first = true
    for item in 0..<left.shape[0] {
        let image = source.pointer + item * g.channels * g.height * g.width
        let factor = left.pointer + item * rows * pixels
        guard let columns else {
            sgemm(m: rows, n: g.patchSize, k: pixels, a: factor, lda: pixels, b: image, ldb: pixels, transposeB: true,
                  c: result.mutablePointer, ldc: g.patchSize, beta: first ? 0 : 1)
            first = false
            continue
        }
        var firstRow = 0
        while firstRow < g.outputHeight {
            let bandRows = min(rowsPerBand, g.outputHeight - firstRow)
            let bandWidth = bandRows * g.outputWidth
            unfold(image, geometry: g, outputRows: firstRow..<(firstRow + bandRows), into: columns)
            sgemm(m: rows, n: g.patchSize, k: bandWidth, a: factor + firstRow * g.outputWidth, lda: pixels,
                  b: columns, ldb: bandWidth, transposeB: true, c: result.mutablePointer, ldc: g.patchSize,
                  beta: first ? 0 : 1)
            first = false
            firstRow += bandRows
        }
    }
    return result
}
