import ZFlowTensor

/// Matches `torch.nn.GroupNorm` (affine): keys `weight`, `bias`, both [channels].
public struct GroupNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let eps: Float

    public init(_ weights: WeightReader, groups: Int, channels: Int, eps: Float) throws {
        weight = try weights("weight", shape: [channels])
        bias = try weights("bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }

    /// `thenSiLU: true` is `silu(norm(x))` in one pass.
    public func callAsFunction(_ x: Tensor, thenSiLU: Bool = false) throws -> Tensor {
        try groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, thenSiLU: thenSiLU)
    }
}

/// Matches `torch.nn.LayerNorm` over the last dimension: keys `weight`, `bias`.
public struct LayerNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ weights: WeightReader, dimension: Int, eps: Float = 1e-5) throws {
        weight = try weights("weight", shape: [dimension])
        bias = try weights("bias", shape: [dimension])
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try layerNorm(x, weight: weight, bias: bias, eps: eps)
    }
}
