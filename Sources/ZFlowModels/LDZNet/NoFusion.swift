import ZFlowTensor

/// The plain ZNet: no SD features, no extra weights.
public struct NoFusion: FusionStrategy {
    public static let name = "none"
    public static let parameterPrefixes: [String] = []
    public static let needsSDFeature = false

    public let position: FusionPosition

    public init(_ weights: WeightReader, position: FusionPosition) throws {
        self.position = position
    }

    public func hook(sdFeature: Tensor?) throws -> (any SpatialTransformerHook)? { nil }
}
