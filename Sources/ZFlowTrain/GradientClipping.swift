import Foundation
import ZFlowTensor

/// `torch.nn.utils.clip_grad_norm_(params, maxNorm)` (norm type 2): the total norm is the 2-norm
/// of the per-tensor 2-norms, `clipCoefficient = maxNorm / (totalNorm + 1e-6)` in Float32, clamped
/// to 1, and every gradient is multiplied by it (also when it is 1, as torch does). Returns the
/// scaled gradients (new tensors) and the total norm before clipping.
///
/// The norms are summed in Double and rounded to Float32 (torch reduces in Float32 with its own
/// order; the two differ by an ulp or so). Unlike torch's default `error_if_nonfinite=False`, a
/// non-finite total norm is an error naming the first offending tensor, not NaN gradients.
public func clipGradientNorm(_ gradients: TensorTree, maxNorm: Float) throws -> (clipped: TensorTree, totalNorm: Float) {
    try requireSetting("max norm", Double(maxNorm), maxNorm >= 0, "must be >= 0")
    let totalNorm = try gradientNorm(gradients, context: "clip_grad_norm")
    let coefficient = min(maxNorm / (totalNorm + Float(1e-6)), 1)
    var clipped = TensorTree()
    for key in gradients.keys {
        let gradient = gradients[key]!
        let scaled = Tensor(uninitialized: gradient.shape)
        let source = gradient.pointer, target = scaled.mutablePointer
        forEachElement(gradient.count) { target[$0] = source[$0] * coefficient }
        clipped[key] = scaled
    }
    return (clipped, totalNorm)
}

/// The total 2-norm `clipGradientNorm` clips by (the 2-norm of the per-tensor 2-norms, summed in
/// Double), without scaling anything: what a training log reports when it does not clip. A
/// non-finite norm is an error naming the first offending tensor, with `context` in the message.
public func gradientNorm(_ gradients: TensorTree, context: String = "gradient norm") throws -> Float {
    var sumOfSquares: Double = 0
    for key in gradients.keys {
        let values = gradients[key]!.buffer
        let norm = Float(values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot())
        guard norm.isFinite else { throw TrainingError.nonFiniteGradient(key: key, context: context) }
        sumOfSquares += Double(norm) * Double(norm)
    }
    return Float(sumOfSquares.squareRoot())
}
