import ZFlowTensor

/// `torch.optim.SGD` with dampening 0 (the only dampening offered), following `_single_tensor_sgd`
/// of torch 2.13 in Float32:
///
///     g = fma(p, Float(wd), g)                     grad.add(param, alpha=wd), when wd != 0
///     buf = g at the first step, then buf * Float(momentum) + g      (when momentum != 0)
///     g = nesterov ? fma(buf, Float(momentum), g) : buf
///     p = fma(g, Float(-lr), p)                    param.add_(grad, alpha=-lr)
///
/// This reproduces torch's values bit for bit (docs/parity.md, "Optimizers"); with lr 1,
/// momentum 0 and weight decay 0 a step changes every parameter by exactly minus its gradient.
public struct SGD: Optimizer {
    public let learningRate: Double
    public let momentum: Double
    public let weightDecay: Double
    public let nesterov: Bool
    public let schedule: LearningRateSchedule
    public var state = OptimizerState()

    public init(learningRate: Double = 1e-3, momentum: Double = 0, weightDecay: Double = 0, nesterov: Bool = false,
                schedule: LearningRateSchedule = .constant) throws {
        try requireSetting("learning rate", learningRate, learningRate >= 0, "must be >= 0")
        try requireSetting("momentum", momentum, momentum >= 0, "must be >= 0")
        try requireSetting("weight decay", weightDecay, weightDecay >= 0, "must be >= 0")
        try requireSetting("momentum", momentum, !nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.schedule = schedule
    }

    public var name: String { "sgd" }
    public var slotNames: [String] { momentum != 0 ? ["momentum_buffer"] : [] }

    public var settings: [String: String] {
        ["lr": "\(learningRate)", "momentum": "\(momentum)", "weight_decay": "\(weightDecay)",
         "nesterov": "\(nesterov)", "schedule": "\(schedule)"]
    }

    public mutating func update(_ parameter: Tensor, gradient: Tensor, key: String, rate: Double) {
        let p = parameter.mutablePointer, g = gradient.pointer
        let decay = Float(weightDecay), decays = weightDecay != 0
        let negativeRate = Float(-rate), mu = Float(momentum), nesterov = self.nesterov
        guard momentum != 0 else {
            forEachElement(parameter.count) { i in
                let grad = decays ? g[i].addingProduct(p[i], decay) : g[i]
                p[i] = p[i].addingProduct(grad, negativeRate)
            }
            return
        }
        let isFirst = state.slots["momentum_buffer"]?[key] == nil
        let buffer = state.slot("momentum_buffer", of: key) { Tensor(uninitialized: parameter.shape) }.mutablePointer
        forEachElement(parameter.count) { i in
            let grad = decays ? g[i].addingProduct(p[i], decay) : g[i]
            buffer[i] = isFirst ? grad : buffer[i] * mu + grad
            let direction = nesterov ? grad.addingProduct(buffer[i], mu) : buffer[i]
            p[i] = p[i].addingProduct(direction, negativeRate)
        }
    }
}
