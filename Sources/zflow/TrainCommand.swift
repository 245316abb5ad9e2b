import ArgumentParser
import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowModels
import ZFlowTraining

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a graph's ZNet (and its attention pools) on a dataset.",
        discussion: """
            Per step the next --batch B samples (default 1) bind --image-param and \
            --phrase-param: in manifest order with --augment none; with --augment reference \
            in a seeded order per epoch, each as a random square crop holding at least 5% \
            foreground, with a random template of the reference's nine bound to the graph's \
            template param and t and the noise seed bound to its t and seed params. An epoch \
            is one pass over the manifest: ceil(N/B) steps, the last taking the samples left. \
            The graph runs up to the inputs of the ZNet node that produces --logits \
            (everything upstream is frozen and memoized); ZNet, with the pools of an \
            AttentionPool node feeding it, runs on a gradient tape on the step's samples as \
            one batch; the loss is BCE-with-logits (the mean over the batch) against each \
            mask resized to the logits with --mask-resize (nearest by default). The --train parameters step (clipped by \
            --clip-grad, on --schedule) and an EMA follows (LitEma's rule). A fusion whose \
            parameters the weights file lacks (a plugin's) starts from its initial values, \
            seeded by --seed. Writes RUN/step-N.safetensors at every K-th step of \
            --checkpoint-every K and at the last step, RUN/last.safetensors (training copy, \
            EMA, optimizer state; .ckpt with --checkpoint-format ckpt), RUN/log.jsonl (one \
            line per step), RUN/epochs.jsonl (one line per epoch), RUN/val.jsonl (with \
            --val) and RUN/run.json (the run's identity). --resume continues from \
            RUN/last.safetensors as if never stopped. With --val the last validation goes \
            to stdout as JSON. \
            --grid NAME=V1,V2,... (repeatable) trains one such run per point of the \
            cartesian product in RUN/NAME=VALUE,.../ (NAME a graph param, or seed: the \
            training seed), on one memo cache; each point is evaluated on --val after its \
            last step with its EMA weights (RUN/<point>/eval.json). A rerun skips finished \
            points and resumes an interrupted one; --shard i/n trains only the points p \
            with p % n == i. The run that finishes the last point prints the table of \
            variants (mean ± sample standard deviation over the seeds) on stdout.
            """)

    @Argument(help: ArgumentHelp("The .zflow graph file.", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("A JSON Lines dataset: {\"id\", \"image\", \"phrase\", \"mask\"} per line.", valueName: "MANIFEST"))
    var dataset: String

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(
        "Folder for run.json, log.jsonl, step-N.safetensors, last.safetensors.", valueName: "RUN"))
    var output: String

    @OptionGroup var binding: DatasetBindingOptions

    @Option(help: ArgumentHelp("none (manifest order, the graph's template, t and seed) or reference (crops, templates, "
        + "t and noise drawn per step from --seed).", valueName: "MODE"))
    var augment = TrainingConfiguration.Augmentation.none

    @Option(help: ArgumentHelp("With --augment reference: draw t from this list instead of [300, 500).", valueName: "T,T,..."))
    var timesteps: String?

    @Option(help: ArgumentHelp("Samples per step, run as one batch (the loss is their mean).", valueName: "N"))
    var batch = 1

    @Option(help: ArgumentHelp("Optimizer steps (default 1; not with --epochs).", valueName: "N"))
    var steps: Int?

    @Option(help: ArgumentHelp("Passes over the dataset, ceil(samples / --batch) steps each (instead of --steps).", valueName: "E"))
    var epochs: Int?

    @Option(help: ArgumentHelp("Seed of every draw (--augment reference, --init random, the starting values of fusion tensors the weights lack); default 0.", valueName: "S"))
    var seed: Int?

    @Option(name: .customLong("grid"), help: ArgumentHelp("Train a run per combination: NAME=V1,V2,..., NAME a graph param or seed "
        + "(the training seed); repeatable (cartesian product). Needs --val.", valueName: "NAME=VALUES"))
    var grid: [String] = []

    @Option(help: ArgumentHelp("With --grid: train only the points p with p % n == i (0 <= i < n).", valueName: "i/n"))
    var shard: String?

    @Option(help: ArgumentHelp("adamw, adam or sgd (torch.optim semantics).", valueName: "NAME"))
    var optimizer = TrainingHyperparameters.OptimizerName.adamw

    @Option(help: ArgumentHelp("Learning rate.", valueName: "LR"))
    var lr = 1e-3

    @Option(help: ArgumentHelp("Learning-rate schedule: constant, linear-warmup or cosine (diffusers' lambdas).", valueName: "NAME"))
    var schedule = TrainingHyperparameters.ScheduleName.constant

    @Option(help: ArgumentHelp("Warm-up steps of linear-warmup and cosine.", valueName: "N"))
    var warmup = 0

    @Option(help: ArgumentHelp("Clip the gradients' total 2-norm to MAX (torch's clip_grad_norm_).", valueName: "MAX"))
    var clipGrad: Float?

    @Option(help: ArgumentHelp("SGD momentum.", valueName: "M"))
    var momentum = 0.0

    @Option(help: ArgumentHelp("Weight decay (default: AdamW 0.01, Adam and SGD 0).", valueName: "W"))
    var weightDecay: Double?

    @Option(help: ArgumentHelp("Adam and AdamW epsilon.", valueName: "E"))
    var adamEps = 1e-8

    @Option(help: ArgumentHelp("Largest EMA decay (LitEma).", valueName: "D"))
    var emaDecay: Float = 0.9999

    @Option(help: ArgumentHelp("BCE's pos_weight: the weight of foreground pixels (torch BCEWithLogitsLoss(pos_weight=)); default 1.", valueName: "W"))
    var posWeight: Float?

    @Option(help: ArgumentHelp("Add W times the soft Dice loss per sample (DETR's dice_loss) to BCE; default 0, BCE alone "
        + "as the reference trains.", valueName: "W"))
    var diceWeight: Float = 0

    @Option(help: ArgumentHelp("How masks are resized to the logits for the loss: nearest (a 0/1 target from each cell's "
        + "top-left pixel, as the reference trains) or area (each cell's foreground fraction, a soft target).",
                               valueName: "nearest|area"))
    var maskResize = MaskResize.nearest

    @Option(help: ArgumentHelp("Train the weights whose checkpoint keys match GLOB (repeatable; default "
        + "model.diffusion_model.**, ZNet; cond_stage_model.** is the CLIP text encoder).", valueName: "GLOB"))
    var train: [String] = []

    @Option(name: .customLong("init"), help: ArgumentHelp("Start from a checkpoint's training copy, random (PyTorch's defaults) or sd (the paper's: "
        + "the graph's SD UNet, the rest random) instead of ZNet's weights.", valueName: "PATH|random|sd"))
    var initialisation: String?

    @Option(help: ArgumentHelp("With --init PATH: start from its training copy (model.diffusion_model.*) or its EMA "
        + "(model_ema.*, what inference uses: to fine-tune a trained model).", valueName: "training|ema"))
    var initCopy: LDZNetCheckpoint.Copy?

    @Option(help: ArgumentHelp("With --init random or sd: the head (final.*) as init draws it, or upsampler (increasing "
        + "identities and nearest x2 upsamplings, the last bias at the masks' foreground prior; docs/training.md).",
                               valueName: "init|upsampler"))
    var headInit = TrainingConfiguration.HeadInitialisation.fromInit

    @Option(help: ArgumentHelp("A manifest to validate on (the eval protocol: AP, IoU_FG, mIoU).", valueName: "MANIFEST"))
    var val: String?

    @Option(help: ArgumentHelp("Validate every K steps (and after the last; default: after the last only).", valueName: "K"))
    var valEvery: Int?

    @Option(help: ArgumentHelp("Validate the ema or the training weights.", valueName: "WHICH"))
    var valWeights = TrainingConfiguration.Validation.Weights.ema

    @Option(help: ArgumentHelp("Write RUN/step-N.safetensors every K steps (and at the last step).", valueName: "K"))
    var checkpointEvery = 1000

    @Option(help: ArgumentHelp("safetensors, or ckpt (Lightning-style zip + pickle that torch.load(weights_only=True) reads).",
                               valueName: "FORMAT"))
    var checkpointFormat = CheckpointFormat.safetensors

    @Flag(help: "Continue the run in RUN from its last.safetensors (only --steps or --epochs may grow).")
    var resume = false

    @Flag(help: "Recompute each ResBlock and transformer in backward instead of keeping its activations (less memory).")
    var recompute = false

    @Option(help: ArgumentHelp("Split each step's samples into N shares computed at once, each on one core with ZFlow's own "
                               + "kernels: faster for small models, whose ops gain nothing from being split over cores. "
                               + "Changes the rounding, so it is part of the run.", valueName: "N"))
    var workers = 1

    @Flag(help: "Start RUN over when it holds another training run.")
    var overwrite = false

    @OptionGroup var runner: EngineCommandOptions

    /// --init with --init-copy, as the training configuration takes them.
    private var startingPoint: TrainingConfiguration.Initialisation {
        switch initialisation.map(TrainingConfiguration.Initialisation.init(argument:)) {
        case let .checkpoint(path, _)?: .checkpoint(path, copy: initCopy ?? .training)
        case let other?: other
        case nil: .weightsFile
        }
    }

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        if initCopy != nil {
            guard case .checkpoint = startingPoint else {
                throw ValidationError("--init-copy chooses a copy of the checkpoint that --init PATH names; give --init PATH")
            }
        }
        guard steps == nil || epochs == nil else { throw ValidationError("--steps and --epochs: give one of them") }
        guard (steps ?? 1) >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard (epochs ?? 1) >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1") }
        guard lr >= 0, lr.isFinite else { throw ValidationError("--lr must be a finite number >= 0") }
        guard momentum >= 0, momentum.isFinite else { throw ValidationError("--momentum must be a finite number >= 0") }
        guard (weightDecay ?? 0) >= 0, (weightDecay ?? 0).isFinite else { throw ValidationError("--weight-decay must be a finite number >= 0") }
        guard adamEps >= 0, adamEps.isFinite else { throw ValidationError("--adam-eps must be a finite number >= 0") }
        guard emaDecay >= 0, emaDecay <= 1 else { throw ValidationError("--ema-decay must be in [0, 1]") }
        guard (posWeight ?? 1) > 0, (posWeight ?? 1).isFinite else { throw ValidationError("--pos-weight must be a finite number > 0") }
        guard diceWeight >= 0, diceWeight.isFinite else { throw ValidationError("--dice-weight must be a finite number >= 0") }
        guard optimizer == .sgd || momentum == 0 else { throw ValidationError("--momentum is an SGD option; \(optimizer.rawValue) has none") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be at least 0") }
        guard schedule != .constant || warmup == 0 else { throw ValidationError("--warmup needs --schedule linear-warmup or cosine") }
        if let clipGrad { guard clipGrad > 0, clipGrad.isFinite else { throw ValidationError("--clip-grad must be a finite number > 0") } }
        guard augment == .reference || timesteps == nil else { throw ValidationError("--timesteps needs --augment reference") }
        _ = try timestepList()
        guard val != nil || valEvery == nil else { throw ValidationError("--val-every needs --val") }
        guard (valEvery ?? 1) >= 1 else { throw ValidationError("--val-every must be at least 1") }
        guard !(resume && overwrite) else { throw ValidationError("--resume and --overwrite: give one of them") }
        guard shard == nil || !grid.isEmpty else { throw ValidationError("--shard needs --grid: it splits a grid's points") }
        if let shard {
            do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") }
        }
        guard seed == nil || !grid.contains(where: { $0.hasPrefix("seed=") }) else {
            throw ValidationError("--seed and --grid seed=...: give the training seed one way")
        }
    }

    private func timestepList() throws -> [Int]? {
        try timesteps.map { text in
            try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
                guard let t = Int(item.trimmingCharacters(in: .whitespaces)), (0...999).contains(t) else {
                    throw ValidationError("--timesteps \(text): '\(item)' is not a timestep of SD's schedule (0...999)")
                }
                return t
            }
        }
    }

    func run() async throws {
        let registry = try runner.plugins.makeRegistry()
        let graph = try loadGraph(file, registry: registry)
        let parameters = try parameterSettings(binding.settings, graph: graph)
        let trainer = ZNetTrainer(engine: Engine(registry: registry, cache: runner.cache.engineOptions))
        if grid.isEmpty {
            try await trainOne(trainer, graph: graph, parameters: parameters)
        } else {
            try await trainGrid(trainer, graph: graph, parameters: parameters)
        }
    }

    private func trainOne(_ trainer: ZNetTrainer, graph: CheckedGraph, parameters: [String: Constant]) async throws {
        let folder = TrainingRunFolder(URL(fileURLWithPath: output), format: checkpointFormat)
        let outcome = try await reportingRunErrors(dataset: dataset) {
            let configuration = try configuration(graph: graph, parameters: parameters)
            let printer = runner.quiet ? nil : TrainProgressPrinter(steps: configuration.totalSteps)
            defer { printer?.finish() }
            return try await trainer.run(configuration) { printer?.show($0) }
        }
        if outcome.steps.isEmpty {
            printError("\(folder.url.relativePath) is already at step \(outcome.resumedFrom): nothing to train")
        } else {
            printError("wrote \(folder.lastCheckpoint.relativePath) after step \(outcome.steps.last!.step) "
                + String(format: "(last loss %.6f)", outcome.steps.last!.loss))
        }
        if let final = outcome.validations.last {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(final), as: UTF8.self))
        }
    }

    /// Trains the grid's points (of --shard), then prints the table of variants when every point is finished.
    private func trainGrid(_ trainer: ZNetTrainer, graph: CheckedGraph, parameters: [String: Constant]) async throws {
        let outcome = try await reportingRunErrors(dataset: dataset) {
            let configuration = try configuration(graph: graph, parameters: parameters)
            let points = try TrainingGrid(grid, graph: graph)
            let printer = runner.quiet ? nil : TrainGridProgressPrinter(points: points.points.count, steps: configuration.totalSteps)
            defer { printer?.finish() }
            return try await TrainingGridRunner(trainer: trainer).run(configuration, grid: points,
                                                                     shard: try shard.map { try Shard(parsing: $0) } ?? .whole) {
                printer?.show($0)
            }
        }
        printError("trained \(outcome.trained.count) point(s), \(outcome.finished.count) finished before")
        guard outcome.pending.isEmpty else {
            printError("\(outcome.pending.count) point(s) of other shards are not finished yet (\(outcome.pending.joined(separator: " "))): "
                + "rerun without --shard to train what is left and print the table, or `zflow report \(output)` for the table so far")
            return
        }
        let table = try await reportingRunErrors(dataset: dataset) { try TrainingGridTable.load(URL(fileURLWithPath: output)) }
        for warning in table.warnings { printError("warning: \(warning)") }
        print(table.text, terminator: "")
    }

    /// The run as the options describe it (for a grid: what every point shares).
    private func configuration(graph: CheckedGraph, parameters: [String: Constant]) throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration(graph: graph, dataset: try DatasetFiles.load(URL(fileURLWithPath: dataset)),
                                                  output: URL(fileURLWithPath: output))
        configuration.plugins = runner.plugins.paths
        configuration.settings = parameters
        configuration.imageParam = binding.imageParam
        configuration.phraseParam = binding.phraseParam
        configuration.logits = binding.logits
        configuration.steps = steps ?? 1
        configuration.epochs = epochs
        configuration.batch = batch
        configuration.recompute = recompute
        configuration.workers = workers
        configuration.seed = seed ?? 0
        configuration.augmentation = augment
        configuration.timesteps = try timestepList()
        configuration.trainPatterns = train.isEmpty ? TrainingConfiguration.defaultTrainPatterns : train
        configuration.initialisation = startingPoint
        configuration.headInitialisation = headInit
        if let val {
            configuration.validation = TrainingConfiguration.Validation(dataset: try DatasetFiles.load(URL(fileURLWithPath: val)),
                                                                        every: valEvery)
            configuration.validation?.weights = valWeights
        }
        configuration.checkpointEvery = checkpointEvery
        configuration.checkpointFormat = checkpointFormat
        configuration.hyperparameters.optimizer = optimizer
        configuration.hyperparameters.learningRate = lr
        configuration.hyperparameters.momentum = momentum
        configuration.hyperparameters.weightDecay = weightDecay
        configuration.hyperparameters.adamEpsilon = adamEps
        configuration.hyperparameters.emaDecay = emaDecay
        configuration.hyperparameters.schedule = schedule
        configuration.hyperparameters.warmup = warmup
        configuration.hyperparameters.clipGradient = clipGrad
        configuration.hyperparameters.positiveWeight = posWeight
        configuration.hyperparameters.diceWeight = diceWeight
        configuration.hyperparameters.maskResize = maskResize
        configuration.overwrite = overwrite
        configuration.resume = resume
        configuration.concurrency = runner.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
        return configuration
    }
}

extension TrainingHyperparameters.OptimizerName: ExpressibleByArgument {}
extension TrainingHyperparameters.ScheduleName: ExpressibleByArgument {}
extension TrainingConfiguration.Augmentation: ExpressibleByArgument {}
extension CheckpointFormat: ExpressibleByArgument {}
extension MaskResize: ExpressibleByArgument {}
extension TrainingConfiguration.HeadInitialisation: ExpressibleByArgument {}
extension LDZNetCheckpoint.Copy: ExpressibleByArgument {}
extension TrainingConfiguration.Validation.Weights: ExpressibleByArgument {}
