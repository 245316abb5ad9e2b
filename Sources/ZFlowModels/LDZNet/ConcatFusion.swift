import ZFlowTensor

/// Concat fusion (spec section 7 leaves it open; defined in docs/ldznet-reference.md):
/// before the position's spatial transformer, `x <- concat_proj(cat([x, sd_feature], channels))`
/// with `concat_proj` a 1x1 conv 2C -> C (bias); the transformer then runs unchanged on the
/// projected `x`, which is also its residual. Keys under the position: `concat_proj.{weight [C, 2C, 1, 1], bias}`.
public struct ConcatFusion: FusionStrategy {
    public static let name = "concat"
    public static let parameterPrefixes = ["concat_proj."]
    public static let needsSDFeature = true

    public let position: FusionPosition
    let projection: Conv2d

    public init(_ weights: WeightReader, position: FusionPosition) throws {
        self.position = position
        projection = try Conv2d(weights.scoped("concat_proj"), inChannels: 2 * position.channels,
                                outChannels: position.channels, kernelSize: 1)
    }

    public func hook(sdFeature: Tensor?) throws -> (any SpatialTransformerHook)? {
        guard let sdFeature else { throw FusionError.missingFeature(tap: position.tap, fusion: Self.name) }
        return Hook(tap: position.tap, projection: projection, sdFeature: sdFeature)
    }

    struct Hook: SpatialTransformerHook {
        let tap: Int
        let projection: Conv2d
        let sdFeature: Tensor

        func transformerInput(_ x: Tensor) throws -> Tensor {
            guard sdFeature.shape == x.shape else {
                throw ShapeError("concat fusion", "tap \(tap): SD feature \(sdFeature.shape) does not match "
                                 + "the ZNet hidden state \(x.shape)")
            }
            return try projection(concat([x, sdFeature], axis: 1))
        }
    }
}
