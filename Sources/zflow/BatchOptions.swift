import ArgumentParser
import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph

/// Options shared by `zflow eval` and `zflow sweep`.
struct BatchOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The .zflow graph file.", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("A JSON Lines dataset: {\"id\", \"image\", \"phrase\", \"mask\"} per line.", valueName: "MANIFEST"))
    var dataset: String?

    @OptionGroup var binding: DatasetBindingOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp(
        "Folder for run.json, samples*.jsonl, summary.json, results.csv/json, examples/.", valueName: "DIR"))
    var output = "zflow-results"

    @Option(help: ArgumentHelp("Run only part i of n (0 <= i < n) of the samples; combine with `zflow merge`.",
                               valueName: "i/n"))
    var shard: String?

    @Option(help: ArgumentHelp("Overlay thumbnails for the first N samples (for `zflow report`).", valueName: "N"))
    var examples = 4

    @Flag(help: "Also run the graph's sinks (SaveMask, SaveOverlay...) for every sample (outputs under DIR/outputs/).")
    var runSinks = false

    @Flag(help: "Start DIR over (delete its results) instead of resuming; needed when the graph, dataset, settings or grid changed.")
    var overwrite = false

    @Flag(help: "Record a sample that fails as failed (its error in samples.jsonl), leave it out of the metrics, go on; exit 1 at the end.")
    var keepGoing = false

    @OptionGroup var runner: EngineCommandOptions

    func validate() throws {
        guard examples >= 0 else { throw ValidationError("--examples cannot be negative") }
    }

    /// Loads and checks everything, then runs; prints progress. Exits 2 for bad input, 3 for a
    /// value outside an argument's range or choices, 1 when a sample fails (without --keep-going).
    func run(grid options: [String]) async throws -> BatchOutcome {
        let registry = try runner.plugins.makeRegistry()
        let graph = try loadGraph(file, registry: registry)
        let settings = try parameterSettings(binding.settings, graph: graph)
        let configuration: BatchConfiguration = try await reportingRunErrors(dataset: dataset) {
            let manifest = try dataset.map { try DatasetFiles.load(URL(fileURLWithPath: $0)) }
            var configuration = BatchConfiguration(graph: graph, dataset: manifest, grid: try SweepGrid(options, graph: graph),
                                                   output: URL(fileURLWithPath: output))
            configuration.shard = try shard.map { try Shard(parsing: $0) } ?? .whole
            configuration.plugins = runner.plugins.paths
            configuration.settings = settings
            configuration.imageParam = binding.imageParam
            configuration.phraseParam = binding.phraseParam
            configuration.logits = binding.logits
            configuration.runSinks = runSinks
            configuration.examples = examples
            configuration.overwrite = overwrite
            configuration.keepGoing = keepGoing
            configuration.concurrency = runner.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
            return configuration
        }
        let engine = Engine(registry: registry, cache: runner.cache.engineOptions)
        let printer = runner.quiet ? nil : BatchProgressPrinter()
        return try await reportingRunErrors(dataset: dataset) {
            defer { printer?.finish() }  // before the error is printed: the status line ends first
            return try await BatchRunner(engine: engine).run(configuration) { printer?.show($0) }
        }
    }

    /// After the results are printed: a run with failed samples exits 1.
    func exitIfSamplesFailed(_ outcome: BatchOutcome) throws {
        guard outcome.failed > 0 else { return }
        printError("zflow: \(outcome.failed) sample\(outcome.failed == 1 ? "" : "s") failed (left out of the metrics; "
            + "their errors are in \(output)/samples*.jsonl)")
        throw ExitStatus.nodeFailed.exitCode
    }
}

/// Parses `--set NAME=VALUE` texts by the params' declared types. Exits 2 for a malformed or
/// unknown setting and 3 for a value outside an argument's range or choices, as `run` does.
func parameterSettings(_ settings: [String], graph: CheckedGraph) throws -> [String: Constant] {
    var texts: [String: String] = [:]
    for setting in settings {
        guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
            printError("zflow: --set expects NAME=VALUE, got '\(setting)'")
            throw ExitStatus.usage.exitCode
        }
        texts[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
    }
    do {
        return try graph.parameterValues(settings: texts).filter { texts[$0.key] != nil }
    } catch let diagnostics as GraphDiagnostics {
        printError(diagnostics.description)
        throw ExitStatus.graphErrors.exitCode
    } catch {
        printError("zflow: \(error)")
        throw ExitStatus.usage.exitCode
    }
}

/// One status line on stderr: done/total, the last sample, its cost, and the ETA.
final class BatchProgressPrinter: @unchecked Sendable {
    private let interactive = isatty(STDERR_FILENO) != 0
    private let lock = NSLock()

    func show(_ progress: BatchProgress) {
        lock.lock(); defer { lock.unlock() }
        let width = 24, filled = progress.total > 0 ? width * progress.done / progress.total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = progress.eta.map { "eta \(Self.duration($0))" } ?? ""
        let line = "[\(bar)] \(progress.done)/\(progress.total) point \(progress.last.point) \(progress.last.id): "
            + String(format: "%.2fs, %d ran, %d cached  ", progress.last.seconds, progress.last.executed, progress.last.cached) + eta
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}

/// The results table as aligned text, for stdout.
func printResults(_ rows: [ResultRow], axes: [GridAxis]) {
    let header = ["#"] + axes.map(\.name) + ["samples", "failed", "AP", "IoU_FG@0.3", "mIoU@0.3", "IoU_FG@0.5", "mIoU@0.5", "time", "ran", "cached"]
    let body = rows.map { row -> [String] in
        let h = row.headline
        func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "-" }
        return ["\(row.point)"] + axes.map { row.params[$0.name] ?? "" } + ["\(row.samples)", "\(row.failed)", f(h?.ap), f(h?.foregroundIoU03),
                f(h?.meanIoU03), f(h?.foregroundIoU05), f(h?.meanIoU05), String(format: "%.2fs", row.seconds),
                "\(row.executed)", "\(row.cached)"]
    }
    let widths = header.indices.map { i in ([header] + body).map { $0[i].count }.max() ?? 0 }
    for line in [header] + body {
        print(line.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
    for warning in rows.compactMap(\.apWarning) { printError("warning: \(warning)") }
}
