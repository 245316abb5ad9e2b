import ZFlowTensor

/// `torch.stack(samples)`: same-shaped tensors joined along a new first dimension, [B, ...].
public func stacked(_ samples: [Tensor]) throws -> Tensor {
    try concat(samples.map { try $0.reshaped([1] + $0.shape) }, axis: 0)
}

/// A tensor of `shape` with values uniform in `range`, the same for the same seed.
public func seededRandom(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in Float.random(in: range, using: &generator) })
}
