import Foundation

// The public entry point for running checked graphs: plans the nodes the
// targets need, serves what it can from the two cache levels, runs the rest on
// the scheduler and reports per node. One engine can run many graphs or the
// same graph with many parameter values, sharing its caches.

public final class Engine: Sendable {
    public struct CacheOptions: Sendable {
        /// Off: nothing is read from or written to either level.
        public var enabled: Bool
        /// Byte budget of the in-memory level.
        public var memoryBudget: Int
        /// The on-disk level's folder; nil for memory only.
        public var directory: URL?
        /// Size limit of the on-disk level, enforced after each run.
        public var diskLimit: Int
        /// The code computing the nodes, as the host names it (the CLI: ZFlow version and BLAS
        /// library): part of every key, so that numbers other code computed are never served.
        public var codeIdentity: String

        public init(enabled: Bool = true, memoryBudget: Int = 2 << 30, directory: URL? = nil,
                    diskLimit: Int = 20 << 30, codeIdentity: String = ZFlowVersion.string) {
            self.enabled = enabled
            self.memoryBudget = memoryBudget
            self.directory = directory
            self.diskLimit = diskLimit
            self.codeIdentity = codeIdentity
        }

        public static let disabled = CacheOptions(enabled: false)
        /// The folder used by the CLI when `--cache-dir` is not given.
        public static var defaultDirectory: URL { DiskCache.defaultDirectory }
    }

    public struct RunOptions: Sendable {
        /// Nodes running at once (default: the number of cores).
        public var concurrency: Int
        /// Run the file's sinks (calls without a name); off to compute only `outputs`.
        public var runSinks: Bool
        /// Fill `NodeReport.explanation` with why each node hit or missed, and record this
        /// run's keys for the next explanation (only then: it costs a file write per run).
        public var explainCache: Bool

        public init(concurrency: Int = ProcessInfo.processInfo.activeProcessorCount, runSinks: Bool = true,
                    explainCache: Bool = false) {
            self.concurrency = concurrency
            self.runSinks = runSinks
            self.explainCache = explainCache
        }
    }

    public let registry: NodeRegistry
    public let cacheOptions: CacheOptions
    private let memory: MemoryCache
    private let disk: DiskCache?
    private let history: KeyHistory
    private let diskWriteQueue = DispatchQueue(label: "zflow.disk-cache-writes")

    public init(registry: NodeRegistry, cache: CacheOptions = CacheOptions()) {
        self.registry = registry
        self.cacheOptions = cache
        memory = MemoryCache(budget: cache.enabled ? cache.memoryBudget : 0)
        disk = cache.enabled ? cache.directory.map { DiskCache(directory: $0, limit: cache.diskLimit) } : nil
        history = KeyHistory(directory: cache.enabled ? cache.directory : nil)
    }

