import Foundation
import ZFlowGraph
import ZFlowNodes

/// The repository root (graphs/, models/tiny/, examples/ are read from it).
let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func repositoryPath(_ relative: String) -> String { repository.appendingPathComponent(relative).path }

func standardRegistry() -> NodeRegistry {
    let registry = NodeRegistry()
    registerStandardNodes(into: registry)
    return registry
}

/// A fresh path in the temporary folder (nothing is created).
func temporaryPath(_ suffix: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("zflow-nodes-\(UUID().uuidString)\(suffix)")
}

/// Checks and runs the graph `text` (sinks included), returning the report and the values of `outputs`.
func runGraph(_ text: String, outputs names: [String] = [], engine: Engine? = nil) async throws
    -> (report: RunReport, values: [String: any Sendable]) {
    let registry = engine?.registry ?? standardRegistry()
    let graph = try Checker.check(SourceFile(name: "test.zflow", text: text), registry: registry)
    let references = try names.map { try graph.output($0) }
    let report = try await (engine ?? Engine(registry: registry, cache: .disabled)).run(graph, outputs: references)
    var values: [String: any Sendable] = [:]
    for (name, reference) in zip(names, references) { values[name] = report.outputs[reference] }
    return (report, values)
}

/// The message of the only failure of a run of `text` that computes every named node with one output.
func failureMessage(_ text: String) async throws -> String {
    let registry = standardRegistry()
    let graph = try Checker.check(SourceFile(name: "test.zflow", text: text), registry: registry)
    let outputs = graph.nodes.compactMap(\.name).compactMap { try? graph.output($0) }
    let report = try await Engine(registry: registry, cache: .disabled).run(graph, outputs: outputs)
    guard report.failures.count == 1, let failure = report.failures.first else {
        return "expected one failure, got \(report.failures)"
    }
    return failure.message
}
