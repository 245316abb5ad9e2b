import ZFlowGraph

/// The shape the standard nodes give and take for each tensor-valued port type, so that a
/// tensor from a file can be checked before it enters a port of that type.
enum TensorForm {
    /// The tensor port types a loaded tensor can be given as, in catalogue order.
    static let loadableTypes: [PortType] = [.tensor, .latent, .textEmbedding, .logits, .mask]

    /// Whether `shape` has the form of `type`: a latent is [1, C, h, w] (VAEEncode, AddNoise,
    /// ZNet), a text embedding [S, width] (CLIPTextEncode, UNet context), logits and masks
    /// [1, 1, H, W] (ZNet, Threshold, SaveMask); a plain tensor any shape.
    static func fits(_ shape: [Int], as type: PortType) -> Bool {
        switch type {
        case .latent: shape.count == 4 && shape[0] == 1
        case .textEmbedding: shape.count == 2
        case .logits, .mask: shape.count == 4 && shape[0] == 1 && shape[1] == 1
        default: true
        }
    }

    /// The form of `type` for messages, e.g. `[1, C, h, w]`.
    static func description(of type: PortType) -> String {
        switch type {
        case .latent: "[1, C, h, w]"
        case .textEmbedding: "[S, width]"
        case .logits, .mask: "[1, 1, H, W]"
        default: "any shape"
        }
    }
}
