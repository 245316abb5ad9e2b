import ZFlowTensor

/// Matches `torch.nn.Conv2d` (square kernel, symmetric padding): weight
/// [out, in, k, k], keys `weight`, `bias`.
public struct Conv2d: Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(_ weights: WeightReader, inChannels: Int, outChannels: Int, kernelSize: Int,
                stride: Int = 1, padding: Int = 0, bias: Bool = true) throws {
        weight = try weights("weight", shape: [outChannels, inChannels, kernelSize, kernelSize])
        self.bias = bias ? try weights("bias", shape: [outChannels]) : nil
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try weight.whileResident { try conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding) }
    }
}
