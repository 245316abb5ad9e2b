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

extension ZNet {
    /// The head as an upsampler, for training from scratch (`zflow train --head-init upsampler`):
    /// each 3x3 convolution twice the identity (centre tap 2), each ConvT(k2, s2) twice a nearest
    /// x2 upsampling (all four taps 2), biases zero but the last, `logitBias`. Keys under `final.`.
    ///
    /// Why: the head is a 1-channel chain through seven SiLUs, and SiLU is bounded below (-0.278).
    /// PyTorch's default draw gives each stage a random sign; two negative stages in a row turn
    /// the bound into a ceiling on the logits (a demo run's stayed below 0.41 everywhere, so no
    /// pixel ever passed p = 0.6). With every stage positive the chain is increasing wherever the
    /// UNet's output is above SiLU's minimum (-1.278; every later stage's input is then above
    /// -0.56) and has no ceiling; a gain of 2 over SiLU's slope of 1/2 at zero passes gradients
    /// unscaled; and `logitBias` (the foreground prior's logit, as RetinaNet starts its
    /// classifier) starts the loss at its constant optimum.
    public static func upsamplingHead(logitBias: Float) -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for index in [0, 4, 8, 12] {
            var kernel = [Float](repeating: 0, count: 9)
            kernel[4] = 2
            tensors["final.\(index).weight"] = Tensor(shape: [1, 1, 3, 3], scalars: kernel)
            tensors["final.\(index).bias"] = Tensor(shape: [1], scalars: [index == 12 ? logitBias : 0])
        }
        for index in [2, 6, 10] {
            tensors["final.\(index).weight"] = Tensor(repeating: 2, shape: [1, 1, 2, 2])
            tensors["final.\(index).bias"] = Tensor(zeros: [1])
        }
        return tensors
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
