import ZFlowTensor

/// Matches diffusers `Attention` as built by `UNetMidBlock2D` in the VAE (one head over all
/// channels, `group_norm` first, q/k/v with bias, residual connection, output scale 1).
struct SpatialSelfAttention: Sendable {
    let groupNorm: GroupNorm
    let attention: Attention

    init(_ weights: WeightReader, channels: Int, groups: Int, eps: Float) throws {
        groupNorm = try GroupNorm(weights.scoped("group_norm"), groups: groups, channels: channels, eps: eps)
        attention = try Attention(weights, queryDimension: channels, heads: 1, headDimension: channels, bias: true)
    }

    /// `x` [B, C, H, W] -> [B, C, H, W].
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let tokens = try transpose(groupNorm(x).reshaped([batch, channels, height * width]))
        let attended = try transpose(attention(tokens)).reshaped(x.shape)
        return try add(attended, x)
    }
}
