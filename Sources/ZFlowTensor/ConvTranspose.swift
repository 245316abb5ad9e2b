import CDNNL

/// Matches `torch.nn.functional.conv_transpose2d` (groups 1, dilation 1, output_padding 0):
/// x [N,Cin,H,W], weight [Cin,Cout,kh,kw], bias [Cout] -> [N,Cout,(H-1)s-2p+kh,(W-1)s-2p+kw].
///
/// Runs on the backend the tuner chose for this shape (KernelTuner): oneDNN's deconvolution, or
/// ZFlow's own: one sgemm gives every input pixel's contribution (weightᵀ x input), which is then
/// scattered into the output (col2im), a band of input rows at a time.
public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int = 0) throws -> Tensor {
    let timing = timeOp("conv-transpose")
    defer { timing?.stop() }
    let (g, outHeight, outWidth) = try transposedGeometry(x, weight: weight, bias: bias, stride: stride, padding: padding)
    let outputShape = [x.shape[0], g.channels, outHeight, outWidth]
    let result = tunedKernel(.convTranspose2d,
                             shape: convolutionKey(x, weight, stride: stride, padding: padding, bias: bias != nil),
                             work: x.count * g.patchSize, own: {
        let output = Tensor(uninitialized: outputShape)
        ownConvTranspose2d(x, weight: weight, bias: bias, geometry: g, bufferFloats: im2colBudget, into: output)
        return output
    }, onednn: {
        let output = Tensor(uninitialized: outputShape)
        return zflow_dnnl_deconv2d(x.shape[0], x.shape[1], g.height, g.width, g.channels, g.kernelHeight, g.kernelWidth,
                                   stride, padding, x.pointer, weight.pointer, bias?.pointer, output.mutablePointer) == 0
            ? output : nil
    })
    GradientTape.note("convTranspose2d", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: result,
                      pullback: convTranspose2dBackward(x, weight: weight, hasBias: bias != nil, stride: stride, padding: padding))
    return result
}

/// ZFlow's own `convTranspose2d` with the contribution buffer limited to `bufferFloats` (tests use small limits).
func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int, bufferFloats: Int) throws -> Tensor {
    let (g, outHeight, outWidth) = try transposedGeometry(x, weight: weight, bias: bias, stride: stride, padding: padding)
    let result = Tensor(uninitialized: [x.shape[0], g.channels, outHeight, outWidth])
    ownConvTranspose2d(x, weight: weight, bias: bias, geometry: g, bufferFloats: bufferFloats, into: result)
    return result
}

/// The geometry (`channels` = output channels) and output size, or the shape error.
private func transposedGeometry(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int,
                                padding: Int) throws -> (ConvGeometry, height: Int, width: Int) {
    guard x.rank == 4, weight.rank == 4, x.shape[1] == weight.shape[0] else {
        throw ShapeError("convTranspose2d", "input \(x.shape) ([N,Cin,H,W]) does not match weight \(weight.shape) ([Cin,Cout,kh,kw])")
    }
    let g = ConvGeometry(channels: weight.shape[1], height: x.shape[2], width: x.shape[3],
                         kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
    let outHeight = (g.height - 1) * stride - 2 * padding + g.kernelHeight
    let outWidth = (g.width - 1) * stride - 2 * padding + g.kernelWidth
    guard stride >= 1, padding >= 0, outHeight > 0, outWidth > 0 else {
        throw ShapeError("convTranspose2d", "input \(x.shape) with weight \(weight.shape), stride \(stride), padding \(padding) gives no output")
    }
    if let bias, bias.shape != [g.channels] {
        throw ShapeError("convTranspose2d", "bias \(bias.shape) does not match weight \(weight.shape)")
    }
    return (g, outHeight, outWidth)
}

func ownConvTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry,
                                bufferFloats: Int, into result: Tensor) {
    let inChannels = x.shape[1], outChannels = g.channels
    let outHeight = result.shape[2], outWidth = result.shape[3]
    let batch = x.shape[0]
    let inputPlane = g.height * g.width, outputPlane = outHeight * outWidth
    let rowsPerBand = max(1, min(g.height, bufferFloats / max(1, g.patchSize * g.width)))
    let contributions = allocateFloats(g.patchSize * rowsPerBand * g.width)
    defer { releaseFloats(contributions) }
    for item in 0..<batch {
        let input = x.pointer + item * inChannels * inputPlane
        let output = result.mutablePointer + item * outChannels * outputPlane
        for channel in 0..<outChannels {
            (output + channel * outputPlane).update(repeating: bias?.pointer[channel] ?? 0, count: outputPlane)
        }
        var firstRow = 0
        while firstRow < g.height {
            let rows = min(rowsPerBand, g.height - firstRow)
            sgemm(m: g.patchSize, n: rows * g.width, k: inChannels,
                  a: weight.pointer, lda: g.patchSize, transposeA: true,
                  b: input + firstRow * g.width, ldb: inputPlane,
                  c: contributions, ldc: rows * g.width)
            scatter(contributions, geometry: g, inputRows: firstRow..<(firstRow + rows),
                    into: output, outHeight: outHeight, outWidth: outWidth)
            firstRow += rows
        }
    }
}

/// col2im: output[co, ih*s - p + i, iw*s - p + j] += contributions[(co*kh + i)*kw + j][r*W + iw].
private func scatter(_ contributions: UnsafePointer<Float>, geometry g: ConvGeometry, inputRows: Range<Int>,
                     into output: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int) {
    let bandWidth = inputRows.count * g.width
    let kernelArea = g.kernelHeight * g.kernelWidth
    parallelRanges(g.channels, costPerItem: kernelArea * bandWidth) { channels in
        for channel in channels {
            let plane = output + channel * outHeight * outWidth
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    var source = contributions + ((channel * g.kernelHeight + i) * g.kernelWidth + j) * bandWidth
                    for inputRow in inputRows {
                        let outRow = inputRow * g.stride - g.padding + i
                        if outRow >= 0 && outRow < outHeight {
                            let destination = plane + outRow * outWidth
                            for inputColumn in 0..<g.width {
                                let outColumn = inputColumn * g.stride - g.padding + j
                                if outColumn >= 0 && outColumn < outWidth { destination[outColumn] += source[inputColumn] }
                            }
                        }
                        source += g.width
                    }
                }
            }
        }
    }
}
