import ZFlowIO

/// The CLIP text model's architecture as its tensor shapes hold it: vocabulary and width (token
/// embedding), positions, layers and MLP width. Heads are not in the shapes: SD v1's text model
/// (ViT-L/14) has heads of width 64, so width / 64 heads; activation quick_gelu, eps 1e-5.
public struct CLIPArchitecture: Sendable {
    public let config: CLIPTextConfig
    public let layout: CLIPWeightLayout
    let weights: String
    let vocabulary: ShapeEvidence?
    let width: ShapeEvidence?
    let positions: ShapeEvidence?
    let layers: ShapeEvidence?
    let intermediate: ShapeEvidence?

    static let conventionalHeadWidth = 64

    public init(source: TensorSource) throws {
        guard let layout = CLIPWeightLayout.detect(in: source) else { throw CLIPWeightLayoutError(origin: source.origin) }
        self.layout = layout
        weights = source.origin
        let probe = TensorProbe(source: source) { layout.storedKey($0) }
        let embeddings = "text_model.embeddings"
        vocabulary = probe.dimension("\(embeddings).token_embedding.weight", axis: 0, rank: 2)
        width = probe.dimension("\(embeddings).token_embedding.weight", axis: 1, rank: 2)
        positions = probe.dimension("\(embeddings).position_embedding.weight", axis: 0, rank: 2)
        layers = probe.count { "text_model.encoder.layers.\($0).self_attn.q_proj.weight" }.evidence
        intermediate = probe.dimension("text_model.encoder.layers.0.mlp.fc1.weight", axis: 0, rank: 2)
        var config = CLIPTextConfig.vitL14
        config.vocabSize = vocabulary?.value ?? config.vocabSize
        config.hiddenSize = width?.value ?? config.hiddenSize
        config.maxPositionEmbeddings = positions?.value ?? config.maxPositionEmbeddings
        config.numHiddenLayers = layers?.value ?? 0
        config.intermediateSize = intermediate?.value ?? config.intermediateSize
        // 0 = unknown: the width is no multiple of 64 (`resolve` asks for the value).
        let headWidth = Self.conventionalHeadWidth
        config.numAttentionHeads = config.hiddenSize % headWidth == 0 ? config.hiddenSize / headWidth : 0
        self.config = config
    }

    /// The config to build with (see `UNetArchitecture.resolve`).
    public func resolve(_ declared: DeclaredConfig?, configFile: String) throws -> CLIPTextConfig {
        let resolved = try declared?.overlay(on: config) ?? config
        try check(resolved, configOrigin: declared?.origin ?? "the config read from the shapes")
        if resolved.numAttentionHeads == 0 && declared?.declares("num_attention_heads") != true {
            throw ArchitectureError.conventionDoesNotFit(
                component: "text_encoder", key: "num_attention_heads", convention: "hidden_size / 64",
                reason: "hidden_size \(resolved.hiddenSize) is not a multiple of 64", weights: weights,
                sidecar: configFile)
        }
        try resolved.validate(origin: declared?.origin ?? weights)
        return resolved
    }

    func check(_ declared: CLIPTextConfig, configOrigin: String) throws {
        let checker = ConfigChecker(config: configOrigin, weights: weights)
        try checker.check("num_hidden_layers", declared.numHiddenLayers, layers)
        try checker.check("hidden_size", declared.hiddenSize, width)
        try checker.check("vocab_size", declared.vocabSize, vocabulary)
        try checker.check("max_position_embeddings", declared.maxPositionEmbeddings, positions)
        try checker.check("intermediate_size", declared.intermediateSize, intermediate)
    }
}
