import ZFlowTrain

/// The optimizer, its schedule and clipping for `zflow train` (torch's defaults where not given).
public struct TrainingHyperparameters: Sendable {
    public enum OptimizerName: String, CaseIterable, Sendable {
        case adamw, adam, sgd
    }

    public enum ScheduleName: String, CaseIterable, Sendable {
        case constant
        case linearWarmup = "linear-warmup"
        case cosine
    }

    public var optimizer: OptimizerName = .adamw
    public var learningRate = 1e-3
    public var momentum = 0.0
    /// nil: the optimizer's torch default (AdamW 1e-2, Adam and SGD 0).
    public var weightDecay: Double?
    public var adamEpsilon = 1e-8
    public var emaDecay: Float = 0.9999
    public var schedule: ScheduleName = .constant
    /// Warm-up steps of `linear-warmup` and `cosine`.
    public var warmup = 0
    /// `clip_grad_norm_`'s max norm; nil: no clipping.
    public var clipGradient: Float?
    /// BCE's `pos_weight` (torch's `BCEWithLogitsLoss(pos_weight=)`): nil is 1.
    public var positiveWeight: Float?
    /// The weight of the soft Dice loss added to BCE (`SegmentationLoss`); 0: BCE alone.
    public var diceWeight: Float = 0
    /// How the masks are resized to the logits for the loss.
    public var maskResize: MaskResize = .nearest

    public init() {}

    var loss: SegmentationLoss { SegmentationLoss(positiveWeight: positiveWeight, diceWeight: diceWeight, maskResize: maskResize) }

    /// The options that change the numbers, for the run's identity. `dice-weight` and
    /// `mask-resize` are listed only when not their defaults, so that the runs made before they
    /// existed keep their identity.
    var identity: [String: String] {
        var options = ["optimizer": optimizer.rawValue, "lr": "\(learningRate)", "momentum": "\(momentum)",
         "weight-decay": weightDecay.map { "\($0)" } ?? "default", "adam-eps": "\(adamEpsilon)", "ema-decay": "\(emaDecay)",
         "schedule": schedule.rawValue, "warmup": "\(warmup)", "clip-grad": clipGradient.map { "\($0)" } ?? "none",
         "pos-weight": positiveWeight.map { "\($0)" } ?? "none"]
        if diceWeight != 0 { options["dice-weight"] = "\(diceWeight)" }
        if maskResize != .nearest { options["mask-resize"] = maskResize.rawValue }
        return options
    }

    /// The optimizer for a run of `totalSteps` steps (the cosine schedule decays over them).
    func makeOptimizer(totalSteps: Int) throws -> any Optimizer {
        let schedule: LearningRateSchedule = switch self.schedule {
        case .constant: .constant
        case .linearWarmup: .linearWarmup(warmupSteps: warmup)
        case .cosine: .cosine(warmupSteps: warmup, totalSteps: totalSteps)
        }
        return switch optimizer {
        case .adamw:
            try Adam.adamW(learningRate: learningRate, epsilon: adamEpsilon, weightDecay: weightDecay ?? 1e-2, schedule: schedule)
        case .adam:
            try Adam(learningRate: learningRate, epsilon: adamEpsilon, weightDecay: weightDecay ?? 0, schedule: schedule)
        case .sgd:
            try SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay ?? 0, schedule: schedule)
        }
    }
}
