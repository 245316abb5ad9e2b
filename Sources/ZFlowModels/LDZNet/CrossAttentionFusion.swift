import ZFlowTensor

/// LD-ZNet's fusion (spec section 7; `CrossAttentionFusionBlock` in tools/ldznet_reference.py):
/// the position's `attentionpool2D` pools the SD feature, and the transformer block gets
/// `x += attn3(norm_sd(x), pool tokens)` right after its text cross-attention.
/// Keys under the position: `attentionpool2D.*`, `transformer_blocks.0.attn3.{to_q,to_k,to_v}.weight`,
/// `transformer_blocks.0.attn3.to_out.0.{weight,bias}`, `transformer_blocks.0.norm_sd.{weight,bias}`.
public struct CrossAttentionFusion: FusionStrategy {
    public static let name = "cross_attention"
    public static let parameterPrefixes = ["attentionpool2D.", "transformer_blocks.0.attn3.",
                                           "transformer_blocks.0.norm_sd."]
    public static let needsSDFeature = true

    public let position: FusionPosition
    public let pool: AttentionPool
    let normSD: LayerNorm
    let sdAttention: Attention

    public init(_ weights: WeightReader, position: FusionPosition) throws {
        guard let gridSize = position.poolGridSize else {
            throw FusionError.missingPoolGridSize(tap: position.tap, path: position.path)
        }
        let channels = position.channels, heads = position.heads
        self.position = position
        pool = try AttentionPool(weights.scoped("attentionpool2D"), channels: channels, gridSize: gridSize, heads: heads)
        let block = weights.scoped("transformer_blocks.0")
        normSD = try LayerNorm(block.scoped("norm_sd"), dimension: channels, eps: 1e-5)
        sdAttention = try Attention(block.scoped("attn3"), queryDimension: channels, contextDimension: channels,
                                    heads: heads, headDimension: channels / heads)
    }

    /// `sdFeature`: the raw tap [B, C, h, w], or tokens already pooled by `pool`: [B, h*w+1, C],
    /// or [h*w+1, C] shared by every sample of the batch.
    public func hook(sdFeature: Tensor?) throws -> (any SpatialTransformerHook)? {
        guard let sdFeature else { throw FusionError.missingFeature(tap: position.tap, fusion: Self.name) }
        if sdFeature.rank == 2 || sdFeature.rank == 3 {
            guard sdFeature.shape[sdFeature.rank - 1] == position.channels else {
                throw ShapeError("cross_attention fusion", "tap \(position.tap): pooled tokens \(sdFeature.shape), "
                                 + "expected [T, \(position.channels)] or [B, T, \(position.channels)]")
            }
            return Hook(normSD: normSD, sdAttention: sdAttention, poolTokens: sdFeature)
        }
        return Hook(normSD: normSD, sdAttention: sdAttention, poolTokens: try pool(sdFeature))
    }

    struct Hook: SpatialTransformerHook {
        let normSD: LayerNorm
        let sdAttention: Attention
        let poolTokens: Tensor

        func afterCrossAttention(_ tokens: Tensor) throws -> Tensor {
            try add(sdAttention(normSD(tokens), context: poolTokens), tokens)
        }
    }
}
