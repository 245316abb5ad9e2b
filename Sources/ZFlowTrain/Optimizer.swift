import ZFlowTensor

/// What an optimizer remembers between steps, keyed by parameter key as `torch.optim` keys
/// `optimizer.state[p]` by parameter: freezing, unfreezing or adding parameters never moves
/// state from one parameter to another.
public struct OptimizerState: Sendable {
    /// Optimizer steps taken so far: the step the learning-rate schedule is at.
    public var stepCount = 0
    /// Slot name (torch's: `exp_avg`, `exp_avg_sq`, `step`, `momentum_buffer`) -> parameter key
    /// -> tensor in storage owned by the state. A parameter gets its slots at its first update.
    public var slots: [String: TensorTree] = [:]

    public init() {}

    /// The slot `name` of parameter `key`, made by `create` the first time it is asked for.
    mutating func slot(_ name: String, of key: String, create: () -> Tensor) -> Tensor {
        if let existing = slots[name]?[key] { return existing }
        let made = create()
        slots[name, default: TensorTree()][key] = made
        return made
    }
}

/// An optimizer with PyTorch's semantics (see `Adam`, `SGD`).
public protocol Optimizer {
    /// Written into checkpoints and checked on resume: "adam", "adamw" or "sgd".
    var name: String { get }
    /// The slots this optimizer keeps per parameter.
    var slotNames: [String] { get }
    /// The hyper-parameters, as text for the checkpoint's metadata.
    var settings: [String: String] { get }
    /// The base learning rate, which `schedule` scales at each step.
    var learningRate: Double { get }
    var schedule: LearningRateSchedule { get }
    var state: OptimizerState { get set }

    /// Updates the owned tensor `parameter` in place from `gradient` at learning rate `rate`.
    mutating func update(_ parameter: Tensor, gradient: Tensor, key: String, rate: Double)
}

extension Optimizer {
    /// One optimizer step (`optimizer.step()` then `scheduler.step()` in PyTorch): every trainable
    /// parameter with a gradient in `gradients` is updated at the scheduled learning rate;
    /// trainable parameters without one are left alone, as torch skips a parameter whose `grad`
    /// is None. A gradient for a key that is not a parameter, for a frozen one, or of another
    /// shape is an error, and nothing is updated.
    public mutating func step(_ parameters: TrainableParameters, gradients: TensorTree) throws {
        try checkGradients(gradients, against: parameters)
        let rate = learningRate * schedule.multiplier(at: state.stepCount)
        for key in gradients.keys {
            let parameter = parameters.ownedTensor(key)
            update(parameter, gradient: gradients[key]!, key: key, rate: rate)
            // A model computing with this storage must not keep values derived from the old
            // contents (Winograd-transformed conv weights).
            parameter.storage.contentsChanged()
        }
        state.stepCount += 1
    }

    /// The learning rate the next step will use.
    public var currentLearningRate: Double { learningRate * schedule.multiplier(at: state.stepCount) }
}

/// Throws unless every gradient belongs to a trainable parameter of the same shape.
func checkGradients(_ gradients: TensorTree, against parameters: TrainableParameters) throws {
    for key in gradients.keys {
        guard let parameter = parameters[key] else { throw TrainingError.unknownParameter(key: key, context: "gradients") }
        guard parameters.isTrainable(key) else { throw TrainingError.frozenParameter(key: key) }
        let shape = gradients[key]!.shape
        guard shape == parameter.shape else {
            throw TrainingError.shapeMismatch(key: key, context: "gradient", shape: shape, expected: parameter.shape)
        }
    }
}

/// Runs `body` over the elements `0..<count` on all cores for large tensors. Every element is
/// updated independently, so the split never changes a result.
func forEachElement(_ count: Int, _ body: (Int) -> Void) {
    parallelRanges(count, costPerItem: 8) { range in
        for index in range { body(index) }
    }
}
