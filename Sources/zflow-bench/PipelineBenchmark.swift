import Foundation
import ZFlowGraph
import ZFlowNodes

/// `zflow-bench pipeline GRAPH [--set NAME=VALUE]... [--runs N]`: a whole graph through the engine
/// as `zflow run --no-cache` runs it, once to warm up (weights are loaded then and kept by the
/// process's model store), then N times; prints each node's median seconds and the median wall
/// time of a run. The reference is `tools/ldznet_pipeline.py --time-only` on the same weights.
func runPipelineBenchmark(_ arguments: [String]) throws {
    var rest = arguments[...]
    guard let file = rest.popFirst(), !file.hasPrefix("-") else { throw PipelineUsageError() }
    var settings: [String: String] = [:]
    var runs = 3
    while let option = rest.popFirst() {
        switch option {
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
    let parameters = try graph.parameterValues(settings: settings).filter { settings[$0.key] != nil }
    let engine = Engine(registry: registry, cache: .disabled)

    func runOnce() throws -> (wall: Double, nodes: [NodeReport]) {
        let start = DispatchTime.now().uptimeNanoseconds
        let report = try blockingRun(engine, graph, parameters)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if let failure = report.failures.first { throw failure }
        return (wall, report.nodes)
    }
    let warmUp = try runOnce()
    emit(String(format: "warm-up run (weights loaded): %.2f s; then %d timed runs", warmUp.wall, runs))
    let timed = try (0..<runs).map { _ in try runOnce() }
    emit("node".padding(toLength: 28, withPad: " ", startingAt: 0) + "type".padding(toLength: 18, withPad: " ", startingAt: 0)
         + "median s")
    for (index, node) in warmUp.nodes.enumerated() {
        let seconds = median(timed.map { $0.nodes[index].seconds })
        emit(node.name.padding(toLength: 28, withPad: " ", startingAt: 0)
             + node.typeName.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%8.3f", seconds))
    }
    emit(String(format: "run (wall, median of %d): %.3f s", runs, median(timed.map(\.wall))))
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    emit(String(format: "peak resident memory: %.2f GB", Double(usage.ru_maxrss) / 1e6))
}

/// `Engine.run` is async; the benchmark is a plain command-line program.
private func blockingRun(_ engine: Engine, _ graph: CheckedGraph, _ parameters: [String: Constant]) throws -> RunReport {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<RunReport, any Error>?
    Task {
        do { result = .success(try await engine.run(graph, parameters: parameters)) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result!.get()
}

private struct PipelineUsageError: Error, CustomStringConvertible {
    var description: String {
        "usage: zflow-bench pipeline GRAPH.zflow [--set NAME=VALUE]... [--runs N]\n"
            + "  e.g. zflow-bench pipeline graphs/ldznet.zflow --set sd=DIR/sd-v1-random.safetensors "
            + "--set ldznet=DIR/ldznet-random.ckpt (DIR from tools/ldznet_pipeline.py --out DIR)"
    }
}
