import ZFlowIO

/// Where the CLIP text model's tensors live in a file. The model asks for
/// transformers names (`text_model.encoder.layers.0.mlp.fc1.weight`); each layout
/// stores them under its own prefix instead of `text_model.`.
public struct CLIPWeightLayout: Sendable, Equatable {
    public let name: String
    /// Replaces the leading `text_model.` of the transformers key.
    public let storedPrefix: String
    /// The rest of the key is stored without its dots (LitEma's names).
    public var dropsDots = false

    /// SD's single files: the keys `zflow train` names the text encoder's parameters by.
    public static let compVis = CLIPWeightLayout(name: "CompVis", storedPrefix: "cond_stage_model.transformer.text_model.")
    /// The EMA of a text encoder `zflow train` trained: `model_ema.` + the CompVis key without its
    /// dots, as LitEma names what it averages. Tried first: a file with both copies is read as the
    /// EMA, as LD-ZNet checkpoints are.
    public static let compVisEMA = CLIPWeightLayout(name: "CompVis EMA (model_ema.*)",
                                                    storedPrefix: "model_ema.cond_stage_modeltransformertext_model", dropsDots: true)

    /// Tried in this order; the first whose token embedding is present wins.
    public static let known: [CLIPWeightLayout] = [
        compVisEMA,
        CLIPWeightLayout(name: "transformers", storedPrefix: "text_model."),
        compVis,
        CLIPWeightLayout(name: "CompVis (older, no text_model level)", storedPrefix: "cond_stage_model.transformer."),
        CLIPWeightLayout(name: "transformers 5 (no text_model level)", storedPrefix: ""),
    ]

    static let modelPrefix = "text_model."
    static let probeKey = "embeddings.token_embedding.weight"
    /// Buffers stored by some exporters that the model recomputes.
    static let ignoredKeys = ["embeddings.position_ids"]

    /// The layout of `source`, or nil when no known layout has a CLIP token embedding.
    public static func detect(in source: TensorSource) -> CLIPWeightLayout? {
        known.first { source.shape(of: $0.storedKey(modelPrefix + probeKey)) != nil }
    }

    /// Maps a transformers key to the key stored in this layout.
    public func storedKey(_ modelKey: String) -> String {
        guard modelKey.hasPrefix(Self.modelPrefix) else { return modelKey }
        let rest = modelKey.dropFirst(Self.modelPrefix.count)
        return storedPrefix + (dropsDots ? rest.replacingOccurrences(of: ".", with: "") : String(rest))
    }
}

/// No known CLIP text layout in a weight file.
public struct CLIPWeightLayoutError: Error, CustomStringConvertible, Equatable {
    public let origin: String
    public var description: String {
        let probes = CLIPWeightLayout.known.map { "'\($0.storedKey(CLIPWeightLayout.modelPrefix + CLIPWeightLayout.probeKey))'" }.joined(separator: ", ")
        return "\(origin): no CLIP text encoder found (looked for \(probes))"
    }
}
