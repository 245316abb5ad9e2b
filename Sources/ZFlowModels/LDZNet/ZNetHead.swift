import ZFlowTensor

/// The part of LD-ZNet's output head after the UNet's `out.0-2` (spec section 8): SiLU (`out.3`),
/// then `final` = Conv3x3, SiLU, ConvT(k2, s2), SiLU, Conv3x3, SiLU, ConvT, SiLU, Conv3x3, SiLU,
/// ConvT, SiLU, Conv3x3, all 1 -> 1 channel: [B, 1, h, w] -> logits [B, 1, 8h, 8w], no activation.
/// Keys: `final.{0,4,8,12}.{weight [1,1,3,3], bias}`, `final.{2,6,10}.{weight [in,out,2,2] = [1,1,2,2], bias}`.
struct ZNetHead: Sendable {
    let convolutions: [Conv2d]
    let upsamplers: [ConvTranspose2x2]

    init(_ weights: WeightReader) throws {
        convolutions = try [0, 4, 8, 12].map {
            try Conv2d(weights.scoped("\($0)"), inChannels: 1, outChannels: 1, kernelSize: 3, padding: 1)
        }
        upsamplers = try [2, 6, 10].map { try ConvTranspose2x2(weights.scoped("\($0)")) }
    }

    /// `x`: the UNet's `conv_out` output [B, 1, h, w].
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = silu(x)
        for (convolution, upsampler) in zip(convolutions, upsamplers) {
            h = try silu(upsampler(silu(convolution(h))))
        }
        return try convolutions[3](h)
    }
}

/// `torch.nn.ConvTranspose2d(1, 1, kernel_size=2, stride=2)`: weight [in, out, 2, 2], bias [out].
struct ConvTranspose2x2: Sendable {
    let weight: Tensor
    let bias: Tensor

    init(_ weights: WeightReader) throws {
        weight = try weights("weight", shape: [1, 1, 2, 2])
        bias = try weights("bias", shape: [1])
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try convTranspose2d(x, weight: weight, bias: bias, stride: 2)
    }
}