    /// Runs `graph` with `parameters` replacing param defaults. Node failures do
    /// not throw: they are in `RunReport.failures`. Throws `ValueParseError` or
    /// `GraphDiagnostics` for bad parameter values, before any node runs.
    public func run(_ graph: CheckedGraph, parameters: [String: Constant] = [:], outputs: [OutputReference] = [],
                    options: RunOptions = RunOptions(),
                    events: @escaping @Sendable (RunEvent) -> Void = { _ in }) async throws -> RunReport {
        let start = DispatchTime.now()
        let values = try graph.parameterValues(parameters)
        let targets = (options.runSinks ? graph.sinks : []) + outputs.map(\.node)
        let needed = Planner.needed(graph, targets: targets)
        let order = Planner.topologicalOrder(graph, nodes: needed)
        let produced = Planner.producedOutputs(graph, nodes: needed, requested: outputs)
        let keys = keyParts(graph, order: order, parameters: values, produced: produced)
        let lookups = resolveFromCache(graph, targets: targets, keys: keys, produced: produced)

        // Needed nodes upstream of a cache hit are neither run nor reported.
        let visited = order.filter { lookups.toRun.contains($0) || lookups.status[$0] != nil }
        var explanations: [Int: String] = [:]
        if options.explainCache {
            for index in visited {
                explanations[index] = explain(graph, graph.nodes[index], parts: keys[index], lookup: lookups.status[index])
            }
        }
        let cacheEnabled = cacheOptions.enabled
        let reportFor: @Sendable (Int, NodeStatus, Double) -> NodeReport = { [explanations] index, status, seconds in
            let node = graph.nodes[index]
            return NodeReport(index: index, name: node.displayName, typeName: node.schema.name, range: node.range,
                              status: status, seconds: seconds, key: cacheEnabled ? keys[index]?.digest : nil,
                              explanation: explanations[index])
        }
        events(.planned(needed: visited.count, toRun: lookups.toRun.count, cached: lookups.status.count))
        for (index, status) in lookups.status.sorted(by: { $0.key < $1.key }) { events(.cached(reportFor(index, status, 0))) }

        let diskWrites = DiskWrites(queue: diskWriteQueue)
        let scheduler = Scheduler(
            graph: graph, parameters: values, produced: produced, retained: Set(outputs.map(\.node)),
            concurrency: options.concurrency,
            didExecute: { [self] index, nodeOutputs, seconds in
                store(graph.nodes[index], key: keys[index], outputs: nodeOutputs, produced: produced[index] ?? [],
                      seconds: seconds, diskWrites: diskWrites)
            },
            nodeReport: reportFor, onEvent: events)
        let completion = await scheduler.run(lookups.toRun, available: lookups.outputs)
        let cacheWriteFailures = await diskWrites.finish()

        if options.explainCache { history.record(graph, keys: keys) }
        disk?.trim()
        var statuses = completion.statuses
        for (index, status) in lookups.status { statuses[index] = status }
        let report = RunReport(
            nodes: visited.sorted().map { reportFor($0, statuses[$0] ?? .executed, completion.seconds[$0] ?? 0) },
            outputs: Dictionary(outputs.compactMap { reference in
                completion.outputs[reference.node]?[reference.port].map { (reference, $0) }
            }, uniquingKeysWith: { first, _ in first }),
            failures: visited.sorted().compactMap { index in
                guard case .failed(let message) = statuses[index] else { return nil }
                let node = graph.nodes[index]
                return NodeFailure(nodeName: node.displayName, typeName: node.schema.name, range: node.range,
                                   message: message, source: graph.source)
            },
            corruptEntries: lookups.corrupt,
            cacheWriteFailures: cacheWriteFailures,
            wallSeconds: Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
        events(.completed(report))
        return report
    }

    // MARK: keys

    /// Key parts of every needed node, in dependency order. A non-cacheable node
    /// gets a fresh nonce so that nothing downstream of it is served from the cache.
    private func keyParts(_ graph: CheckedGraph, order: [Int], parameters: [String: Constant],
                          produced: [Int: [OutputSpec]]) -> [Int: KeyParts] {
        let fingerprints = FingerprintMemo()
        var keys: [Int: KeyParts] = [:]
        for index in order {
            let node = graph.nodes[index]
            var parts = KeyParts(code: cacheOptions.codeIdentity, type: node.schema.name, version: node.schema.version,
                                 implementation: node.nodeType.implementationIdentity)
            for input in node.schema.inputs {
                switch node.inputs[input.name] {
                case .constant(let value)?:
                    parts.arguments[input.name] = KeyBuilder.canonical(value, type: input.type, fingerprints: fingerprints)
                case .param(let name)?:
                    guard let value = parameters[name] else { continue }
                    parts.arguments[input.name] = KeyBuilder.canonical(value.converted(to: input.type) ?? value,
                                                                       type: input.type, fingerprints: fingerprints)
                case .output(let source, let port)?:
                    parts.inputs[input.name] = (keys[source]?.digest ?? "?") + "." + port
                    parts.inputSources[input.name] = graph.nodes[source].displayName
                case nil:
                    break
                }
            }
            if node.schema.outputs.contains(where: \.isOnDemand) {
                parts.arguments["#outputs"] = (produced[index] ?? []).map(\.name).sorted().joined(separator: ",")
            }
            if !node.schema.isCacheable { parts.arguments["#run"] = UUID().uuidString }
            keys[index] = parts
        }
        return keys
    }

    // MARK: cache levels

    private struct Lookups {
        var toRun: Set<Int> = []
        var status: [Int: NodeStatus] = [:]
        var outputs: [Int: [String: any Sendable]] = [:]
        var corrupt: [String] = []
    }

    /// Walks from the targets: a node found in a cache level needs nothing
    /// upstream; a node not found runs, and so do the lookups of its inputs.
    private func resolveFromCache(_ graph: CheckedGraph, targets: [Int], keys: [Int: KeyParts],
                                  produced: [Int: [OutputSpec]]) -> Lookups {
        var lookups = Lookups()
        var visited: Set<Int> = []
        var work = targets
        while let index = work.popLast() {
            guard visited.insert(index).inserted else { continue }
            let node = graph.nodes[index]
            if cacheOptions.enabled, node.schema.isCacheable, let key = keys[index]?.digest {
                if let outputs = memory.outputs(for: key) {
                    lookups.status[index] = .memoryHit
                    lookups.outputs[index] = outputs
                    continue
                }
                switch disk?.load(key, outputs: produced[index] ?? node.schema.outputs, registry: registry) {
                case .hit(let outputs)?:
                    lookups.status[index] = .diskHit
                    lookups.outputs[index] = outputs
                    memory.store(outputs, for: key, bytes: byteCount(outputs, node.schema), seconds: 0)
                    continue
                case .corrupt(let reason)?:
                    lookups.corrupt.append(reason)
                case .miss?, nil:
                    break
                }
            }
            lookups.toRun.insert(index)
            work.append(contentsOf: node.dependencies)
        }
        return lookups
    }

    /// Stores in memory now, and enqueues the disk write: the dependents need not wait for it.
    private func store(_ node: GraphNode, key parts: KeyParts?, outputs: [String: any Sendable], produced: [OutputSpec],
                       seconds: Double, diskWrites: DiskWrites) {
        guard cacheOptions.enabled, node.schema.isCacheable, let key = parts?.digest else { return }
        memory.store(outputs, for: key, bytes: byteCount(outputs, node.schema), seconds: seconds)
        guard let disk else { return }
        diskWrites.enqueue("cannot write the cache entry of '\(node.displayName)'") { [registry] in
            try disk.store(outputs, for: key, outputs: produced, registry: registry)
        }
    }

    /// Memory held by the outputs, as their codecs estimate (64 bytes when unknown).
    private func byteCount(_ outputs: [String: any Sendable], _ schema: NodeSchema) -> Int {
        schema.outputs.reduce(0) { total, output in
            guard let value = outputs[output.name] else { return total }
            return total + (registry.codec(for: output.type)?.byteCount(of: value) ?? 64)
        }
    }

    // MARK: explanations

    private func explain(_ graph: CheckedGraph, _ node: GraphNode, parts: KeyParts?, lookup: NodeStatus?) -> String {
        if !cacheOptions.enabled { return "cache off" }
        if !node.schema.isCacheable { return "miss: \(node.schema.name) is not cacheable" }
        switch lookup {
        case .memoryHit?: return "hit (memory)"
        case .diskHit?: return "hit (disk)"
        default: break
        }
        guard let parts else { return "miss" }
        guard let previous = history.previous(graph, node) else {
            return "miss: no earlier run of this node is recorded"
        }
        let changes = parts.changes(since: previous)
        if changes.isEmpty { return "miss: same key as the last run, but its entry is gone (evicted, corrupt or not storable)" }
        return "miss: " + changes.joined(separator: "; ")
    }
}
