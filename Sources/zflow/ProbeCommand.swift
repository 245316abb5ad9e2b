import ArgumentParser
import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowProbe

struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Probe SD taps x timesteps: a small text-conditioned decoder per cell, AP per cell (the paper's Fig. 4).",
        discussion: """
            Feature pass: per sample of --train and --val, seed and t, the graph computes \
            the inputs of its UNetFeatures node (VAE, AddNoise, CLIP; memoized) and the SD \
            UNet runs once with every tap of --taps; the taps, the text features and the \
            mask go to one file RUN/features/<split>/<SAMPLE>-t<T>-s<SEED>.safetensors. A \
            rerun resumes: a file in the store is never computed again. With --shard i/n \
            only part i of the samples is stored (shards share RUN); the run without \
            --shard then trains on the full store. Training: one pass per epoch over the \
            store, each file read once and every cell's decoder at its t taking one AdamW \
            step on it. Val: AP per cell on --val (CLIPSeg protocol, as zflow eval). \
            Writes RUN/probe.json and prints the AP table; `zflow report RUN` draws the \
            heatmap.
            """)

    @Argument(help: ArgumentHelp("The .zflow graph file (with a UNetFeatures node fed by AddNoise).", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("The training manifest (JSON Lines: {\"id\", \"image\", \"phrase\", \"mask\"}).", valueName: "MANIFEST"))
    var train: String

    @Option(help: ArgumentHelp("The validation manifest, scored per cell.", valueName: "MANIFEST"))
    var val: String

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(
        "Folder for run.json, features/, probe.json.", valueName: "RUN"))
    var output: String

    @Option(help: ArgumentHelp("SD taps: numbers and ranges, e.g. 1-16 or 6,7,8.", valueName: "LIST"))
    var taps = "1-16"

    @Option(help: ArgumentHelp("Timesteps, e.g. 100,200,300.", valueName: "LIST"))
    var timesteps = ProbeGrid.defaultTimesteps.map(String.init).joined(separator: ",")

    @Option(help: ArgumentHelp("Noise seeds (default: the graph's); each is one more training and val sample per cell.",
                               valueName: "LIST"))
    var seeds: String?

    @Option(help: ArgumentHelp("The UNetFeatures node (default: the graph's only one).", valueName: "NODE"))
    var features: String?

    @OptionGroup var binding: SampleBindingOptions

    @Option(help: ArgumentHelp("Passes over the training files.", valueName: "N"))
    var epochs = 1

    @Option(help: ArgumentHelp("AdamW learning rate.", valueName: "LR"))
    var lr = 1e-3

    @Option(help: ArgumentHelp("AdamW weight decay.", valueName: "W"))
    var weightDecay = 1e-2

    @Option(help: ArgumentHelp("Hidden channels of each decoder (a multiple of 8).", valueName: "N"))
    var hidden = 32

    @Option(help: ArgumentHelp("Seed of the decoders' initial weights.", valueName: "S"))
    var seed = 0

    @Option(help: ArgumentHelp("Store only part i of n (0 <= i < n) of the samples' features; then run without --shard.",
                               valueName: "i/n"))
    var shard: String?

    @Flag(help: "Start RUN over (delete its feature store; with --shard only that shard's files).")
    var overwrite = false

    @Flag(help: ArgumentHelp("Hold the SD UNet's weights in memory as f32 during the feature pass (a little faster; "
                             + "at full size 3.4 GB more). By default a layer's weights are in memory only while it runs."))
    var unetInMemory = false

    @OptionGroup var runner: EngineCommandOptions

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard lr >= 0, lr.isFinite else { throw ValidationError("--lr must be a finite number >= 0") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ValidationError("--weight-decay must be a finite number >= 0") }
        guard hidden >= 8, hidden % 8 == 0 else { throw ValidationError("--hidden must be a positive multiple of 8") }
        guard seed >= 0 else { throw ValidationError("--seed must be >= 0") }
    }

    func run() async throws {
        let registry = try runner.plugins.makeRegistry()
        let graph = try loadGraph(file, registry: registry)
        let parameters = try parameterSettings(binding.settings, graph: graph)
        let printer = runner.quiet ? nil : ProbeProgressPrinter()
        let trainManifest = try await reportingRunErrors(dataset: train) { try DatasetFiles.load(URL(fileURLWithPath: train)) }
        let valManifest = try await reportingRunErrors(dataset: val) { try DatasetFiles.load(URL(fileURLWithPath: val)) }
        let outcome = try await reportingRunErrors(dataset: nil) {
            var configuration = ProbeConfiguration(graph: graph, train: trainManifest, val: valManifest, output: URL(fileURLWithPath: output))
            configuration.plugins = runner.plugins.paths
            configuration.settings = parameters
            configuration.imageParam = binding.imageParam
            configuration.phraseParam = binding.phraseParam
            configuration.featuresNode = features
            configuration.taps = try ProbeGrid.parseList(taps, option: "--taps")
            configuration.timesteps = try ProbeGrid.parseList(timesteps, option: "--timesteps")
            configuration.seeds = try seeds.map { try ProbeGrid.parseList($0, option: "--seeds") }
            configuration.training.epochs = epochs
            configuration.training.learningRate = lr
            configuration.training.weightDecay = weightDecay
            configuration.training.hidden = hidden
            configuration.training.seed = seed
            configuration.shard = try shard.map { try Shard(parsing: $0) } ?? .whole
            configuration.overwrite = overwrite
            configuration.unetInMemory = unetInMemory
            configuration.concurrency = runner.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
            let probe = ProbeRunner(engine: Engine(registry: registry, cache: runner.cache.engineOptions))
            defer { printer?.finish() }
            return try await probe.run(configuration) { printer?.show($0) }
        }
        let store = "feature store: \(outcome.computed) files computed, \(outcome.reused) already there"
        guard let results = outcome.results else {
            printError("wrote shard \(shard ?? "") of \(output)/features (\(store)); then run zflow probe without --shard to train")
            return
        }
        print(results.table)
        if let warning = results.apWarning { printError("warning: \(warning)") }
        printError("wrote \(output)/probe.json (\(store))")
    }
}

/// One status line on stderr per store file: the phase, done/total and what it was.
final class ProbeProgressPrinter: @unchecked Sendable {
    private let interactive = isatty(STDERR_FILENO) != 0

    func show(_ progress: ProbeProgress) {
        let line: String
        switch progress {
        case .unetLoaded(let held):
            // Its own line, also on a terminal, where the feature lines overwrite each other.
            FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + "SD UNet loaded: \(held.onDemand) of \(held.total) "
                + "weight tensors held on demand (in memory only while their layer runs; --unet-in-memory keeps all)\n").utf8))
            return
        case .features(let f):
            line = "features \(f.done)/\(f.total) \(f.split.rawValue) \(f.sample) t=\(f.t) seed=\(f.seed): "
                + (f.computed ? "computed" : "in the store")
        case .step(let s):
            line = "\(s.phase.rawValue) \(s.phase == .training ? "epoch \(s.epoch) " : "")\(s.done)/\(s.total)"
                + (s.loss.map { String(format: ": mean loss %.6f", $0) } ?? "")
        }
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
