// The types a port, an argument or a graph parameter can have. The graph core
// never looks inside values: these names are contracts between node plugins.

public indirect enum PortType: Hashable, Sendable, CustomStringConvertible {
    case image, latent, textEmbedding, features, logits, mask, tensor
    case int, float, bool, string, path
    case list(PortType)

    /// The scalar and tensor type names as written in `.zflow` files and `zflow nodes`.
    public static let namedTypes: [String: PortType] = [
        "Image": .image, "Latent": .latent, "TextEmbedding": .textEmbedding,
        "Features": .features, "Logits": .logits, "Mask": .mask, "Tensor": .tensor,
        "Int": .int, "Float": .float, "Bool": .bool, "String": .string, "Path": .path,
    ]

    /// Parses `Int`, `Path`, `[Float]`, `[[Int]]`...; nil for an unknown name.
    public init?(name: String) {
        if name.hasPrefix("["), name.hasSuffix("]"), name.count >= 2 {
            guard let element = PortType(name: String(name.dropFirst().dropLast())) else { return nil }
            self = .list(element)
        } else if let named = PortType.namedTypes[name] {
            self = named
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .image: "Image"
        case .latent: "Latent"
        case .textEmbedding: "TextEmbedding"
        case .features: "Features"
        case .logits: "Logits"
        case .mask: "Mask"
        case .tensor: "Tensor"
        case .int: "Int"
        case .float: "Float"
        case .bool: "Bool"
        case .string: "String"
        case .path: "Path"
        case .list(let element): "[\(element)]"
        }
    }

    /// Whether values of this type are tensors (a feature set: one per tap), so that a `Tensor` port accepts them.
    public var isTensorLike: Bool {
        switch self {
        case .image, .latent, .textEmbedding, .features, .logits, .mask, .tensor: true
        default: false
        }
    }

    /// Whether an output of type `source` may feed a port of this type.
    public func accepts(_ source: PortType) -> Bool {
        if self == source { return true }
        switch (self, source) {
        case (.tensor, _): return source.isTensorLike
        case (.float, .int): return true
        case (.list(let element), .list(let sourceElement)): return element.accepts(sourceElement)
        default: return false
        }
    }
}
