import Foundation
import Testing
import ZFlowIO
import ZFlowTensor
import ZFlowTrain

/// One fixture of tools/fixtures/optim.py: the parameters, per-step gradients and torch's
/// results of a few optimizer steps, with the settings torch used.
struct OptimizerScenario {
    static let names = ["adamw_cosine_clip_accumulate_ema", "adam_l2", "sgd_momentum_warmup", "sgd_nesterov"]

    let name: String
    let file: SafeTensorsFile
    let settings: [String: String]
    let parameterKeys: [String]

    init(_ name: String) throws {
        self.name = name
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/\(name).safetensors")
        file = try SafeTensorsFile(contentsOf: url)
        let pairs = try #require(file.metadata["settings"]).split(separator: ";").map { $0.split(separator: "=", maxSplits: 1) }
        settings = Dictionary(uniqueKeysWithValues: pairs.map { (String($0[0]), String($0[1])) })
        parameterKeys = file.keys.filter { $0.hasPrefix("init.") }.map { String($0.dropFirst("init.".count)) }
    }

    func number(_ setting: String) throws -> Double {
        try #require(settings[setting].flatMap(Double.init), "\(name): setting \(setting)")
    }

    var steps: Int { get throws { try Int(number("steps")) } }
    var microSteps: Int { get throws { settings["micro_steps"] == nil ? 1 : try Int(number("micro_steps")) } }

    /// The tensors stored under `prefix` + parameter key (parameters, gradients, EMA of one step).
    func tree(_ prefix: String) throws -> TensorTree {
        var tree = TensorTree()
        for key in parameterKeys where file.shape(of: prefix + key) != nil { tree[key] = try file.tensor(prefix + key) }
        return tree
    }

    func makeParameters() throws -> TrainableParameters {
        try TrainableParameters(tree("init."), frozen: settings["frozen"].map { [$0] } ?? [])
    }

    func makeSchedule() throws -> LearningRateSchedule {
        switch settings["schedule"] {
        case "constant": return .constant
        case "linear_warmup": return .linearWarmup(warmupSteps: try Int(number("warmup")))
        case "cosine": return .cosine(warmupSteps: try Int(number("warmup")), totalSteps: try Int(number("total")))
        case let other: throw TrainingError.invalidSetting(name: "schedule", value: "\(other ?? "nil")", reason: "unknown")
        }
    }

    func makeOptimizer() throws -> any Optimizer {
        let schedule = try makeSchedule()
        switch settings["optimizer"] {
        case "adamw":
            return try Adam.adamW(learningRate: number("lr"), beta1: number("beta1"), beta2: number("beta2"),
                                  epsilon: number("eps"), weightDecay: number("weight_decay"), schedule: schedule)
        case "adam":
            return try Adam(learningRate: number("lr"), beta1: number("beta1"), beta2: number("beta2"),
                            epsilon: number("eps"), weightDecay: number("weight_decay"), schedule: schedule)
        default:
            return try SGD(learningRate: number("lr"), momentum: number("momentum"), weightDecay: number("weight_decay"),
                           nesterov: settings["nesterov"] == "True", schedule: schedule)
        }
    }

    func makeEMA(_ parameters: TrainableParameters) throws -> ExponentialMovingAverage? {
        guard settings["ema_decay"] != nil else { return nil }
        return try ExponentialMovingAverage(of: parameters, decay: Float(number("ema_decay")))
    }
}

/// The fixture's training loop in ZFlow: accumulate the micro-steps, clip, step, update the EMA.
struct ScenarioRun {
    let scenario: OptimizerScenario
    let parameters: TrainableParameters
    var optimizer: any Optimizer
    var ema: ExponentialMovingAverage?

    init(_ scenario: OptimizerScenario) throws {
        self.scenario = scenario
        parameters = try scenario.makeParameters()
        optimizer = try scenario.makeOptimizer()
        ema = try scenario.makeEMA(parameters)
    }

    /// Runs step `index`; returns the learning rate used and the total norm when the scenario clips.
    mutating func step(_ index: Int) throws -> (rate: Double, norm: Float?) {
        var accumulator = try GradientAccumulator(microSteps: scenario.microSteps)
        for micro in 0..<accumulator.microSteps { try accumulator.add(scenario.tree("grad.\(index).\(micro).")) }
        var gradients = try accumulator.take()
        var norm: Float?
        if scenario.settings["max_norm"] != nil {
            (gradients, norm) = try clipGradientNorm(gradients, maxNorm: Float(scenario.number("max_norm")))
        }
        let rate = optimizer.currentLearningRate
        let parameters = self.parameters
        try optimizer.step(parameters, gradients: gradients)
        try ema?.update(from: parameters)
        return (rate, norm)
    }
}
