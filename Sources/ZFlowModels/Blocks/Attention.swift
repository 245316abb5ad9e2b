import ZFlowTensor

/// Matches diffusers `Attention` with `AttnProcessor2_0` on token sequences (no group norm,
/// no residual): `to_q`, `to_k`, `to_v` (bias optional), scaled dot-product attention over
/// `heads`, then `to_out.0` (with bias).
struct Attention: Sendable {
    let toQuery: Linear
    let toKey: Linear
    let toValue: Linear
    let toOut: Linear
    let heads: Int

    init(_ weights: WeightReader, queryDimension: Int, contextDimension: Int? = nil, heads: Int,
         headDimension: Int, bias: Bool = false) throws {
        let inner = heads * headDimension
        let context = contextDimension ?? queryDimension
        toQuery = try Linear(weights.scoped("to_q"), inFeatures: queryDimension, outFeatures: inner, bias: bias)
        toKey = try Linear(weights.scoped("to_k"), inFeatures: context, outFeatures: inner, bias: bias)
        toValue = try Linear(weights.scoped("to_v"), inFeatures: context, outFeatures: inner, bias: bias)
        toOut = try Linear(weights.scoped("to_out.0"), inFeatures: inner, outFeatures: queryDimension)
        self.heads = heads
    }

    /// `x` [T, queryDimension] or a batch [B, T, queryDimension]; `context` [S, contextDimension]
    /// or, for a batch, [B, S, contextDimension] or [S, contextDimension] shared by every sample
    /// (self-attention when nil).
    func callAsFunction(_ x: Tensor, context: Tensor? = nil) throws -> Tensor {
        let source = context ?? x
        let attended = try attention(query: toQuery(x), key: toKey(source), value: toValue(source), heads: heads)
        return try toOut(attended)
    }
}
