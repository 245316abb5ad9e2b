/// Matches `torch.nn.functional.conv_transpose2d` (groups 1, dilation 1, output_padding 0):
/// x [N,Cin,H,W], weight [Cin,Cout,kh,kw], bias [Cout] -> [N,Cout,(H-1)s-2p+kh,(W-1)s-2p+kw].
///
/// One sgemm gives every input pixel's contribution (weightᵀ x input), which is then
/// scattered into the output (col2im), a band of input rows at a time.
public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int = 0) throws -> Tensor {
    try convTranspose2d(x, weight: weight, bias: bias, stride: stride, padding: padding, bufferFloats: im2colBudget)
}

/// `convTranspose2d` with the contribution buffer limited to `bufferFloats` (tests use small limits).
func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int, bufferFloats: Int) throws -> Tensor {
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
    let inChannels = x.shape[1], outChannels = g.channels
    if let bias, bias.shape != [outChannels] {
        throw ShapeError("convTranspose2d", "bias \(bias.shape) does not match weight \(weight.shape)")
    }
    let batch = x.shape[0]
    let inputPlane = g.height * g.width, outputPlane = outHeight * outWidth
    let result = Tensor(uninitialized: [batch, outChannels, outHeight, outWidth])
    let rowsPerBand = max(1, min(g.height, bufferFloats / max(1, g.patchSize * g.width)))
    let contributions = allocateFloats(g.patchSize * rowsPerBand * g.width)
    defer { contributions.deallocate() }
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
    return result
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
