import Foundation
import ZFlowBatch
import ZFlowGraph

/// `zflow train`: for each step the next `--batch` samples (manifest order, or a seeded order per
/// epoch with `--augment reference`, which also crops each and draws its template, t and noise
/// seed) run through the engine up to ZNet's inputs (memoized: frozen), then ZNet (with its pools
/// for cross_attention) runs on them as one batch on a gradient tape; the loss is BCE-with-logits
/// (the mean over the batch) against each mask resized with nearest to the logits; the gradients may be clipped, the optimizer steps the
/// `--train` parameters on its schedule, and the EMA follows (LitEma's rule). `TrainingLoop`
/// holds the loop; this type checks the configuration and prepares the run.
public final class ZNetTrainer: Sendable {
    public let engine: Engine

    public init(engine: Engine) {
        self.engine = engine
    }

    /// Trains (or, with `resume`, continues) and writes the run folder.
    public func run(_ config: TrainingConfiguration,
                    progress: @escaping @Sendable (TrainingEvent) -> Void = { _ in }) async throws -> TrainingOutcome {
        try check(config)
        let values = try config.graph.parameterValues(config.settings)
        let plan = try ZNetTrainingPlan(graph: config.graph, logits: config.logits, values: values)
        let text = try TrainedTextSource.reached(by: config.trainPatterns, graph: config.graph, plan: plan, values: values)
        let headLogitBias = config.headInitialisation == .upsampler
            ? try ForegroundPrior.logit(of: config.dataset, positiveWeight: config.hyperparameters.positiveWeight) : nil
        let model = try TrainedZNet(weights: plan.weights, fusion: plan.fusion, initialisation: config.initialisation,
                                    seed: config.seed, stableDiffusion: plan.stableDiffusionWeights, train: config.trainPatterns,
                                    text: text, recomputingBlocks: config.recompute, upsamplingHeadBias: headLogitBias)
        model.workers = config.workers
        let optimizer = try config.hyperparameters.makeOptimizer(totalSteps: config.totalSteps)
        let folder = TrainingRunFolder(config.output, format: config.checkpointFormat)
        try folder.bind(try config.runIdentity(), overwrite: config.overwrite, resume: config.resume,
                        totalSteps: config.totalSteps)
        let upstream = FrozenUpstream(engine: engine, graph: config.graph, plan: plan, settings: config.settings,
                                      imageParam: config.imageParam, phraseParam: config.phraseParam,
                                      concurrency: config.concurrency, text: text)
        let loop = TrainingLoop(config: config, plan: plan, model: model, folder: folder, upstream: upstream,
                                validator: config.validation.map { Validator(settings: $0, upstream: upstream) },
                                progress: progress)
        return try await loop.run(optimizer)
    }

    private func check(_ config: TrainingConfiguration) throws {
        guard config.steps >= 1 else { throw BatchError("--steps must be at least 1, got \(config.steps)") }
        if let epochs = config.epochs, epochs < 1 { throw BatchError("--epochs must be at least 1, got \(epochs)") }
        guard config.batch >= 1 else { throw BatchError("--batch must be at least 1, got \(config.batch)") }
        guard config.checkpointEvery >= 1 else { throw BatchError("--checkpoint-every must be at least 1, got \(config.checkpointEvery)") }
        if config.headInitialisation == .upsampler, ![.random, .stableDiffusion].contains(config.initialisation) {
            throw BatchError("--head-init upsampler replaces the head of a drawn start: it needs --init random or --init sd")
        }
        guard !config.dataset.samples.isEmpty else { throw BatchError("\(config.dataset.url.path): no samples to train on") }
        guard config.batch <= config.dataset.samples.count else {
            throw BatchError("--batch \(config.batch) is more than the \(config.dataset.samples.count) sample(s) of "
                + "\(config.dataset.url.path): a batch holds each sample of an epoch at most once")
        }
        if let validation = config.validation {
            guard !validation.dataset.samples.isEmpty else { throw BatchError("--val \(validation.dataset.url.path): no samples") }
            if let every = validation.every, every < 1 { throw BatchError("--val-every must be at least 1, got \(every)") }
        }
        var bound = [config.imageParam, config.phraseParam]
        if config.augmentation == .reference {
            bound += ReferenceBinding.names
        } else if config.timesteps != nil {
            throw BatchError("--timesteps restricts --augment reference's t; with --augment none t is the graph's")
        }
        if let timesteps = config.timesteps {
            guard !timesteps.isEmpty else { throw BatchError("--timesteps: the list is empty") }
            if let bad = timesteps.first(where: { !(0...999).contains($0) }) {
                throw BatchError("--timesteps: \(bad) is not a timestep of SD's schedule (0...999)")
            }
        }
        for name in bound {
            guard let param = config.graph.param(named: name) else {
                let why = [config.imageParam, config.phraseParam].contains(name) ? "the dataset" : "--augment reference"
                throw BatchError("\(config.graph.source.name) has no parameter '\(name)' for \(why) to bind "
                    + "(it has: \(config.graph.params.map(\.name).joined(separator: ", ")); see docs/training.md)")
            }
            guard config.settings[name] == nil else { throw BatchError("--set \(name): this parameter is bound by zflow train per step") }
            if ReferenceBinding.names.contains(name), config.augmentation == .reference, !ReferenceBinding.fits(name, param.defaultValue) {
                throw BatchError("\(config.graph.source.name) line \(param.range.start.line): param '\(name)' is a \(param.type); "
                    + "--augment reference binds it to " + (name == "template" ? "a String" : "an Int"))
            }
        }
    }
}

/// The graph params `--augment reference` binds per step.
enum ReferenceBinding {
    static let names = ["template", "t", "seed"]

    /// Whether `value` (a param's default) has the type `name` is bound to: String for the
    /// template, Int for t and the noise seed.
    static func fits(_ name: String, _ value: Constant) -> Bool {
        switch (name, value) {
        case ("template", .string), ("t", .int), ("seed", .int): true
        default: false
        }
    }

    static func values(_ draw: ReferenceDraw) -> [String: Constant] {
        ["template": .string(draw.template), "t": .int(draw.t), "seed": .int(draw.noiseSeed)]
    }
}
