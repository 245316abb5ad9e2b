// Matches the LD-ZNet reference preprocessing (docs ldznet-spec.md, stage 1):
// aspect-preserving size near side^2 pixels, multiples of 64, Pillow LANCZOS,
// then x/255 and 2x-1 into a [1, 3, H, W] tensor.
import Foundation
import ZFlowTensor

/// The reference's target size for a `width` x `height` image:
/// `new_w = floor(sqrt(side^2 / (h/w)))`, `new_h = floor((h/w) * new_w)`, each
/// rounded down to a multiple of 64. Throws when a side would end below 64.
public func pipelineSize(width: Int, height: Int, side: Int = 384) throws -> (width: Int, height: Int) {
    guard width > 0, height > 0, (1...65536).contains(side) else {
        throw ImageError.invalidArgument(
            "pipeline size: image \(width)x\(height) must be positive and side \(side) in 1...65536")
    }
    let ratio = Double(height) / Double(width)
    let scaledWidth = (Double(side) * Double(side) / ratio).squareRoot().rounded(.down)
    let scaledHeight = (ratio * scaledWidth).rounded(.down)
    let newWidth = Int(scaledWidth) - Int(scaledWidth) % 64
    let newHeight = Int(scaledHeight) - Int(scaledHeight) % 64
    guard newWidth >= 64, newHeight >= 64 else {
        throw ImageError.invalidArgument(
            "image \(width)x\(height) is too elongated for the pipeline: at about \(side)x\(side) pixels it "
                + "becomes \(Int(scaledWidth))x\(Int(scaledHeight)), and each side must be at least 64 "
                + "(rounded down to a multiple of 64); crop it first")
    }
    return (newWidth, newHeight)
}

extension RGBImage {
    /// Values `x / 255` as a [1, 3, H, W] tensor in [0, 1].
    public func unitRangeTensor() -> Tensor {
        normalizedTensor { Float($0) / 255 }
    }

    /// Values `2 * (x / 255) - 1` as a [1, 3, H, W] tensor in [-1, 1] (the VAE's input range).
    public func signedUnitRangeTensor() -> Tensor {
        normalizedTensor { 2 * (Float($0) / 255) - 1 }
    }

    /// The image resized to `pipelineSize` with Pillow's LANCZOS.
    public func resizedForPipeline(side: Int = 384) throws -> RGBImage {
        let size = try pipelineSize(width: width, height: height, side: side)
        return try resizedLanczos(width: size.width, height: size.height)
    }

    /// The pipeline input: `resizedForPipeline(side:)`, then `signedUnitRangeTensor()`.
    public func preparedForPipeline(side: Int = 384) throws -> Tensor {
        try resizedForPipeline(side: side).signedUnitRangeTensor()
    }

    private func normalizedTensor(_ transform: (UInt8) -> Float) -> Tensor {
        let plane = width * height
        let result = Tensor(uninitialized: [1, 3, height, width])
        let out = result.mutablePointer
        pixels.withUnsafeBufferPointer { input in
            for i in 0..<plane {
                out[i] = transform(input[3 * i])
                out[plane + i] = transform(input[3 * i + 1])
                out[2 * plane + i] = transform(input[3 * i + 2])
            }
        }
        return result
    }
}
