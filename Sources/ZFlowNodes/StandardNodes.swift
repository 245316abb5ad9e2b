import ZFlowGraph

// The node types and port codecs built into `zflow`. They register through the
// same public API a plugin uses; the model nodes (LoadImage, VAEEncode, ZNet...)
// and the tensor/image codecs are added to the lists below.

/// Node types built into zflow.
let standardNodeTypes: [any NodeType] = []

/// Codecs for the port types whose values ZFlowNodes defines (tensors, images).
let standardCodecs: [(PortType, any PortCodec)] = []

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
