import Foundation

/// The text-model fields of a transformers `CLIPTextConfig` (`text_encoder/config.json`).
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    /// "quick_gelu" (OpenAI CLIP, SD v1) or "gelu" (OpenCLIP, SD 2.x).
    public var hiddenAct: String
    public var layerNormEps: Float

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, maxPositionEmbeddings: Int, hiddenAct: String, layerNormEps: Float) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
    }

    /// openai/clip-vit-large-patch14's text model, the SD v1 text encoder.
    public static let vitL14 = CLIPTextConfig(
        vocabSize: 49408, hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 12,
        numAttentionHeads: 12, maxPositionEmbeddings: 77, hiddenAct: "quick_gelu", layerNormEps: 1e-5)

    /// transformers' `CLIPTextConfig()` defaults, which fill keys a `config.json` leaves out.
    static let transformersDefaults = CLIPTextConfig(
        vocabSize: 49408, hiddenSize: 512, intermediateSize: 2048, numHiddenLayers: 12,
        numAttentionHeads: 8, maxPositionEmbeddings: 77, hiddenAct: "quick_gelu", layerNormEps: 1e-5)

    /// Keys missing from the JSON take transformers' defaults (not ViT-L/14's), as
    /// `CLIPTextConfig.from_pretrained` does.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let base = CLIPTextConfig.transformersDefaults
        vocabSize = try container.decodeIfPresent(Int.self, forKey: .vocabSize) ?? base.vocabSize
        hiddenSize = try container.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? base.hiddenSize
        intermediateSize = try container.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? base.intermediateSize
        numHiddenLayers = try container.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? base.numHiddenLayers
        numAttentionHeads = try container.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? base.numAttentionHeads
        maxPositionEmbeddings = try container.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? base.maxPositionEmbeddings
        hiddenAct = try container.decodeIfPresent(String.self, forKey: .hiddenAct) ?? base.hiddenAct
        layerNormEps = try container.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? base.layerNormEps
    }

    /// Reads `config.json`, naming the file in errors and checking the sizes make sense.
    public static func read(_ url: URL) throws -> CLIPTextConfig {
        struct Wrapper: Decodable { let text_config: CLIPTextConfig? }
        let config: CLIPTextConfig
        do {
            let data = try Data(contentsOf: url)
            config = try JSONDecoder().decode(Wrapper.self, from: data).text_config
                ?? JSONDecoder().decode(CLIPTextConfig.self, from: data)
        } catch {
            throw CLIPConfigError(path: url.path, problem: "\(error)")
        }
        try config.validate(origin: url.path)
        return config
    }

    func validate(origin: String) throws {
        let sizes = [vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, maxPositionEmbeddings]
        guard sizes.allSatisfy({ $0 > 0 }), hiddenSize % numAttentionHeads == 0 else {
            throw CLIPConfigError(path: origin, problem: "sizes must be positive and hidden_size \(hiddenSize) divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard ["quick_gelu", "gelu"].contains(hiddenAct) else {
            throw CLIPConfigError(path: origin, problem: "hidden_act '\(hiddenAct)' is not supported (quick_gelu or gelu)")
        }
    }
}

/// A `config.json` that cannot be used, naming the file.
public struct CLIPConfigError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String
    public var description: String { "\(path): invalid CLIP text config: \(problem)" }
}
