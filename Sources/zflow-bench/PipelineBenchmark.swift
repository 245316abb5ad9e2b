import Foundation
import ZFlowGraph
import ZFlowNodes
import ZFlowTensor

/// `zflow-bench pipeline GRAPH [--set NAME=VALUE]... [--runs N] [--cold]`: a whole graph through the
/// engine as `zflow run --no-cache` runs it, once to warm up (weights are loaded then and kept by the
/// process's model store), then N times; prints each node's median seconds and the CPUs it kept
/// busy (working CPU time over wall time while it ran, `workingCPUNanoseconds`: heavy nodes never
/// overlap), and the median wall time of a run. Its first lines name the CPU and every parameter's
/// value. `--cold` stops after the first run and reports process start to its end (a user's
/// single-image process: load + run). The reference is `tools/ldznet_pipeline.py --time-only` on the same weights.
/// `--op-times` also prints, per node, the median seconds spent in each kind of tensor op (`OpTimes`)
/// and the rest of the node's time ("between ops"); its reference is `tools/bench/op_times_torch.py`.
func runPipelineBenchmark(_ arguments: [String]) throws {
    let processStart = DispatchTime.now().uptimeNanoseconds
    var rest = arguments[...]
    guard let file = rest.popFirst(), !file.hasPrefix("-") else { throw PipelineUsageError() }
    var settings: [String: String] = [:]
    var runs = 3, cold = false, opTimes = false
    while let option = rest.popFirst() {
        switch option {
        case "--cold":
            cold = true
        case "--op-times":
            opTimes = true
        case "--set":
            guard let setting = rest.popFirst(), let equals = setting.firstIndex(of: "=") else { throw PipelineUsageError() }
            settings[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
        case "--runs":
            guard let value = rest.popFirst().flatMap(Int.init), value > 0 else { throw PipelineUsageError() }
            runs = value
        default:
            throw PipelineUsageError()
        }
    }
    let registry = NodeRegistry()
    registerStandardNodes(into: registry)
    let graph = try Checker.check(fileAt: file, registry: registry)
    let values = try graph.parameterValues(settings: settings)
    let parameters = values.filter { settings[$0.key] != nil }
    let engine = Engine(registry: registry, cache: .disabled)

    OpTimes.shared.isEnabled = opTimes
    emit("CPU: \(MachineKey.current.summary); \(KernelTuner.shared.implementationIdentity)")
    // Every parameter as the run reads it, defaults included: a graph's default (the image area)
    // changing under a benchmark must show in its record.
    emit("params: " + values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    func runOnce() throws -> (wall: Double, nodes: [NodeReport], cpus: [String: Double], ops: [String: [String: OpTimes.Total]],
                              beside: [String: Set<String>]) {
        let start = DispatchTime.now().uptimeNanoseconds
        let meter = NodeCPUMeter()
        let report = try blockingRun(engine, graph, parameters, events: meter.handle)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let failure = report.failures.first { throw failure }
        return (wall, report.nodes, meter.cpus, meter.opTotals, meter.nodesRunningBeside())
    }
    let warmUp = try runOnce()
    if cold {
        emit(String(format: "cold process (start, load, one run): %.2f s; the run itself %.2f s",
                    Double(DispatchTime.now().uptimeNanoseconds - processStart) / 1e9, warmUp.wall))
        emitPeakMemory()
        return
    }
    emit(String(format: "warm-up run (weights loaded): %.2f s; then %d timed runs", warmUp.wall, runs))
    let timed = try (0..<runs).map { _ in try runOnce() }
    emit("node".padding(toLength: 28, withPad: " ", startingAt: 0) + "type".padding(toLength: 18, withPad: " ", startingAt: 0)
         + "median s   CPUs")
    let beside = timed.reduce(into: [String: Set<String>]()) { union, run in union.merge(run.beside) { $0.union($1) } }
    for (index, node) in warmUp.nodes.enumerated() {
        let seconds = median(timed.map { $0.nodes[index].seconds })
        let cpus = median(timed.compactMap { $0.cpus[node.name] })
        emit(node.name.padding(toLength: 28, withPad: " ", startingAt: 0)
             + node.typeName.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%8.3f %6.2f", seconds, cpus)
             + besideNote(beside[node.name]))
    }
    emit(String(format: "run (wall, median of %d): %.3f s", runs, median(timed.map(\.wall))))
    if opTimes { emitOpTimes(nodes: warmUp.nodes, timed: timed.map { ($0.nodes, $0.cpus, $0.ops) }, beside: beside) }
    emitPeakMemory()
}

/// Per node that ran ops: each op label's median seconds per run, share of the node's median time
/// and CPUs (the process's CPU time over wall time inside those ops, all runs), largest first, then
/// the node's time outside timed ops: single-threaded glue shows as a kind near 1 CPU. A node that
/// ran beside others (`beside`) is counted the ops they ran meanwhile: its first row says so, and
/// its time outside ops is not shown when theirs made it negative.
private func emitOpTimes(nodes: [NodeReport],
                         timed: [(nodes: [NodeReport], cpus: [String: Double], ops: [String: [String: OpTimes.Total]])],
                         beside: [String: Set<String>]) {
    emit("op times (median s per run; share of the node's median time; CPUs):")
    for (index, node) in nodes.enumerated() {
        let labels = Set(timed.flatMap { $0.ops[node.name]?.keys.map { $0 } ?? [] })
        guard !labels.isEmpty else { continue }
        let nodeSeconds = median(timed.map { $0.nodes[index].seconds })
        var rows = labels.map { label in
            let totals = timed.map { $0.ops[node.name]?[label] ?? OpTimes.Total() }
            return (label, median(totals.map(\.seconds)), totals.map(\.cpuSeconds).reduce(0, +) / max(totals.map(\.seconds).reduce(0, +), 1e-9))
        }.sorted { $0.1 > $1.1 }
        let outside = timed.map { run -> (wall: Double, cpu: Double) in
            let ops = run.ops[node.name]?.values ?? [:].values
            let wall = run.nodes[index].seconds
            return (wall - ops.map(\.seconds).reduce(0, +), (run.cpus[node.name] ?? 0) * wall - ops.map(\.cpuSeconds).reduce(0, +))
        }
        let outsideWall = outside.map(\.wall).reduce(0, +)
        if outsideWall > 0 {
            rows.append(("between ops", median(outside.map(\.wall)), outside.map(\.cpu).reduce(0, +) / outsideWall))
        }
        for (row, (label, seconds, cpus)) in rows.enumerated() {
            emit("  " + node.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                 + label.padding(toLength: 22, withPad: " ", startingAt: 0)
                 + String(format: "%8.3f %5.1f%% %5.2f", seconds, 100 * seconds / max(nodeSeconds, 1e-9), cpus)
                 + (row == 0 ? besideNote(beside[node.name]) : ""))
        }
    }
}

/// "  (beside a, b)" when other nodes ran during a node: its CPUs and ops count theirs too.
private func besideNote(_ others: Set<String>?) -> String {
    guard let others, !others.isEmpty else { return "" }
    return "  (beside \(others.sorted().joined(separator: ", ")))"
}

private func emitPeakMemory() {
    emit(String(format: "peak resident memory: %.2f GB", Double(peakResidentKilobytes()) / 1e6))
}

/// Working CPU time (`workingCPUNanoseconds`) over wall time between each node's start and finish
/// events, and the seconds each kind of op took in between (`OpTimes`, when on). Both count whatever the process
/// did meanwhile: nodes the engine ran at the same time are named by `nodesRunningBeside`.
private final class NodeCPUMeter: @unchecked Sendable {
    private let lock = NSLock()
    private var starts: [String: (wall: UInt64, cpu: UInt64, ops: [String: OpTimes.Total])] = [:]
    private var intervals: [String: ClosedRange<UInt64>] = [:]
    private(set) var cpus: [String: Double] = [:]
    private(set) var opTotals: [String: [String: OpTimes.Total]] = [:]

    func handle(_ event: RunEvent) {
        let now = DispatchTime.now().uptimeNanoseconds, cpu = workingCPUNanoseconds()
        let ops = OpTimes.shared.isEnabled ? OpTimes.shared.snapshot() : [:]
        lock.withLock {
            switch event {
            case .started(_, let name, _): starts[name] = (now, cpu, ops)
            case .finished(let report):
                if let start = starts[report.name], now > start.wall {
                    intervals[report.name] = start.wall...now
                    cpus[report.name] = Double(cpuNanoseconds(from: start.cpu, to: cpu)) / Double(now - start.wall)
                    var spent: [String: OpTimes.Total] = [:]
                    for (label, total) in ops {
                        if total.nanoseconds > start.ops[label]?.nanoseconds ?? 0 { spent[label] = total.since(start.ops[label]) }
                    }
                    if !spent.isEmpty { opTotals[report.name] = spent }
                }
            default: break
            }
        }
    }

    /// For each node that ran, the other nodes whose start-to-finish times overlapped its own.
    func nodesRunningBeside() -> [String: Set<String>] {
        lock.withLock {
            Dictionary(uniqueKeysWithValues: intervals.map { name, interval in
                (name, Set(intervals.filter { $0.key != name && $0.value.overlaps(interval) }.map(\.key)))
            })
        }
    }
}

/// `Engine.run` is async; the benchmark is a plain command-line program.
private func blockingRun(_ engine: Engine, _ graph: CheckedGraph, _ parameters: [String: Constant],
                         events: @escaping @Sendable (RunEvent) -> Void) throws -> RunReport {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<RunReport, any Error>?
    Task {
        do { result = .success(try await engine.run(graph, parameters: parameters, events: events)) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result!.get()
}

struct PipelineUsageError: Error, CustomStringConvertible {
    var description: String {
        "usage: zflow-bench pipeline GRAPH.zflow [--set NAME=VALUE]... [--runs N] [--cold] [--op-times]\n"
            + "  e.g. zflow-bench pipeline graphs/ldznet.zflow --set sd=DIR/sd-v1-random.safetensors "
            + "--set ldznet=DIR/ldznet-random.ckpt (DIR from tools/ldznet_pipeline.py --out DIR)"
    }
}
