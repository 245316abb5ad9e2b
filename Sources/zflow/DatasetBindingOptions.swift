import ArgumentParser
import ZFlowBatch
import ZFlowEval
import ZFlowGraph

/// How a dataset's samples enter a graph, shared by `eval`, `sweep`, `train` and `probe`.
struct SampleBindingOptions: ParsableArguments {
    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a param for every sample: NAME=VALUE; repeatable.", valueName: "NAME=VALUE"))
    var settings: [String] = []

    @Option(help: ArgumentHelp("The param bound to each sample's image path.", valueName: "NAME"))
    var imageParam = "image"

    @Option(help: ArgumentHelp("The param bound to each sample's phrase.", valueName: "NAME"))
    var phraseParam = "prompt"
}

/// The sample bindings and the logits scored or trained, shared by `eval`, `sweep` and `train`.
struct DatasetBindingOptions: ParsableArguments {
    @OptionGroup var sample: SampleBindingOptions

    @Option(help: ArgumentHelp("The output holding the logits.", valueName: "NODE[.PORT]"))
    var logits = "logits"

    var settings: [String] { sample.settings }
    var imageParam: String { sample.imageParam }
    var phraseParam: String { sample.phraseParam }
}

/// How `eval`, `sweep` and `train` run their graphs: the memo cache, concurrency, progress, plugins.
struct EngineCommandOptions: ParsableArguments {
    @OptionGroup var cache: CacheCommandOptions

    @Option(help: ArgumentHelp("Nodes run at once (default: number of cores).", valueName: "N"))
    var concurrency: Int?

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @OptionGroup var plugins: PluginOptions

    func validate() throws {
        guard concurrency ?? 1 >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    }
}

/// Runs `body` (a command over `dataset`), printing its error and exiting with the code of its
/// kind: 3 for graph errors, 1 for a node that failed, 2 for everything else.
func reportingRunErrors<T>(dataset: String?, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let diagnostics as GraphDiagnostics {
        printError(diagnostics.description)
        throw ExitStatus.graphErrors.exitCode
    } catch let error as ManifestErrors {
        printError(error.description)
        printError("zflow: \(error.errors.count) bad line\(error.errors.count == 1 ? "" : "s") in \(dataset ?? "the manifest"); no sample was run")
        throw ExitStatus.usage.exitCode
    } catch let error as BatchError {
        printError("zflow: \(error)")
        throw (error.isNodeFailure ? ExitStatus.nodeFailed : ExitStatus.usage).exitCode
    } catch let error as ExitCode {
        throw error
    } catch {
        printError("zflow: \(error)")
        throw ExitStatus.usage.exitCode
    }
}
