import ArgumentParser
import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowTraining

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a graph's ZNet (and its attention pools) on a dataset.",
        discussion: """
            Per step, each of the next --batch samples in manifest order (--augment none)
            binds --image-param and --phrase-param; the graph runs up to the inputs of the ZNet
            node that produces --logits (everything upstream is frozen and memoized);
            ZNet, with the pools of an AttentionPool node feeding it, runs on a gradient
            tape on the step's samples as one batch; the loss is BCE-with-logits (the mean
            over the batch) against each mask resized with nearest to the logits. Every model.diffusion_model.* tensor of ZNet's weights file trains; an
            EMA follows (LitEma's rule). Writes RUN/step-N.safetensors at every K-th step
            of --checkpoint-every K and at the last step, RUN/last.safetensors (training
            copy, EMA, optimizer state), RUN/log.jsonl (one line per step) and
            RUN/run.json (the run's identity).
            Not implemented yet: --resume, --augment reference, --val, grids.
            """)

    @Argument(help: ArgumentHelp("The .zflow graph file.", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("A JSON Lines dataset: {\"id\", \"image\", \"phrase\", \"mask\"} per line.", valueName: "MANIFEST"))
    var dataset: String

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(
        "Folder for run.json, log.jsonl, step-N.safetensors, last.safetensors.", valueName: "RUN"))
    var output: String

    @OptionGroup var binding: DatasetBindingOptions

    @Option(help: ArgumentHelp("Sample augmentation; only 'none' (manifest order, no crop) is implemented.", valueName: "MODE"))
    var augment = "none"

    @Option(help: ArgumentHelp("Samples per step, run as one batch (the loss is their mean).", valueName: "N"))
    var batch = 1

    @Option(help: ArgumentHelp("Optimizer steps.", valueName: "N"))
    var steps = 1

    @Option(help: ArgumentHelp("Seed (recorded; --augment none draws nothing at random).", valueName: "S"))
    var seed = 0

    @Option(help: ArgumentHelp("adamw or sgd (torch.optim semantics).", valueName: "NAME"))
    var optimizer = TrainingHyperparameters.OptimizerName.adamw

    @Option(help: ArgumentHelp("Learning rate.", valueName: "LR"))
    var lr = 1e-3

    @Option(help: ArgumentHelp("SGD momentum.", valueName: "M"))
    var momentum = 0.0

    @Option(help: ArgumentHelp("Weight decay (default: AdamW 0.01, SGD 0).", valueName: "W"))
    var weightDecay: Double?

    @Option(help: ArgumentHelp("AdamW epsilon.", valueName: "E"))
    var adamEps = 1e-8

    @Option(help: ArgumentHelp("Largest EMA decay (LitEma).", valueName: "D"))
    var emaDecay: Float = 0.9999

    @Option(help: ArgumentHelp("BCE's pos_weight: the weight of foreground pixels (torch BCEWithLogitsLoss(pos_weight=)); default 1.", valueName: "W"))
    var posWeight: Float?

    @Option(help: ArgumentHelp("Write RUN/step-N.safetensors every K steps (and at the last step).", valueName: "K"))
    var checkpointEvery = 1000

    @Option(help: ArgumentHelp("safetensors, or ckpt (Lightning-style zip + pickle that torch.load(weights_only=True) reads).",
                               valueName: "FORMAT"))
    var checkpointFormat = CheckpointFormat.safetensors

    @Flag(help: "Recompute each ResBlock and transformer in backward instead of keeping its activations (less memory).")
    var recompute = false

    @Flag(help: "Start RUN over when it holds another training run.")
    var overwrite = false

    @OptionGroup var runner: EngineCommandOptions

    func validate() throws {
        guard augment == "none" else {
            throw ValidationError("--augment \(augment): only 'none' is implemented (--augment reference is not yet)")
        }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1") }
        guard lr >= 0, lr.isFinite else { throw ValidationError("--lr must be a finite number >= 0") }
        guard momentum >= 0, momentum.isFinite else { throw ValidationError("--momentum must be a finite number >= 0") }
        guard (weightDecay ?? 0) >= 0, (weightDecay ?? 0).isFinite else { throw ValidationError("--weight-decay must be a finite number >= 0") }
        guard adamEps >= 0, adamEps.isFinite else { throw ValidationError("--adam-eps must be a finite number >= 0") }
        guard emaDecay >= 0, emaDecay <= 1 else { throw ValidationError("--ema-decay must be in [0, 1]") }
        guard (posWeight ?? 1) > 0, (posWeight ?? 1).isFinite else { throw ValidationError("--pos-weight must be a finite number > 0") }
        guard optimizer == .sgd || momentum == 0 else { throw ValidationError("--momentum is an SGD option; adamw has none") }
    }

    func run() async throws {
        let registry = try runner.plugins.makeRegistry()
        let graph = try loadGraph(file, registry: registry)
        let parameters = try parameterSettings(binding.settings, graph: graph)
        let printer = runner.quiet ? nil : TrainProgressPrinter(steps: steps)
        let steps = try await reportingRunErrors(dataset: dataset) {
            var configuration = TrainingConfiguration(graph: graph, dataset: try DatasetFiles.load(URL(fileURLWithPath: dataset)),
                                                      output: URL(fileURLWithPath: output))
            configuration.plugins = runner.plugins.paths
            configuration.settings = parameters
            configuration.imageParam = binding.imageParam
            configuration.phraseParam = binding.phraseParam
            configuration.logits = binding.logits
            configuration.steps = self.steps
            configuration.batch = batch
            configuration.recompute = recompute
            configuration.seed = seed
            configuration.checkpointEvery = checkpointEvery
            configuration.checkpointFormat = checkpointFormat
            configuration.hyperparameters.optimizer = optimizer
            configuration.hyperparameters.learningRate = lr
            configuration.hyperparameters.momentum = momentum
            configuration.hyperparameters.weightDecay = weightDecay
            configuration.hyperparameters.adamEpsilon = adamEps
            configuration.hyperparameters.emaDecay = emaDecay
            configuration.hyperparameters.positiveWeight = posWeight
            configuration.overwrite = overwrite
            configuration.concurrency = runner.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
            let trainer = ZNetTrainer(engine: Engine(registry: registry, cache: runner.cache.engineOptions))
            defer { printer?.finish() }
            return try await trainer.run(configuration) { printer?.show($0) }
        }
        printError("wrote \(ZNetTrainer.lastCheckpoint(URL(fileURLWithPath: output), format: checkpointFormat).relativePath) after \(steps.count) steps "
            + String(format: "(last loss %.6f)", steps.last?.loss ?? .nan))
    }
}

extension TrainingHyperparameters.OptimizerName: ExpressibleByArgument {}
extension CheckpointFormat: ExpressibleByArgument {}

/// One status line per step on stderr: loss, learning rate, steps/s and ETA.
final class TrainProgressPrinter: @unchecked Sendable {
    private let interactive = isatty(STDERR_FILENO) != 0
    private let steps: Int
    private let start = DispatchTime.now()

    init(steps: Int) { self.steps = steps }

    func show(_ step: TrainingStep) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let rate = Double(step.step) / max(elapsed, 1e-9)
        let line = "step \(step.step)/\(steps) \(step.sample): " + String(format: "loss %.6f, lr %g, %.2f steps/s, ", step.loss, step.lr, rate)
            + "eta \(BatchProgressPrinter.duration(Double(steps - step.step) / rate))"
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
