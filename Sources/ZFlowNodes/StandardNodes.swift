import ZFlowGraph

// The node types and port codecs built into `zflow`. They register through the
// same public API a plugin uses.

/// Node types built into zflow, in catalogue order.
let standardNodeTypes: [any NodeType] = [
    loadImageNode, prepareImageNode, vaeEncodeNode, clipTextEncodeNode, addNoiseNode, unetFeaturesNode,
    attentionPoolNode, ZNetNode(), noiseDifferenceNode, thresholdNode, saveMaskNode, saveOverlayNode, saveTensorNode, loadTensorNode,
]

/// Codecs for the port types whose values ZFlowNodes defines: images as PNG, every other
/// tensor-valued type in `TensorFileForm`.
let standardCodecs: [(PortType, any PortCodec)] =
    [(.image, ImageCodec())] + TensorForm.types.filter { $0 != .image }.map { ($0, TensorCodec()) }

/// Registers the built-in node types and codecs.
public func registerStandardNodes(into registry: NodeRegistry) {
    for node in standardNodeTypes {
        do {
            try registry.register(node)
        } catch {
            preconditionFailure("built-in node type is invalid: \(error)")
        }
    }
    for (type, codec) in standardCodecs {
        registry.register(codec: codec, for: type)
    }
}
