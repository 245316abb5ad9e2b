import Foundation
import ZFlowEval
import ZFlowImage
import ZFlowTensor

// Turns a graph's logits into probabilities at the mask's resolution and counts them:
// bicubic resize of the logits (as the Threshold node does), then sigmoid.

/// A ground-truth mask: nonzero pixels (in any channel) are foreground.
public struct GroundTruthMask: Sendable {
    public let width: Int
    public let height: Int
    public let foreground: [Bool]

    public init(contentsOf url: URL) throws {
        let image = try loadImage(url, applyEXIFOrientation: false)
        width = image.width
        height = image.height
        foreground = (0..<(image.width * image.height)).map { i in
            image.pixels[3 * i] != 0 || image.pixels[3 * i + 1] != 0 || image.pixels[3 * i + 2] != 0
        }
    }
}

public enum PredictionScoring {
    /// sigmoid(logits) resized to `height` x `width`; logits may be [1, 1, h, w], [1, h, w] or [h, w].
    public static func probabilities(_ value: Any, height: Int, width: Int) throws -> Tensor {
        guard let logits = value as? Tensor else {
            throw BatchError("the logits output is a \(type(of: value)), not a tensor")
        }
        let shape = logits.shape
        guard shape.count >= 2, shape.dropLast(2).allSatisfy({ $0 == 1 }), shape.count <= 4 else {
            throw BatchError("logits have shape \(shape), expected [1, 1, H, W], [1, H, W] or [H, W]")
        }
        var map = try logits.reshaped([1, 1, shape[shape.count - 2], shape[shape.count - 1]])
        if map.shape[2] != height || map.shape[3] != width {
            map = try resizeBicubic(map, height: height, width: width)
        }
        let probabilities = Tensor(uninitialized: map.shape)
        let input = map.pointer, output = probabilities.mutablePointer
        for i in 0..<map.count { output[i] = 1 / (1 + exp(-input[i])) }
        return probabilities
    }
}
