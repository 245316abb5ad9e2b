import Foundation
import ZFlowTensor

/// `torch.optim.Adam` and `torch.optim.AdamW` (amsgrad, maximize and per-group settings are not
/// offered), following `_single_tensor_adam` of torch 2.13 operation by operation in Float32, with
/// the scalars in Double where torch keeps Python floats:
///
///     step += 1                                      (a Float32 count, as torch's state["step"])
///     AdamW: p = p * Float(1 - lr*wd)                 decoupled decay, first
///     Adam:  g = fma(Float(wd), p, g)                 L2: grad.add(param, alpha=wd)
///     m = fma(Float(1-b1), g - m, m)                  exp_avg.lerp_(grad, 1-b1); for 1-b1 >= 0.5
///                                                     torch's lerp is fma(Float(1-b1) - 1, g - m, g)
///     v = fma(Float(1-b2) * g, g, v * Float(b2))      exp_avg_sq.mul_(b2).addcmul_(grad, grad, 1-b2)
///     bc1 = 1 - b1^step, bc2 = 1 - b2^step, stepSize = lr / bc1      (Double, as Python computes them)
///     denom = sqrt(v) / Float(bc2^0.5) + Float(eps)   eps after the bias-corrected square root
///     p = p + (Float(-stepSize) * m) / denom          param.addcdiv_(exp_avg, denom, value=-stepSize)
///
/// The fused multiply-adds are where torch's CPU kernels (vectorised lerp, add with alpha,
/// addcmul) fuse. Measured against torch on its own inputs, this order reproduces every value
/// bit for bit except where torch's CPU `sqrt` (MKL VML, not correctly rounded) differs from
/// the correctly rounded `squareRoot()` by one ulp (docs/parity.md, "Optimizers").
public struct Adam: Optimizer {
    public enum WeightDecay: String, Sendable {
        /// `torch.optim.Adam`: `weight_decay * param` added to the gradient.
        case l2
        /// `torch.optim.AdamW`: `param *= 1 - lr * weight_decay` before the Adam step.
        case decoupled
    }

    public let learningRate: Double
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    public let weightDecay: Double
    public let decay: WeightDecay
    public let schedule: LearningRateSchedule
    public var state = OptimizerState()

    /// `torch.optim.Adam` with its defaults.
    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0, decay: WeightDecay = .l2, schedule: LearningRateSchedule = .constant) throws {
        try requireSetting("learning rate", learningRate, learningRate >= 0, "must be >= 0")
        try requireSetting("beta1", beta1, beta1 >= 0 && beta1 < 1, "must be in [0, 1)")
        try requireSetting("beta2", beta2, beta2 >= 0 && beta2 < 1, "must be in [0, 1)")
        try requireSetting("epsilon", epsilon, epsilon >= 0, "must be >= 0")
        try requireSetting("weight decay", weightDecay, weightDecay >= 0, "must be >= 0")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decay = decay
        self.schedule = schedule
    }

    /// `torch.optim.AdamW` with its defaults (weight decay 1e-2).
    public static func adamW(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                             epsilon: Double = 1e-8, weightDecay: Double = 1e-2,
                             schedule: LearningRateSchedule = .constant) throws -> Adam {
        try Adam(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
                 decay: .decoupled, schedule: schedule)
    }

    public var name: String { decay == .decoupled ? "adamw" : "adam" }
    public var slotNames: [String] { ["exp_avg", "exp_avg_sq", "step"] }

    public var settings: [String: String] {
        ["lr": "\(learningRate)", "betas": "\(beta1),\(beta2)", "eps": "\(epsilon)", "weight_decay": "\(weightDecay)",
         "schedule": "\(schedule)"]
    }

    public mutating func update(_ parameter: Tensor, gradient: Tensor, key: String, rate: Double) {
        let count = parameter.count
        let stepTensor = state.slot("step", of: key) { Tensor(zeros: []) }
        let m = state.slot("exp_avg", of: key) { Tensor(zeros: parameter.shape) }.mutablePointer
        let v = state.slot("exp_avg_sq", of: key) { Tensor(zeros: parameter.shape) }.mutablePointer
        stepTensor.mutablePointer[0] += 1
        let step = Double(stepTensor.pointer[0])

        let decayFactor = Float(1 - rate * weightDecay), l2 = Float(weightDecay)
        let decoupled = decay == .decoupled, decays = weightDecay != 0
        let lerpWeight = Float(1 - beta1)
        // torch's lerp: start + w * (end - start) for |w| < 0.5, else end - (1 - w) * (end - start).
        let (lerpCoefficient, lerpFromEnd) = abs(lerpWeight) < 0.5 ? (lerpWeight, false) : (lerpWeight - 1, true)
        let b2 = Float(beta2), oneMinusB2 = Float(1 - beta2)
        let stepSize = rate / (1 - pow(beta1, step))
        let bc2Sqrt = Float(pow(1 - pow(beta2, step), 0.5))
        let eps = Float(epsilon), negativeStepSize = Float(-stepSize)
        let p = parameter.mutablePointer, g = gradient.pointer

        forEachElement(count) { i in
            var grad = g[i]
            if decays {
                if decoupled { p[i] = p[i] * decayFactor } else { grad = grad.addingProduct(l2, p[i]) }
            }
            let difference = grad - m[i]
            m[i] = (lerpFromEnd ? grad : m[i]).addingProduct(lerpCoefficient, difference)
            v[i] = (v[i] * b2).addingProduct(oneMinusB2 * grad, grad)
            let denominator = v[i].squareRoot() / bc2Sqrt + eps
            p[i] = p[i] + (negativeStepSize * m[i]) / denominator
        }
    }
}

/// Throws `TrainingError.invalidSetting` unless `valid`.
func requireSetting(_ name: String, _ value: Double, _ valid: Bool, _ reason: String) throws {
    guard valid else { throw TrainingError.invalidSetting(name: name, value: "\(value)", reason: reason) }
}
