import ZFlowTensor

// Temporary stand-ins for the lead's generic layers (Sources/ZFlowModels/Layers/*):
// delete this file when they land on main (their names clash on purpose).

/// Matches `torch.nn.Linear`.
struct Linear: Sendable {
    let weight: Tensor
    let bias: Tensor?

    init(_ weights: WeightReader, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        weight = try weights("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try weights("bias", shape: [outFeatures]) : nil
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try linear(x, weight: weight, bias: bias) }
}

/// Matches `torch.nn.Conv2d` (square kernel, symmetric padding).
struct Conv2d: Sendable {
    let weight: Tensor
    let bias: Tensor?
    let stride: Int
    let padding: Int

    init(_ weights: WeightReader, inChannels: Int, outChannels: Int, kernelSize: Int,
         stride: Int = 1, padding: Int = 0, bias: Bool = true) throws {
        weight = try weights("weight", shape: [outChannels, inChannels, kernelSize, kernelSize])
        self.bias = bias ? try weights("bias", shape: [outChannels]) : nil
        self.stride = stride
        self.padding = padding
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// Matches `torch.nn.GroupNorm` (affine).
struct GroupNorm: Sendable {
    let weight: Tensor
    let bias: Tensor
    let groups: Int
    let eps: Float

    init(_ weights: WeightReader, groups: Int, channels: Int, eps: Float) throws {
        weight = try weights("weight", shape: [channels])
        bias = try weights("bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        try groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps)
    }
}

/// Matches `torch.nn.LayerNorm` over the last dimension (affine).
struct LayerNorm: Sendable {
    let weight: Tensor
    let bias: Tensor
    let eps: Float

    init(_ weights: WeightReader, dimension: Int, eps: Float) throws {
        weight = try weights("weight", shape: [dimension])
        bias = try weights("bias", shape: [dimension])
        self.eps = eps
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try layerNorm(x, weight: weight, bias: bias, eps: eps) }
}
