import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowIO
import ZFlowModels
import ZFlowNodes
import ZFlowTensor
import ZFlowTrain

/// The optimizer and its hyper-parameters for `zflow train` (torch's defaults where not given).
public struct TrainingHyperparameters: Sendable {
    public enum OptimizerName: String, CaseIterable, Sendable {
        case adamw, sgd
    }

    public var optimizer: OptimizerName = .adamw
    public var learningRate = 1e-3
    public var momentum = 0.0
    /// nil: the optimizer's torch default (AdamW 1e-2, SGD 0).
    public var weightDecay: Double?
    public var adamEpsilon = 1e-8
    public var emaDecay: Float = 0.9999
    /// BCE's `pos_weight` (torch's `BCEWithLogitsLoss(pos_weight=)`): nil is 1.
    public var positiveWeight: Float?

    public init() {}

    /// The options that change the numbers, for the run's identity.
    var identity: [String: String] {
        ["optimizer": optimizer.rawValue, "lr": "\(learningRate)", "momentum": "\(momentum)",
         "weight-decay": weightDecay.map { "\($0)" } ?? "default", "adam-eps": "\(adamEpsilon)", "ema-decay": "\(emaDecay)",
         "pos-weight": positiveWeight.map { "\($0)" } ?? "none"]
    }

    func makeOptimizer() throws -> any Optimizer {
        switch optimizer {
        case .adamw:
            try Adam.adamW(learningRate: learningRate, epsilon: adamEpsilon, weightDecay: weightDecay ?? 1e-2)
        case .sgd:
            try SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay ?? 0)
        }
    }
}

/// The file format of `zflow train`'s checkpoints (`TrainingCheckpoint` chooses by extension).
public enum CheckpointFormat: String, CaseIterable, Sendable {
    /// `.safetensors`.
    case safetensors
    /// `.ckpt`: Lightning-style zip + pickle, what `torch.load(weights_only=True)` reads.
    case ckpt
}

public struct TrainingConfiguration: Sendable {
    public var graph: CheckedGraph
    public var dataset: DatasetManifest
    public var output: URL
    public var plugins: [String] = []
    /// `--set` values (already parsed by the params' types).
    public var settings: [String: Constant] = [:]
    public var imageParam = "image"
    public var phraseParam = "prompt"
    public var logits = "logits"
    public var steps = 1
    /// Samples per step: the next this many in manifest order.
    public var batch = 1
    /// Recompute each ResBlock and spatial transformer in backward instead of keeping its
    /// activations. Not part of the run's identity: the numbers are the same, bit for bit.
    public var recompute = false
    /// Recorded in the run's identity; `--augment none` draws nothing at random.
    public var seed = 0
    /// Writes `step-N.<format>` (and `last.<format>`) every this many steps; the last step always.
    public var checkpointEvery = 1000
    public var checkpointFormat = CheckpointFormat.safetensors
    public var hyperparameters = TrainingHyperparameters()
    public var overwrite = false
    public var concurrency = ProcessInfo.processInfo.activeProcessorCount

    public init(graph: CheckedGraph, dataset: DatasetManifest, output: URL) {
        self.graph = graph
        self.dataset = dataset
        self.output = output
    }
}

/// One optimizer step, as written to `log.jsonl`.
public struct TrainingStep: Codable, Sendable {
    public var step: Int
    public var sample: String
    public var loss: Float
    public var lr: Double
    public var seconds: Double
}

/// `zflow train` with `--augment none --batch 1`: for each step, the next sample in manifest
/// order runs through the engine up to ZNet's inputs (memoized: frozen), then ZNet (with its
/// pools for cross_attention) runs on a gradient tape; the loss is BCE-with-logits against the
/// sample's mask resized with nearest to the logits; the optimizer steps every
/// `model.diffusion_model.*` parameter of the weights file and the EMA follows (LitEma's rule).
public final class ZNetTrainer: Sendable {
    public let engine: Engine

    public init(engine: Engine) {
        self.engine = engine
    }

