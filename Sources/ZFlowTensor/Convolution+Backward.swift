import CDNNL

/// conv2d's pullback: dx is the transposed convolution of g (whose output size is x's, so rows the
/// forward's floor dropped get zeros), dW = sum over images of g [O, Ho*Wo] x unfold(x)ᵀ, db = the
/// channel sums of g. dx and dW(+db) each run on the backend the tuner chose for them.
func conv2dBackward(_ x: Tensor, weight: Tensor, hasBias: Bool, stride: Int, padding: Int) -> GradientTape.Pullback {
    { gradient, needed in
        let geometry = ConvGeometry(channels: x.shape[1], height: x.shape[2], width: x.shape[3],
                                    kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
        let work = gradient.count * geometry.patchSize
        let inputGradient = needed[0]
            ? conv2dInputGradient(gradient, x: x, weight: weight, geometry: geometry, work: work) : nil
        let (weightGradient, biasGradient) = parameterGradients(
            .conv2dBackwardWeights, x: x, weight: weight, stride: stride, padding: padding, gradient: gradient,
            work: work, hasBias: hasBias, needed: needed,
            own: { unfoldedProducts(gradient, times: x, geometry: geometry, shape: weight.shape) },
            onednn: { dW, db in
                zflow_dnnl_conv2d_backward_weights(x.shape[0], geometry.channels, geometry.height, geometry.width,
                                                   weight.shape[0], geometry.kernelHeight, geometry.kernelWidth, stride,
                                                   padding, x.pointer, gradient.pointer, dW, db) == 0
            })
        return hasBias ? [inputGradient, weightGradient, biasGradient] : [inputGradient, weightGradient]
    }
}

/// conv2d's dx on the tuned backend: oneDNN's backward-data convolution, or ZFlow's col2im path.
private func conv2dInputGradient(_ gradient: Tensor, x: Tensor, weight: Tensor, geometry g: ConvGeometry, work: Int) -> Tensor {
    tunedKernel(.conv2dBackwardData, shape: convolutionKey(x, weight, stride: g.stride, padding: g.padding, bias: false),
                work: work, own: {
        let transposed = ConvGeometry(channels: g.channels, height: g.outputHeight, width: g.outputWidth,
                                      kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, stride: g.stride, padding: g.padding)
        let dx = Tensor(uninitialized: x.shape)
        ownConvTranspose2d(gradient, weight: weight, bias: nil, geometry: transposed, bufferFloats: im2colBudget, into: dx)
        return dx
    }, onednn: {
        let dx = Tensor(uninitialized: x.shape)
        return zflow_dnnl_conv2d_backward_data(x.shape[0], g.channels, g.height, g.width, weight.shape[0], g.kernelHeight,
                                               g.kernelWidth, g.stride, g.padding, gradient.pointer, weight.pointer,
                                               dx.mutablePointer) == 0 ? dx : nil
    })
}

/// dW, and db when the op has a bias, of a convolution or a transposed one (x, weight, stride and
/// padding are its forward's), as far as `needed` asks, on the backend the tuner chose for `op`:
/// `own()` is dW by ZFlow's kernels (db is then the channel sums of g); `onednn(dW, db)` runs
/// oneDNN's primitive into them, db too unless it is nil.
func parameterGradients(_ op: KernelOp, x: Tensor, weight: Tensor, stride: Int, padding: Int, gradient: Tensor,
                        work: Int, hasBias: Bool, needed: [Bool], own: () -> Tensor,
                        onednn: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?) -> Bool) -> (Tensor?, Tensor?) {
    let withBias = hasBias && needed[2]
    guard needed[1] else { return (nil, withBias ? channelSums(gradient) : nil) }
    return tunedKernel(op, shape: convolutionKey(x, weight, stride: stride, padding: padding, bias: withBias), work: work,
                       own: { (own(), withBias ? channelSums(gradient) : nil) },
                       onednn: {
        let dW = Tensor(uninitialized: weight.shape)
        let db = withBias ? Tensor(uninitialized: [gradient.shape[1]]) : nil
        return onednn(dW.mutablePointer, db?.mutablePointer) ? (dW, db) : nil
    })
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
