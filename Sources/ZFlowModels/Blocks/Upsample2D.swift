import ZFlowTensor

/// Matches diffusers `Upsample2D` with `use_conv=True`: nearest 2x, then a 3x3 convolution (`conv`).
struct Upsample2D: Sendable {
    let conv: Conv2d

    init(_ weights: WeightReader, channels: Int) throws {
        conv = try Conv2d(weights.scoped("conv"), inChannels: channels, outChannels: channels, kernelSize: 3, padding: 1)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try conv(upsampleNearest2x(x)) }
}