    public static func lastCheckpoint(_ folder: URL, format: CheckpointFormat = .safetensors) -> URL {
        folder.appendingPathComponent("last.\(format.rawValue)")
    }
    public static func stepCheckpoint(_ folder: URL, step: Int, format: CheckpointFormat = .safetensors) -> URL {
        folder.appendingPathComponent("step-\(step).\(format.rawValue)")
    }
    public static func log(_ folder: URL) -> URL { folder.appendingPathComponent("log.jsonl") }

    /// Trains and writes the run folder; returns the steps taken.
    public func run(_ config: TrainingConfiguration,
                    progress: @Sendable (TrainingStep) -> Void = { _ in }) async throws -> [TrainingStep] {
        guard config.steps >= 1 else { throw BatchError("--steps must be at least 1, got \(config.steps)") }
        guard config.batch >= 1 else { throw BatchError("--batch must be at least 1, got \(config.batch)") }
        guard config.checkpointEvery >= 1 else { throw BatchError("--checkpoint-every must be at least 1, got \(config.checkpointEvery)") }
        guard !config.dataset.samples.isEmpty else { throw BatchError("\(config.dataset.url.path): no samples to train on") }
        for name in [config.imageParam, config.phraseParam] {
            guard config.graph.param(named: name) != nil else {
                throw BatchError("\(config.graph.source.name) has no parameter '\(name)' to bind the dataset to "
                    + "(it has: \(config.graph.params.map(\.name).joined(separator: ", ")); see --image-param/--phrase-param)")
            }
            guard config.settings[name] == nil else { throw BatchError("--set \(name): this parameter is bound by the dataset") }
        }
        let plan = try ZNetTrainingPlan(graph: config.graph, logits: config.logits,
                                        values: config.graph.parameterValues(config.settings))
        let optimizer = try config.hyperparameters.makeOptimizer()
        let model = try TrainedZNet(weights: plan.weights, fusion: plan.fusion, seed: UInt64(truncatingIfNeeded: config.seed),
                                    recomputingBlocks: config.recompute)
        var ema = try ExponentialMovingAverage(of: model.parameters, decay: config.hyperparameters.emaDecay)
        try bind(config)
        return try await loop(config, plan: plan, model: model, optimizer: optimizer, ema: &ema, progress: progress)
    }

