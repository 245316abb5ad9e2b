import Foundation
import ZFlowTensor

/// The diagonal Gaussian the VAE encoder predicts for each latent value.
/// Matches diffusers `DiagonalGaussianDistribution` (logvar clamped to [-30, 20]).
public struct VAEPosterior: Sendable {
    /// [B, latent_channels, h, w]
    public let mean: Tensor
    /// [B, latent_channels, h, w], clamped to [-30, 20].
    public let logvar: Tensor

    public enum LatentMode: Sendable {
        /// The posterior mean (deterministic).
        case mean
        /// `mean + exp(0.5 * logvar) * noise`, noise shaped like `mean` (e.g. seeded torch-compatible randn).
        case sample(noise: Tensor)
    }

    /// The latent the UNet sees: the chosen point of the posterior times `scaleFactor`
    /// (`VAEEncoder.sdV1ScaleFactor` for SD v1).
    public func latent(_ mode: LatentMode, scaleFactor: Float) throws -> Tensor {
        switch mode {
        case .mean:
            return scaled(mean, by: scaleFactor)
        case let .sample(noise):
            guard noise.shape == mean.shape else {
                throw ShapeError("VAE sample", "noise \(noise.shape) does not match the latent \(mean.shape)")
            }
            let out = Tensor(uninitialized: mean.shape)
            let m = mean.pointer, l = logvar.pointer, n = noise.pointer, o = out.mutablePointer
            for i in 0..<out.count { o[i] = (m[i] + Foundation.exp(0.5 * l[i]) * n[i]) * scaleFactor }
            return out
        }
    }
}

/// Matches diffusers `AutoencoderKL.encode` (`Encoder` + `quant_conv`): an image in [-1, 1]
/// [B, 3, H, W] -> the posterior over the latent [B, 4, H/8, W/8] (SD v1).
public struct VAEEncoder: Sendable {
    /// The SD v1 latent scale factor (`scaling_factor` in diffusers, `scale_factor` in CompVis).
    public static let sdV1ScaleFactor: Float = 0.18215

    /// diffusers uses eps 1e-6 for every norm of the VAE.
    static let eps: Float = 1e-6

    public let config: VAEConfig
    let convIn: Conv2d
    let downBlocks: [(resnets: [ResnetBlock2D], downsampler: Downsample2D?)]
    let midFirstResnet: ResnetBlock2D
    let midAttention: SpatialSelfAttention
    let midSecondResnet: ResnetBlock2D
    let normOut: GroupNorm
    let convOut: Conv2d
    let quantConv: Conv2d
    /// Every weight the encoder computes with, by stored key (the same tensors, no copy), so
    /// gradients taken on a `GradientTape` can be asked for by key.
    public let parameters: [String: Tensor]

    public init(_ weights: WeightReader, config: VAEConfig) throws {
        try config.validate()
        self.config = config
        let encoder = weights.scoped("encoder")
        let channels = config.blockOutChannels, groups = config.normNumGroups
        convIn = try Conv2d(encoder.scoped("conv_in"), inChannels: config.inChannels, outChannels: channels[0],
                            kernelSize: 3, padding: 1)
        downBlocks = try (0..<config.levels).map { level in
            let block = encoder.scoped("down_blocks.\(level)")
            let inChannels = level == 0 ? channels[0] : channels[level - 1]
            let resnets = try (0..<config.layersPerBlock).map {
                try ResnetBlock2D(block.scoped("resnets.\($0)"), inChannels: $0 == 0 ? inChannels : channels[level],
                                  outChannels: channels[level], timeEmbeddingChannels: nil, groups: groups,
                                  eps: VAEEncoder.eps)
            }
            let downsampler = level == config.levels - 1 ? nil
                : try Downsample2D(block.scoped("downsamplers.0"), channels: channels[level], padding: 0)
            return (resnets, downsampler)
        }
        let top = channels[config.levels - 1]
        let mid = encoder.scoped("mid_block")
        midFirstResnet = try ResnetBlock2D(mid.scoped("resnets.0"), inChannels: top, outChannels: top,
                                           timeEmbeddingChannels: nil, groups: groups, eps: VAEEncoder.eps)
        midAttention = try SpatialSelfAttention(mid.scoped("attentions.0"), channels: top, groups: groups,
                                                eps: VAEEncoder.eps)
        midSecondResnet = try ResnetBlock2D(mid.scoped("resnets.1"), inChannels: top, outChannels: top,
                                            timeEmbeddingChannels: nil, groups: groups, eps: VAEEncoder.eps)
        normOut = try GroupNorm(encoder.scoped("conv_norm_out"), groups: groups, channels: top, eps: VAEEncoder.eps)
        convOut = try Conv2d(encoder.scoped("conv_out"), inChannels: top, outChannels: 2 * config.latentChannels,
                             kernelSize: 3, padding: 1)
        quantConv = try Conv2d(weights.scoped("quant_conv"), inChannels: 2 * config.latentChannels,
                               outChannels: 2 * config.latentChannels, kernelSize: 1)
        parameters = weights.takenTensors()
    }

    /// Builds the encoder from one component of a checkpoint, strictly: every missing, mis-shaped
    /// or unused tensor of the component (the decoder's are ignored) is reported in one
    /// `WeightError.incompatible`.
    public init(weights: ComponentWeights, config: VAEConfig) throws {
        self = try weights.load { try VAEEncoder($0, config: config) }
    }

    /// `image` [B, in_channels, H, W] with values in [-1, 1]; H and W multiples of 2^(levels-1).
    public func callAsFunction(_ image: Tensor) throws -> VAEPosterior {
        guard image.rank == 4, image.shape[0] >= 1, image.shape[1] == config.inChannels else {
            throw ShapeError("VAE encoder", "image \(image.shape), expected [B, \(config.inChannels), H, W]")
        }
        var h = try convIn(image)
        for block in downBlocks {
            for resnet in block.resnets { h = try resnet(h) }
            if let downsampler = block.downsampler { h = try downsampler(h) }
        }
        h = try midSecondResnet(midAttention(midFirstResnet(h)))
        let moments = try quantConv(convOut(normOut(h, thenSiLU: true)))
        let batch = moments.shape[0], (height, width) = (moments.shape[2], moments.shape[3])
        let latentCount = config.latentChannels * height * width
        let shape = [batch, config.latentChannels, height, width]
        // The mean is the first half of each sample's moments, on recorded ops so that gradients
        // reach the encoder: a view (no copy) for one sample; for a batch the halves are brought
        // together first (a copy). The clamped logvar is not differentiated (the SD latent is the mean).
        let halves = batch == 1 ? try moments.reshaped([2, latentCount])
            : try permute(moments.reshaped([batch, 2, latentCount]), [1, 0, 2])
        let mean = try halves.slice(0..<1).reshaped(shape)
        let logvar = Tensor(uninitialized: shape)
        for sample in 0..<batch {
            let raw = moments.pointer + (2 * sample + 1) * latentCount, clamped = logvar.mutablePointer + sample * latentCount
            for i in 0..<latentCount { clamped[i] = min(max(raw[i], -30), 20) }
        }
        return VAEPosterior(mean: mean, logvar: logvar)
    }
}
