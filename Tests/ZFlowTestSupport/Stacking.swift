import ZFlowTensor

/// `torch.stack(samples)`: same-shaped tensors joined along a new first dimension, [B, ...].
public func stacked(_ samples: [Tensor]) throws -> Tensor {
    try concat(samples.map { try $0.reshaped([1] + $0.shape) }, axis: 0)
}
