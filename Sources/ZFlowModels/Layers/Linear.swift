import ZFlowTensor

/// Matches `torch.nn.Linear`: `y = x W^T + b`, weight [out, in], keys `weight`, `bias`.
public struct Linear: Sendable {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ weights: WeightReader, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try weights("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try weights("bias", shape: [outFeatures]) : nil
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try weight.whileResident { try linear(x, weight: weight, bias: bias) }
    }
}
