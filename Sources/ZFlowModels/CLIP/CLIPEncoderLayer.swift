import ZFlowTensor

// Matches transformers `CLIPEncoderLayer` (pre-LayerNorm): causal multi-head
// self-attention and an MLP (fc1, quick_gelu or gelu, fc2), each added to the residual.

struct CLIPEncoderLayer: Sendable {
    private let norm1: LayerNorm, norm2: LayerNorm
    private let query: Linear, key: Linear, value: Linear, output: Linear
    private let fc1: Linear, fc2: Linear
    private let heads: Int
    private let activation: @Sendable (Tensor) -> Tensor

    /// `weights` is scoped to `text_model.encoder.layers.<i>`.
    init(_ weights: WeightReader, config: CLIPTextConfig) throws {
        let width = config.hiddenSize
        norm1 = try LayerNorm(weights.scoped("layer_norm1"), dimension: width, eps: config.layerNormEps)
        norm2 = try LayerNorm(weights.scoped("layer_norm2"), dimension: width, eps: config.layerNormEps)
        let attention = weights.scoped("self_attn")
        query = try Linear(attention.scoped("q_proj"), inFeatures: width, outFeatures: width)
        key = try Linear(attention.scoped("k_proj"), inFeatures: width, outFeatures: width)
        value = try Linear(attention.scoped("v_proj"), inFeatures: width, outFeatures: width)
        output = try Linear(attention.scoped("out_proj"), inFeatures: width, outFeatures: width)
        fc1 = try Linear(weights.scoped("mlp.fc1"), inFeatures: width, outFeatures: config.intermediateSize)
        fc2 = try Linear(weights.scoped("mlp.fc2"), inFeatures: config.intermediateSize, outFeatures: width)
        heads = config.numAttentionHeads
        if config.hiddenAct == "gelu" {
            activation = { x in gelu(x, approximate: .none) }
        } else {
            activation = { x in quickGELU(x) }
        }
    }

    /// `hidden` [T, D] -> [T, D], or a batch [B, T, D] -> [B, T, D].
    func callAsFunction(_ hidden: Tensor) throws -> Tensor {
        let normed = try norm1(hidden)
        let attended = try attention(query: query(normed), key: key(normed), value: value(normed),
                                     heads: heads, causal: true)
        let afterAttention = try add(hidden, output(attended))
        let mlp = try fc2(activation(fc1(norm2(afterAttention))))
        return try add(afterAttention, mlp)
    }
}
