import ZFlowIO
import ZFlowTensor

/// The parameters being trained, as the source a model loader reads: the model gets the
/// trained tensors themselves (no copy), so every optimizer step is seen by its next forward.
extension TensorTree: TensorSource {
    public var origin: String { "the parameters being trained" }
    public func shape(of key: String) -> [Int]? { self[key]?.shape }
    public func tensor(_ key: String) throws -> Tensor {
        guard let tensor = self[key] else { throw TensorFileError(file: origin, key: key, "no such tensor") }
        return tensor
    }
}
