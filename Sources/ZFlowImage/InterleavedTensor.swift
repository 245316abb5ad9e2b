// An RGB image as a [H, W, 3] tensor of x / 255 (rows, columns, then R, G, B: the layout of
// `numpy.asarray(image) / 255`), the form in which SaveTensor writes images and LoadTensor reads them.
import ZFlowTensor

extension RGBImage {
    /// Values `x / 255` as a [H, W, 3] tensor in [0, 1].
    public func interleavedUnitRangeTensor() -> Tensor {
        let result = Tensor(uninitialized: [height, width, 3])
        let out = result.mutablePointer
        for (index, value) in pixels.enumerated() { out[index] = Float(value) / 255 }
        return result
    }

    /// The image a [H, W, 3] tensor of values in [0, 1] holds, each value rounded to the nearest
    /// x / 255 (so `interleavedUnitRangeTensor()` comes back bit for bit). Throws naming `origin`
    /// and the first value that is outside [0, 1] or not a number.
    public init(interleavedUnitRange tensor: Tensor, origin: String) throws {
        guard tensor.rank == 3, tensor.shape[2] == 3, tensor.shape[0] > 0, tensor.shape[1] > 0 else {
            throw ImageError.invalidArgument("\(origin) has shape \(tensor.shape), expected [H, W, 3]")
        }
        let values = tensor.buffer
        if let bad = values.firstIndex(where: { !(0...1).contains($0) }) {
            let width = tensor.shape[1]
            let position = [bad / (3 * width), bad / 3 % width, bad % 3]
            throw ImageError.invalidArgument("\(origin) holds \(values[bad]) at \(position); an image's values are in [0, 1]")
        }
        try self.init(width: tensor.shape[1], height: tensor.shape[0], pixels: values.map { UInt8(($0 * 255).rounded()) })
    }
}
