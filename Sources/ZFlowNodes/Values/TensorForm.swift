import ZFlowGraph

/// The shape the standard nodes give and take for each tensor-valued port type, so that a
/// tensor from a file can be checked before it enters a port of that type.
enum TensorForm {
    /// The tensor-valued port types, in catalogue order: what SaveTensor writes and LoadTensor gives.
    static let types: [PortType] = [.tensor, .image, .latent, .textEmbedding, .features, .logits, .mask]

    /// The shape a stored tensor takes in a port of `type` (for `.features`: one tap), or nil when
    /// it does not have the type's form. A latent is [1, C, h, w] (VAEEncode, AddNoise, ZNet), a
    /// text embedding [S, width] (CLIPTextEncode, UNet context), logits and masks [1, 1, H, W]
    /// (ZNet, Threshold, SaveMask), an image [H, W, 3], a tap raw [1, C, h, w] (UNetFeatures) or
    /// pooled [N, C] (AttentionPool); a plain tensor any shape, kept as stored. Forms without a
    /// batch dimension also take a leading 1, which is dropped: PyTorch scripts save a text
    /// embedding as [1, 77, 768].
    static func portShape(_ shape: [Int], as type: PortType) -> [Int]? {
        switch type {
        case .latent: return shape.count == 4 && shape[0] == 1 ? shape : nil
        case .logits, .mask: return shape.count == 4 && shape[0] == 1 && shape[1] == 1 ? shape : nil
        case .textEmbedding: return droppingBatch(shape, rank: 2)
        case .image: return droppingBatch(shape, rank: 3).flatMap { $0[2] == 3 ? $0 : nil }
        case .features: return shape.count == 4 && shape[0] == 1 ? shape : droppingBatch(shape, rank: 2)
        default: return shape
        }
    }

    /// `shape` when it has `rank` dimensions, without its first when that is a leading 1 before them.
    private static func droppingBatch(_ shape: [Int], rank: Int) -> [Int]? {
        if shape.count == rank { return shape }
        return shape.count == rank + 1 && shape[0] == 1 ? Array(shape.dropFirst()) : nil
    }

    /// The form of `type` for messages, e.g. `[1, C, h, w]`.
    static func description(of type: PortType) -> String {
        switch type {
        case .latent: "[1, C, h, w]"
        case .textEmbedding: "[S, width] or [1, S, width]"
        case .logits, .mask: "[1, 1, H, W]"
        case .image: "[H, W, 3] or [1, H, W, 3]"
        case .features: "[1, C, h, w] (raw) or [N, C] or [1, N, C] (pooled) per tap"
        default: "any shape"
        }
    }
}
