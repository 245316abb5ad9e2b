import Foundation
import ZFlowTensor

extension TorchGenerator {
    /// Uniform(-bound, bound) values in the shape `shape`, e.g. PyTorch's default linear and
    /// convolution initialisation (bound 1/sqrt(fan_in)). They come from the generator's standard
    /// normals z through erf(z / sqrt 2) (uniform on (-1, 1) for normal z), which keeps one
    /// torch-compatible generator in ZFlow instead of a second random source; the values are not
    /// torch's `uniform_` stream.
    public mutating func uniform(_ shape: [Int], bound: Float) -> Tensor {
        let normals = randn(shape).scalars
        return Tensor(shape: shape, scalars: normals.map { bound * Float(erf(Double($0) / 2.0.squareRoot())) })
    }
}
