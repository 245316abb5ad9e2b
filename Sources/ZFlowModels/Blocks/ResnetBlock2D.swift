import ZFlowTensor

/// Matches diffusers `ResnetBlock2D` (default "default" time-embedding norm, SiLU, output scale 1,
/// dropout inactive): GroupNorm, SiLU, conv3x3, + time projection, GroupNorm, SiLU, conv3x3,
/// plus a 1x1 `conv_shortcut` when the channel count changes.
struct ResnetBlock2D: Sendable {
    let norm1: GroupNorm
    let conv1: Conv2d
    let timeEmbeddingProjection: Linear?
    let norm2: GroupNorm
    let conv2: Conv2d
    let shortcut: Conv2d?

    init(_ weights: WeightReader, inChannels: Int, outChannels: Int, timeEmbeddingChannels: Int?,
         groups: Int, eps: Float) throws {
        norm1 = try GroupNorm(weights.scoped("norm1"), groups: groups, channels: inChannels, eps: eps)
        conv1 = try Conv2d(weights.scoped("conv1"), inChannels: inChannels, outChannels: outChannels, kernelSize: 3, padding: 1)
        timeEmbeddingProjection = try timeEmbeddingChannels.map {
            try Linear(weights.scoped("time_emb_proj"), inFeatures: $0, outFeatures: outChannels)
        }
        norm2 = try GroupNorm(weights.scoped("norm2"), groups: groups, channels: outChannels, eps: eps)
        conv2 = try Conv2d(weights.scoped("conv2"), inChannels: outChannels, outChannels: outChannels, kernelSize: 3, padding: 1)
        shortcut = inChannels == outChannels ? nil
            : try Conv2d(weights.scoped("conv_shortcut"), inChannels: inChannels, outChannels: outChannels, kernelSize: 1)
    }

    /// `x` [B, C, H, W]; `timeEmbedding` (already the UNet's embedding, before SiLU) [E] for one
    /// timestep shared by the batch, or [B, E], one per sample. A block that a recomputing tape
    /// runs again in backward (`GradientTape.block`).
    func callAsFunction(_ x: Tensor, timeEmbedding: Tensor? = nil) throws -> Tensor {
        try GradientTape.block { [self] in
            var h = try conv1(norm1(x, thenSiLU: true))
            if let projection = timeEmbeddingProjection, let timeEmbedding {
                h = try add(h, channelBias: projection(silu(timeEmbedding)))
            }
            h = try conv2(norm2(h, thenSiLU: true))
            return try add(shortcut?(x) ?? x, h)
        }
    }
}
