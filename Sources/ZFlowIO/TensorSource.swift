import ZFlowTensor

/// A named collection of tensors read from outside data: a safetensors file, a
/// PyTorch checkpoint, or several files seen as one. Tensors are materialized
/// on demand (a 4 GB checkpoint is not read to fetch one key).
public protocol TensorSource: Sendable {
    /// Where the tensors come from, for error messages (a path).
    var origin: String { get }
    /// Every tensor key, sorted.
    var keys: [String] { get }
    /// The stored shape of `key`, or nil when there is no such key.
    func shape(of key: String) -> [Int]?
    /// The tensor under `key` as Float32 (f16/bf16 converted; f32 mapped without a copy where possible).
    func tensor(_ key: String) throws -> Tensor
    /// The tensor under `key`, its values in memory only while a caller uses them
    /// (`Tensor.whileResident`): for a model larger than the memory allowed for it. Sources that
    /// hold their tensors in memory anyway return `tensor(key)`.
    func tensorOnDemand(_ key: String) throws -> Tensor
}

extension TensorSource {
    public func tensorOnDemand(_ key: String) throws -> Tensor { try tensor(key) }
}
