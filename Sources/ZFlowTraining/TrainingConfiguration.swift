import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowModels

/// The file format of `zflow train`'s checkpoints (`TrainingCheckpoint` chooses by extension).
public enum CheckpointFormat: String, CaseIterable, Sendable {
    /// `.safetensors`.
    case safetensors
    /// `.ckpt`: Lightning-style zip + pickle, what `torch.load(weights_only=True)` reads.
    case ckpt
}

/// Everything `zflow train` is told: graph, data, run folder, binding, length, augmentation,
/// what trains and from where, validation.
public struct TrainingConfiguration: Sendable {
    public enum Augmentation: String, CaseIterable, Sendable {
        /// Manifest order, no crop; template, t and noise seed as the graph says.
        case none
        /// The reference recipe ("ReferenceAugmentation"), in a seeded order per epoch.
        case reference
    }

    /// Where the trained parameters start.
    public enum Initialisation: Sendable, Equatable {
        /// The training copy of ZNet's `weights` file.
        case weightsFile
        /// A copy (the training copy unless told otherwise) of another LD-ZNet checkpoint of the
        /// same architecture; its EMA to fine-tune a trained model from what inference uses.
        case checkpoint(String, copy: LDZNetCheckpoint.Copy = .training)
        /// PyTorch's default schemes (`ParameterInitialisation.random`), seeded by `--seed`.
        case random
        /// The paper's: the SD UNet of the graph's UNetFeatures (or VAEEncode) `weights`, the rest random.
        case stableDiffusion

        public init(argument: String) {
            switch argument {
            case "random": self = .random
            case "sd": self = .stableDiffusion
            default: self = .checkpoint(argument)
            }
        }

        var identity: String {
            switch self {
            case .weightsFile: "weights"
            case let .checkpoint(path, copy): copy == .training ? path : "\(path) (\(copy.rawValue) copy)"
            case .random: "random"
            case .stableDiffusion: "sd"
            }
        }
    }

    /// Where the head (`final.*`) starts when `initialisation` draws ZNet (random or sd).
    public enum HeadInitialisation: String, CaseIterable, Sendable {
        /// As `initialisation` draws it (PyTorch's defaults).
        case fromInit = "init"
        /// `ZNet.upsamplingHead`, its last bias at the training masks' foreground prior
        /// (`ForegroundPrior`).
        case upsampler
    }

    public struct Validation: Sendable {
        public enum Weights: String, CaseIterable, Sendable {
            case ema, training
        }

        public var dataset: DatasetManifest
        /// Validates every this many steps (and after the last); nil: after the last step only.
        public var every: Int?
        public var weights = Weights.ema

        public init(dataset: DatasetManifest, every: Int? = nil) {
            self.dataset = dataset
            self.every = every
        }
    }

    /// The keys that train by default: ZNet with its fusion blocks, pools and head.
    public static let defaultTrainPatterns = ["model.diffusion_model.**"]

    public var graph: CheckedGraph
    public var dataset: DatasetManifest
    public var output: URL
    public var plugins: [String] = []
    /// `--set` values (already parsed by the params' types).
    public var settings: [String: Constant] = [:]
    public var imageParam = "image"
    public var phraseParam = "prompt"
    public var logits = "logits"
    /// Optimizer steps, unless `epochs` is set.
    public var steps = 1
    /// Passes over the dataset (`stepsPerEpoch` steps each); replaces `steps` when set.
    public var epochs: Int?
    /// Samples per step, run as one batch: the next this many of the epoch's order.
    public var batch = 1
    /// Recompute each ResBlock and spatial transformer in backward instead of keeping its
    /// activations. Not part of the run's identity: the numbers are the same, bit for bit.
    public var recompute = false
    /// Shares of each step's samples computed at once, one per core, each with ZFlow's own
    /// kernels on its thread (`--workers`; TrainedZNet.lossAndGradients). Part of the run's
    /// identity: the shares round differently from one batch.
    public var workers = 1
    public var seed = 0
    public var augmentation = Augmentation.none
    /// `--timesteps`: with reference augmentation, t is drawn from this set instead of [300, 500).
    public var timesteps: [Int]?
    /// `--train` patterns over checkpoint keys (`KeyPattern`).
    public var trainPatterns = defaultTrainPatterns
    public var initialisation = Initialisation.weightsFile
    public var headInitialisation = HeadInitialisation.fromInit
    public var validation: Validation?
    /// Writes `step-N.<format>` (and `last.<format>`) every this many steps; the last step always.
    public var checkpointEvery = 1000
    public var checkpointFormat = CheckpointFormat.safetensors
    public var hyperparameters = TrainingHyperparameters()
    public var overwrite = false
    /// Continues the run in `output` from its `last.safetensors`.
    public var resume = false
    public var concurrency = ProcessInfo.processInfo.activeProcessorCount

    public init(graph: CheckedGraph, dataset: DatasetManifest, output: URL) {
        self.graph = graph
        self.dataset = dataset
        self.output = output
    }

    /// The steps of the whole run.
    public var totalSteps: Int { epochs.map { $0 * stepsPerEpoch } ?? steps }

    /// ceil(samples / batch): an epoch is one pass over the manifest, each sample once, so its
    /// last step takes the samples left (fewer than `batch` when it does not divide them).
    public var stepsPerEpoch: Int { Self.stepsPerEpoch(samples: dataset.samples.count, batch: batch) }

    static func stepsPerEpoch(samples: Int, batch: Int) -> Int { (samples + batch - 1) / batch }

    /// The options that change the numbers (and the run folder's files), for the run's identity.
    /// `steps` and `epochs` are the ones a resume may extend.
    var identityOptions: [String: String] {
        var options = hyperparameters.identity
        options["logits"] = logits
        options["image-param"] = imageParam
        options["phrase-param"] = phraseParam
        if let epochs { options["epochs"] = "\(epochs)" } else { options["steps"] = "\(steps)" }
        options["seed"] = "\(seed)"
        options["checkpoint-every"] = "\(checkpointEvery)"
        options["checkpoint-format"] = checkpointFormat.rawValue
        options["augment"] = augmentation.rawValue
        if let timesteps { options["timesteps"] = timesteps.map(String.init).joined(separator: ",") }
        options["batch"] = "\(batch)"
        if workers != 1 { options["workers"] = "\(workers)" }
        options["train"] = trainPatterns.joined(separator: " ")
        options["init"] = initialisation.identity
        if headInitialisation != .fromInit { options["head-init"] = headInitialisation.rawValue }
        if let validation {
            options["val"] = "\(validation.dataset.url.path) (digest \(SHA256.hex(validation.dataset.text)))"
            options["val-every"] = validation.every.map { "\($0)" } ?? "end"
            options["val-weights"] = validation.weights.rawValue
        }
        return options
    }

    static let extensibleOptions: Set<String> = ["steps", "epochs"]

    /// The run's identity (run.json): graph, plugins, manifest, `--set` and `identityOptions`.
    func runIdentity() throws -> RunIdentity {
        try RunIdentity(graph: graph, plugins: plugins, dataset: dataset, settings: settings, grid: [], options: identityOptions)
    }
}
