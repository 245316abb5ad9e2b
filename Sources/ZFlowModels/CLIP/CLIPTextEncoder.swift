import Foundation
import ZFlowIO
import ZFlowTensor

/// What the text encoder returns for one prompt ([T, hidden] tensors) or a batch ([B, T, hidden]).
public struct CLIPTextOutput: Sendable {
    /// transformers' `last_hidden_state`: the last layer's output after the final
    /// LayerNorm, [T, hidden] (77 x 768 for SD v1). This is SD v1's conditioning.
    public let lastHiddenState: Tensor
    /// transformers' `hidden_states[-2]`: the output of the second-to-last layer,
    /// *without* the final LayerNorm, [T, hidden]. Present when asked for. SD 2.x
    /// and diffusers' `clip_skip=1` use `finalLayerNorm(penultimate)`.
    public let penultimate: Tensor?
}

/// The CLIP text transformer. This implementation matches transformers
/// `CLIPTextModel` (token + position embeddings, pre-LN encoder layers with a
/// causal mask, final LayerNorm), run without an attention mask as the Stable
/// Diffusion pipelines run it.
public struct CLIPTextEncoder: Sendable {
    public let config: CLIPTextConfig
    /// The tensors the model computes with, by their CompVis key (`cond_stage_model.transformer.text_model.*`)
    /// whichever layout was read: built over the parameters being trained (a `TensorSource` of them),
    /// these are the trained tensors themselves, for a `GradientTape` to differentiate.
    public let parameters: [String: Tensor]
    private let tokenEmbedding: Tensor
    private let positionEmbedding: Tensor
    private let layers: [CLIPEncoderLayer]
    private let finalNorm: LayerNorm

    /// Loads from any known layout (transformers, CompVis single file with or
    /// without the `text_model.` level, see `CLIPWeightLayout`), strictly: every missing
    /// or mis-shaped tensor, and every unused one under the layout's prefix, is reported
    /// in one `WeightError.incompatible` naming the stored keys. `position_ids` buffers are ignored.
    /// `config` (checked against the shapes) or, when nil, the config the shapes hold.
    public init(config: CLIPTextConfig? = nil, weights source: TensorSource) throws {
        let declared = try config.map { try DeclaredConfig(origin: "the CLIP text config given", declaring: $0) }
        try self.init(declared: declared, configFile: "a CLIP text config", weights: source)
    }

    /// The config the shapes hold with `declared`'s keys over it (`CLIPArchitecture.resolve`);
    /// `configFile` is where a message asks the user to give a value the shapes do not hold.
    public init(declared: DeclaredConfig?, configFile: String, weights source: TensorSource) throws {
        let architecture = try CLIPArchitecture(source: source)
        let config = try architecture.resolve(declared, configFile: configFile)
        let layout = architecture.layout
        let reader = WeightReader(source, rename: { layout.storedKey($0) })
        let ignored = Set(CLIPWeightLayout.ignoredKeys.map { layout.storedKey(CLIPWeightLayout.modelPrefix + $0) })
        reader.ignore { ignored.contains($0) }
        self = try reader.load(storedPrefix: layout.storedPrefix) { try CLIPTextEncoder(config: config, reader: $0) }
    }

    /// Reads the weights; `load` checks the file.
    private init(config: CLIPTextConfig, reader: WeightReader) throws {
        let model = reader.scoped("text_model")
        let width = config.hiddenSize
        let embeddings = model.scoped("embeddings")
        tokenEmbedding = try embeddings("token_embedding.weight", shape: [config.vocabSize, width])
        positionEmbedding = try embeddings("position_embedding.weight", shape: [config.maxPositionEmbeddings, width])
        layers = try (0..<config.numHiddenLayers).map {
            try CLIPEncoderLayer(model.scoped("encoder.layers.\($0)"), config: config)
        }
        finalNorm = try LayerNorm(model.scoped("final_layer_norm"), dimension: width, eps: config.layerNormEps)
        parameters = reader.takenTensors(keyedBy: { CLIPWeightLayout.compVis.storedKey($0) })
        self.config = config
    }

    /// Loads a transformers/diffusers `text_encoder/` folder (`config.json` and `model.safetensors`,
    /// or another of `diffusersWeightFileNames(.textEncoder)`: fp16, `.bin`, sharded); given a
    /// pipeline root, its `text_encoder/` subfolder.
    public init(folder: URL) throws {
        var folder = folder
        let sub = folder.appendingPathComponent("text_encoder")
        if FileManager.default.fileExists(atPath: sub.appendingPathComponent("config.json").path) { folder = sub }
        let configFile = folder.appendingPathComponent("config.json")
        try self.init(declared: DeclaredConfig.read(configFile, section: "text_config"), configFile: configFile.path,
                      weights: openDiffusersWeights(in: folder, component: .textEncoder))
    }

    /// Encodes token ids (normally `CLIPTokenizer.tokenize(_:).ids`, 77 of them): [T, hidden].
    public func callAsFunction(_ ids: [Int], penultimate: Bool = false) throws -> CLIPTextOutput {
        try encode([ids], shape: [ids.count, config.hiddenSize], penultimate: penultimate)
    }

    /// Encodes a batch of prompts' token ids, all of one length: [B, T, hidden].
    public func callAsFunction(batch: [[Int]], penultimate: Bool = false) throws -> CLIPTextOutput {
        guard let first = batch.first, batch.allSatisfy({ $0.count == first.count }) else {
            throw ShapeError("CLIPTextEncoder", "a batch needs prompts of one token count, got counts \(batch.map(\.count))")
        }
        return try encode(batch, shape: [batch.count, first.count, config.hiddenSize], penultimate: penultimate)
    }

    /// The layers on the embedded `prompts` (each of `shape[shape.count - 2]` tokens) as `shape`.
    private func encode(_ prompts: [[Int]], shape: [Int], penultimate: Bool) throws -> CLIPTextOutput {
        for ids in prompts {
            guard !ids.isEmpty, ids.count <= config.maxPositionEmbeddings else {
                throw ShapeError("CLIPTextEncoder", "\(ids.count) tokens; expected 1...\(config.maxPositionEmbeddings)")
            }
            if let bad = ids.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
                throw ShapeError("CLIPTextEncoder", "token id \(bad) outside the vocabulary of \(config.vocabSize)")
            }
        }
        var hidden = try embed(prompts, shape: shape)
        var beforeLast: Tensor?
        for (index, layer) in layers.enumerated() {
            if penultimate && index == layers.count - 1 { beforeLast = hidden }
            hidden = try layer(hidden)
        }
        return CLIPTextOutput(lastHiddenState: try finalLayerNorm(hidden), penultimate: beforeLast)
    }

    /// The model's final LayerNorm, for callers that post-process `penultimate`.
    public func finalLayerNorm(_ hidden: Tensor) throws -> Tensor {
        try finalNorm(hidden)
    }

    /// Token embedding rows plus the position embedding of each place, prompt after prompt
    /// (lookups a gradient tape differentiates, into the rows used).
    private func embed(_ prompts: [[Int]], shape: [Int]) throws -> Tensor {
        let tokens = try embedding(prompts.flatMap { $0 }, table: tokenEmbedding)
        let places = try embedding(prompts.flatMap { Array($0.indices) }, table: positionEmbedding)
        return try add(tokens, places).reshaped(shape)
    }
}
