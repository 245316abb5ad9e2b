import Foundation

// Training losses: each returns one value (shape []), summed in Double.

/// Matches `torch.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=w)` with the mean
/// reduction, in torch's numerically stable form: mean of (1 - y) x + (1 + (w - 1) y) softplus(-x),
/// softplus(-x) = log1p(exp(-|x|)) + max(-x, 0). `positiveWeight` nil is w = 1.
public func bceWithLogits(_ logits: Tensor, target: Tensor, positiveWeight: Float? = nil) throws -> Tensor {
    try requireSameShape("bceWithLogits", logits, target)
    let weight = Double(positiveWeight ?? 1)
    var total: Double = 0
    for (x, y) in zip(logits.buffer, target.buffer) {
        let x = Double(x), y = Double(y)
        total += (1 - y) * x + (1 + (weight - 1) * y) * softplus(-x)
    }
    let result = Tensor(shape: [], scalars: [Float(total / Double(logits.count))])
    GradientTape.note("bceWithLogits", inputs: [logits, target], output: result,
                      pullback: bceWithLogitsBackward(logits, target: target, positiveWeight: weight))
    return result
}

/// Matches `torch.nn.functional.mse_loss(a, b)` (mean of the squared differences).
public func mse(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try requireSameShape("mse", a, b)
    var total: Double = 0
    for (x, y) in zip(a.buffer, b.buffer) { total += (Double(x) - Double(y)) * (Double(x) - Double(y)) }
    let result = Tensor(shape: [], scalars: [Float(total / Double(a.count))])
    GradientTape.note("mse", inputs: [a, b], output: result, pullback: mseBackward(a, b))
    return result
}

/// The soft Dice loss on logits, per sample (dimension 0) and averaged over the batch:
/// p = sigmoid(x), loss_n = 1 - (2 Σ p t + smooth) / (Σ p + Σ t + smooth), sums over everything
/// but dimension 0, smooth = 1 by default.
public func diceLoss(_ logits: Tensor, target: Tensor, smooth: Float = 1) throws -> Tensor {
    try requireSameShape("diceLoss", logits, target)
    guard logits.rank >= 1, logits.shape[0] > 0 else {
        throw ShapeError("diceLoss", "logits \(logits.shape) need a batch dimension of at least one sample")
    }
    let samples = diceSums(logits, target: target)
    let total = samples.reduce(0) { $0 + 1 - (2 * $1.intersection + Double(smooth)) / ($1.union + Double(smooth)) }
    let result = Tensor(shape: [], scalars: [Float(total / Double(samples.count))])
    GradientTape.note("diceLoss", inputs: [logits, target], output: result,
                      pullback: diceLossBackward(logits, target: target, smooth: Double(smooth)))
    return result
}

/// Per sample: Σ p t and Σ p + Σ t, with p = sigmoid(logits).
func diceSums(_ logits: Tensor, target: Tensor) -> [(intersection: Double, union: Double)] {
    let size = logits.count / logits.shape[0]
    return (0..<logits.shape[0]).map { sample in
        var intersection: Double = 0, union: Double = 0
        for index in (sample * size)..<((sample + 1) * size) {
            let p = logistic(Double(logits.pointer[index])), t = Double(target.pointer[index])
            intersection += p * t
            union += p + t
        }
        return (intersection, union)
    }
}

/// log(1 + exp(x)) without overflow.
func softplus(_ x: Double) -> Double { log1p(exp(-abs(x))) + max(x, 0) }

func logistic(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

private func requireSameShape(_ operation: String, _ a: Tensor, _ b: Tensor) throws {
    guard a.shape == b.shape else { throw ShapeError(operation, "input \(a.shape) and target \(b.shape) differ") }
}
