import ZFlowIO

/// Where the CLIP text model's tensors live in a file. The model asks for
/// transformers names (`text_model.encoder.layers.0.mlp.fc1.weight`); each layout
/// stores them under its own prefix instead of `text_model.`.
public struct CLIPWeightLayout: Sendable, Equatable {
    public let name: String
    /// Replaces the leading `text_model.` of the transformers key.
    public let storedPrefix: String

    /// Tried in this order; the first whose token embedding is present wins.
    public static let known: [CLIPWeightLayout] = [
        CLIPWeightLayout(name: "transformers", storedPrefix: "text_model."),
        CLIPWeightLayout(name: "CompVis", storedPrefix: "cond_stage_model.transformer.text_model."),
        CLIPWeightLayout(name: "CompVis (older, no text_model level)", storedPrefix: "cond_stage_model.transformer."),
        CLIPWeightLayout(name: "transformers 5 (no text_model level)", storedPrefix: ""),
    ]

    static let modelPrefix = "text_model."
    static let probeKey = "embeddings.token_embedding.weight"
    /// Buffers stored by some exporters that the model recomputes.
    static let ignoredKeys = ["embeddings.position_ids"]

    /// The layout of `source`, or nil when no known layout has a CLIP token embedding.
    public static func detect(in source: TensorSource) -> CLIPWeightLayout? {
        known.first { source.shape(of: $0.storedPrefix + probeKey) != nil }
    }

    /// Maps a transformers key to the key stored in this layout.
    func storedKey(_ modelKey: String) -> String {
        modelKey.hasPrefix(Self.modelPrefix) ? storedPrefix + modelKey.dropFirst(Self.modelPrefix.count) : modelKey
    }
}

/// No known CLIP text layout in a weight file.
public struct CLIPWeightLayoutError: Error, CustomStringConvertible, Equatable {
    public let origin: String
    public var description: String {
        let probes = CLIPWeightLayout.known.map { "'\($0.storedPrefix)\(CLIPWeightLayout.probeKey)'" }.joined(separator: ", ")
        return "\(origin): no CLIP text encoder found (looked for \(probes))"
    }
}