    private func loop(_ config: TrainingConfiguration, plan: ZNetTrainingPlan, model: TrainedZNet, optimizer: some Optimizer,
                      ema: inout ExponentialMovingAverage, progress: @Sendable (TrainingStep) -> Void) async throws -> [TrainingStep] {
        var optimizer = optimizer
        let log = try FileHandle(forWritingTo: Self.log(config.output))
        defer { try? log.close() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var steps: [TrainingStep] = []
        for step in 1...config.steps {
            let start = DispatchTime.now()
            let samples = config.dataset.samples(forStep: step, batchSize: config.batch)
            var batch: [TrainedZNet.Example] = []
            for sample in samples {
                let place = "step \(step), sample '\(sample.id)' (line \(sample.line))"
                let inputs = try await frozenInputs(config, plan: plan, sample: sample, place: place)
                do { batch.append(.init(inputs: inputs, truth: try GroundTruthMask(contentsOf: sample.mask), place: place)) } catch {
                    throw BatchError("\(place): mask \(sample.mask.path): \(error)")
                }
            }
            let rate = optimizer.currentLearningRate
            let (loss, gradients) = try model.lossAndGradients(batch, positiveWeight: config.hyperparameters.positiveWeight)
            guard loss.isFinite else {
                throw BatchError("step \(step), samples \(samples.map { "'\($0.id)'" }.joined(separator: ", ")): the loss is \(loss)",
                                 isNodeFailure: true)
            }
            try optimizer.step(model.parameters, gradients: gradients)
            try ema.update(from: model.parameters)
            if step % config.checkpointEvery == 0 || step == config.steps {
                for file in [Self.stepCheckpoint(config.output, step: step, format: config.checkpointFormat),
                             Self.lastCheckpoint(config.output, format: config.checkpointFormat)] {
                    try TrainingCheckpoint.write(model.parameters, optimizer: optimizer, ema: ema, to: file)
                    try copySidecar(of: plan.weights, to: file)
                }
            }
            let record = TrainingStep(step: step, sample: samples.map(\.id).joined(separator: ","), loss: loss, lr: rate,
                                      seconds: Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            try log.write(contentsOf: encoder.encode(record) + Data("\n".utf8))
            steps.append(record)
            progress(record)
        }
        return steps
    }

    /// The weights file's sidecar `<file>.json` (the architecture the shapes do not hold) goes
    /// beside each checkpoint, so that the checkpoint loads wherever the weights did.
    private func copySidecar(of weights: String, to checkpoint: URL) throws {
        func sidecar(_ url: URL) -> URL { url.deletingPathExtension().appendingPathExtension("json") }
        let source = sidecar(URL(fileURLWithPath: weights)), target = sidecar(checkpoint)
        guard FileManager.default.fileExists(atPath: source.path) else { return }
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
        try FileManager.default.copyItem(at: source, to: target)
    }

    /// ZNet's inputs for `sample`, from the engine (and its caches).
    private func frozenInputs(_ config: TrainingConfiguration, plan: ZNetTrainingPlan, sample: DatasetSample,
                              place: String) async throws -> TrainedZNet.Inputs {
        var parameters = config.settings
        parameters[config.imageParam] = .string(sample.image.path)
        parameters[config.phraseParam] = .string(sample.phrase)
        let report = try await engine.run(config.graph, parameters: parameters, outputs: plan.frozenOutputs,
                                          options: Engine.RunOptions(concurrency: config.concurrency, runSinks: false))
        guard report.succeeded else {
            throw BatchError("\(place): " + report.failures.map(\.description).joined(separator: "\n"), isNodeFailure: true)
        }
        func value<T>(_ reference: OutputReference, as type: T.Type) throws -> T {
            guard let value = report.outputs[reference] as? T else {
                throw BatchError("\(place): \(reference) gave no \(T.self) for ZNet node '\(plan.znetName)'")
            }
            return value
        }
        return TrainedZNet.Inputs(latent: try value(plan.latent, as: Tensor.self), text: try value(plan.text, as: Tensor.self),
                                  taps: try plan.features.map { try value($0, as: FeatureSet.self).taps } ?? [:])
    }

    /// Binds the output folder to this run: a folder of another run is refused with what
    /// differs unless `overwrite`; the log starts empty (there is no resume yet).
    private func bind(_ config: TrainingConfiguration) throws {
        var options = config.hyperparameters.identity
        options["logits"] = config.logits
        options["image-param"] = config.imageParam
        options["phrase-param"] = config.phraseParam
        options["steps"] = "\(config.steps)"
        options["seed"] = "\(config.seed)"
        options["checkpoint-every"] = "\(config.checkpointEvery)"
        options["augment"] = "none"
        options["batch"] = "\(config.batch)"
        let identity = try RunIdentity(graph: config.graph, plugins: config.plugins, dataset: config.dataset,
                                       settings: config.settings, grid: [], options: options)
        let folder = config.output, file = RunFiles.description(folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if !config.overwrite, FileManager.default.fileExists(atPath: file.path) {
            let existing: RunIdentity
            do { existing = try RunFiles.read(RunIdentity.self, from: file) } catch {
                throw BatchError("\(file.relativePath) is not the run.json of a training run (\(error)); "
                    + "rerun with --overwrite to start the folder over, or choose another -o")
            }
            let differences = existing.differences(to: identity)
            guard differences.isEmpty else {
                throw BatchError("\(folder.relativePath) holds another training run; what differs (folder -> this run):\n"
                    + differences.map { "  " + $0 }.joined(separator: "\n")
                    + "\nrerun with --overwrite to start the folder over, or choose another -o")
            }
        }
        let stale = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasPrefix("step-") || $0.hasPrefix("last.") }
        for name in stale { try FileManager.default.removeItem(at: folder.appendingPathComponent(name)) }
        try RunFiles.write(identity, to: file)
        _ = FileManager.default.createFile(atPath: Self.log(folder).path, contents: nil)
    }
}
