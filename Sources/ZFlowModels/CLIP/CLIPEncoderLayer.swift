import ZFlowTensor

// Matches transformers `CLIPEncoderLayer` (pre-LayerNorm): causal multi-head
// self-attention and an MLP (fc1, quick_gelu or gelu, fc2), each added to the residual.

struct CLIPEncoderLayer: Sendable {
    private struct Projection: Sendable {
        let weight: Tensor
        let bias: Tensor

        init(_ weights: WeightReader, inputs: Int, outputs: Int) throws {
            weight = try weights("weight", shape: [outputs, inputs])
            bias = try weights("bias", shape: [outputs])
        }

        func callAsFunction(_ x: Tensor) throws -> Tensor { try linear(x, weight: weight, bias: bias) }
    }

    private struct Norm: Sendable {
        let weight: Tensor
        let bias: Tensor
        let eps: Float

        init(_ weights: WeightReader, width: Int, eps: Float) throws {
            weight = try weights("weight", shape: [width])
            bias = try weights("bias", shape: [width])
            self.eps = eps
        }

        func callAsFunction(_ x: Tensor) throws -> Tensor { try layerNorm(x, weight: weight, bias: bias, eps: eps) }
    }

    private let norm1: Norm, norm2: Norm
    private let query: Projection, key: Projection, value: Projection, output: Projection
    private let fc1: Projection, fc2: Projection
    private let heads: Int
    private let activation: @Sendable (Tensor) -> Tensor

    /// `weights` is scoped to `text_model.encoder.layers.<i>`.
    init(_ weights: WeightReader, config: CLIPTextConfig) throws {
        let width = config.hiddenSize
        norm1 = try Norm(weights.scoped("layer_norm1"), width: width, eps: config.layerNormEps)
        norm2 = try Norm(weights.scoped("layer_norm2"), width: width, eps: config.layerNormEps)
        let attention = weights.scoped("self_attn")
        query = try Projection(attention.scoped("q_proj"), inputs: width, outputs: width)
        key = try Projection(attention.scoped("k_proj"), inputs: width, outputs: width)
        value = try Projection(attention.scoped("v_proj"), inputs: width, outputs: width)
        output = try Projection(attention.scoped("out_proj"), inputs: width, outputs: width)
        fc1 = try Projection(weights.scoped("mlp.fc1"), inputs: width, outputs: config.intermediateSize)
        fc2 = try Projection(weights.scoped("mlp.fc2"), inputs: config.intermediateSize, outputs: width)
        heads = config.numAttentionHeads
        if config.hiddenAct == "gelu" {
            activation = { x in gelu(x, approximate: .none) }
        } else {
            activation = { x in quickGELU(x) }
        }
    }

    /// `hidden` [T, D] -> [T, D].
    func callAsFunction(_ hidden: Tensor) throws -> Tensor {
        let normed = try norm1(hidden)
        let attended = try attention(query: query(normed), key: key(normed), value: value(normed),
                                     heads: heads, causal: true)
        let afterAttention = try add(hidden, output(attended))
        let mlp = try fc2(activation(fc1(norm2(afterAttention))))
        return try add(afterAttention, mlp)
    }
}
