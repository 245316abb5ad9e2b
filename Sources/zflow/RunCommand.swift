import ArgumentParser
import Foundation
import ZFlowGraph

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Check a graph, then run the nodes its sinks (and --dump) need.",
        discussion: """
            Results are memoized by a structural key (ZFlow version and BLAS, node \
            type, version, arguments, file fingerprints, upstream keys) in memory and \
            under --cache-dir, so a second run of an edited graph recomputes only what \
            changed. \
            Progress and a per-node timing/cache table go to stderr.
            """)

    @Argument(help: ArgumentHelp("The .zflow graph file.", valueName: "FILE"))
    var file: String

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a param: NAME=VALUE, parsed by the param's declared type; repeatable.", valueName: "NAME=VALUE"))
    var settings: [String] = []

    @Option(name: .customLong("dump"), help: ArgumentHelp(
        "Write an output port to a file: NODE.PORT=PATH (NODE=PATH for a single output); repeatable.",
        valueName: "NODE.PORT=PATH"))
    var dumps: [String] = []

    @OptionGroup var cache: CacheCommandOptions

    @Flag(help: "Print, per node, whether the cache hit or missed and what part of the key changed.")
    var explainCache = false

    @Option(help: ArgumentHelp("Nodes run at once (default: number of cores).", valueName: "N"))
    var concurrency: Int?

    @Flag(help: "No progress and no summary table on stderr.")
    var quiet = false

    @Option(help: ArgumentHelp("Stream events as JSON lines on stdout (the only format: json).", valueName: "FORMAT"))
    var events: EventFormat?

    @OptionGroup var plugins: PluginOptions

    enum EventFormat: String, ExpressibleByArgument, CaseIterable {
        case json
    }

    func validate() throws {
        guard concurrency ?? 1 >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        let registry = try plugins.makeRegistry()
        let graph = try loadGraph(file, registry: registry)
        let parameters = try parameterSettings(settings, graph: graph)
        let dumpTargets = try dumpRequests(graph, registry: registry)
        if graph.sinks.isEmpty && dumpTargets.isEmpty {
            printError("zflow: nothing to run: \(file) has no sink (a call without `name =`) and no --dump was given")
            return
        }

        let engine = Engine(registry: registry, cache: cache.engineOptions)
        let progress = events == .json ? nil : (quiet ? nil : ProgressPrinter())
        let jsonEvents = events == .json ? JSONEventWriter() : nil
        let report = try await engine.run(
            graph, parameters: parameters, outputs: dumpTargets.map(\.reference),
            options: Engine.RunOptions(concurrency: concurrency ?? ProcessInfo.processInfo.activeProcessorCount,
                                       explainCache: explainCache),
            events: { event in
                progress?.handle(event)
                jsonEvents?.write(event)
            })
        progress?.stop()

        if !quiet && events == nil { printError(SummaryTable.render(report)) }
        if explainCache && events == nil {
            for node in report.nodes { printError("cache: \(node.name): \(node.explanation ?? "-")") }
        }
        for reason in report.corruptEntries { printError("zflow: warning: corrupt cache entry recomputed: \(reason)") }
        for failure in report.cacheWriteFailures { printError("zflow: warning: \(failure)") }
        for failure in report.failures { printError(failure.description) }
        let dumpFailed = !writeDumps(dumpTargets, report: report, registry: registry)
        if !report.succeeded || dumpFailed { throw ExitStatus.nodeFailed.exitCode }
    }

    private struct DumpRequest {
        var reference: OutputReference
        var path: String
        var codec: any PortCodec
    }

    /// Resolves every `--dump` before anything runs, so a typo costs no computation.
    private func dumpRequests(_ graph: CheckedGraph, registry: NodeRegistry) throws -> [DumpRequest] {
        try dumps.map { dump in
            guard let equals = dump.firstIndex(of: "="), equals != dump.startIndex else {
                printError("zflow: --dump expects NODE.PORT=PATH, got '\(dump)'")
                throw ExitStatus.usage.exitCode
            }
            let path = String(dump[dump.index(after: equals)...])
            do {
                let reference = try graph.output(String(dump[..<equals]))
                // The declared type, not one a type argument names: codecs go by declared types.
                guard let type = graph.nodes[reference.node].schema.output(named: reference.port)?.type,
                      let codec = registry.codec(for: type) else {
                    throw ValueParseError(message: "no codec can write \(reference) to a file")
                }
                return DumpRequest(reference: reference, path: path.isEmpty ? "\(reference).\(codec.exportExtension)" : path,
                                   codec: codec)
            } catch {
                printError("zflow: --dump \(dump): \(error)")
                throw ExitStatus.usage.exitCode
            }
        }
    }

    /// Writes the dumped ports; false when one could not be written.
    private func writeDumps(_ requests: [DumpRequest], report: RunReport, registry: NodeRegistry) -> Bool {
        var succeeded = true
        for request in requests {
            guard let value = report.outputs[request.reference] else {
                printError("zflow: --dump \(request.reference): not written, the node did not run successfully")
                succeeded = false
                continue
            }
            do {
                let url = URL(fileURLWithPath: request.path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try request.codec.export(value, name: request.reference.port).write(to: url, options: .atomic)
                if !quiet && events == nil { printError("wrote \(request.reference) to \(request.path)") }
            } catch {
                printError("zflow: --dump \(request.reference): cannot write \(request.path): \(error)")
                succeeded = false
            }
        }
        return succeeded
    }
}
