import ZFlowTensor

/// The value of a `Features` port: UNet taps by tap number, either raw
/// ([1, C, h, w], from `UNetFeatures`) or pooled ([h*w+1, C], from `AttentionPool`).
public struct FeatureSet: Sendable {
    public enum Stage: String, Sendable {
        case raw, pooled
    }

    public let stage: Stage
    public let taps: [Int: Tensor]

    public init(stage: Stage, taps: [Int: Tensor]) {
        self.stage = stage
        self.taps = taps
    }

    /// Tap numbers in ascending order.
    public var tapNumbers: [Int] { taps.keys.sorted() }
}
