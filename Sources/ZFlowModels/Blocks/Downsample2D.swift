import ZFlowTensor

/// Matches diffusers `Downsample2D` with `use_conv=True`: a 3x3 stride-2 convolution (`conv`).
/// With `padding: 0` (the VAE encoder) diffusers first pads zeros on the right and bottom only.
struct Downsample2D: Sendable {
    let conv: Conv2d
    let padsRightAndBottom: Bool

    init(_ weights: WeightReader, channels: Int, padding: Int) throws {
        conv = try Conv2d(weights.scoped("conv"), inChannels: channels, outChannels: channels, kernelSize: 3,
                          stride: 2, padding: padding)
        padsRightAndBottom = padding == 0
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv(padsRightAndBottom ? zeroPaddedRightAndBottom(x) : x)
    }
}

/// [B, C, H, W] -> [B, C, H + 1, W + 1] with a zero last row and column. Built from `concat`
/// (recorded on a `GradientTape`) so that gradients flow through it.
private func zeroPaddedRightAndBottom(_ x: Tensor) throws -> Tensor {
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let wider = try concat([x, Tensor(zeros: [batch, channels, height, 1])], axis: 3)
    return try concat([wider, Tensor(zeros: [batch, channels, 1, width + 1])], axis: 2)
}
