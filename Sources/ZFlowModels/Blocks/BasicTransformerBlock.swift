import ZFlowTensor

/// Matches diffusers `BasicTransformerBlock` as used by SD v1/v2 (layer norms, no ada-norm):
/// `x += attn1(norm1(x))`, `x += attn2(norm2(x), context)`, `x += ff(norm3(x))`.
struct BasicTransformerBlock: Sendable {
    let norm1: LayerNorm
    let selfAttention: Attention
    let norm2: LayerNorm
    let crossAttention: Attention
    let norm3: LayerNorm
    let feedForward: FeedForward

    init(_ weights: WeightReader, dimension: Int, heads: Int, headDimension: Int, contextDimension: Int) throws {
        norm1 = try LayerNorm(weights.scoped("norm1"), dimension: dimension, eps: 1e-5)
        selfAttention = try Attention(weights.scoped("attn1"), queryDimension: dimension, heads: heads,
                                      headDimension: headDimension)
        norm2 = try LayerNorm(weights.scoped("norm2"), dimension: dimension, eps: 1e-5)
        crossAttention = try Attention(weights.scoped("attn2"), queryDimension: dimension,
                                       contextDimension: contextDimension, heads: heads, headDimension: headDimension)
        norm3 = try LayerNorm(weights.scoped("norm3"), dimension: dimension, eps: 1e-5)
        feedForward = try FeedForward(weights.scoped("ff"), dimension: dimension)
    }

    /// `x` [B, T, dimension], `context` [S, contextDimension] (shared) or [B, S, contextDimension];
    /// `hook` may add a step after the cross-attention (LD-ZNet's `attn3`).
    func callAsFunction(_ x: Tensor, context: Tensor, hook: (any SpatialTransformerHook)? = nil) throws -> Tensor {
        var h = try add(selfAttention(norm1(x)), x)
        h = try add(crossAttention(norm2(h), context: context), h)
        if let hook { h = try hook.afterCrossAttention(h) }
        return try add(feedForward(norm3(h)), h)
    }
}
