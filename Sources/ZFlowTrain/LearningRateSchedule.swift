import Foundation

/// The factor the base learning rate is multiplied by at each optimizer step, as a
/// `torch.optim.lr_scheduler.LambdaLR` with diffusers' lambdas (`diffusers.optimization`, 0.42):
/// the step with index `s` (0 for the first) uses `lr * multiplier(at: s)`, computed in Double as
/// Python does. Warm-up therefore starts at 0: the first step does not move the parameters.
public enum LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    /// `get_constant_schedule`: 1.
    case constant
    /// `get_constant_schedule_with_warmup`: `s / max(1, warmupSteps)` while `s < warmupSteps`, then 1.
    case linearWarmup(warmupSteps: Int)
    /// `get_cosine_schedule_with_warmup`: the warm-up above, then
    /// `max(0, 0.5 * (1 + cos(pi * cycles * 2 * progress)))` with
    /// `progress = (s - warmupSteps) / max(1, totalSteps - warmupSteps)`; `cycles` 0.5 decays
    /// from 1 to 0 over a half cosine.
    case cosine(warmupSteps: Int, totalSteps: Int, cycles: Double = 0.5)

    public func multiplier(at step: Int) -> Double {
        switch self {
        case .constant:
            return 1
        case let .linearWarmup(warmup):
            return step < warmup ? Double(step) / Double(max(1, warmup)) : 1
        case let .cosine(warmup, total, cycles):
            if step < warmup { return Double(step) / Double(max(1, warmup)) }
            let progress = Double(step - warmup) / Double(max(1, total - warmup))
            return max(0, 0.5 * (1 + cos(Double.pi * cycles * 2 * progress)))
        }
    }

    public var description: String {
        switch self {
        case .constant: "constant"
        case let .linearWarmup(warmup): "linear warm-up over \(warmup) steps"
        case let .cosine(warmup, total, cycles): "cosine over \(total) steps, \(warmup) warm-up, \(cycles) cycles"
        }
    }
}
