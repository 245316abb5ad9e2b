import Foundation
import Testing
@testable import ZFlowGraph

/// Cache keys hold the code that computed the values: the host's code identity (the ZFlow
/// version) for every node, and a node's own implementation identity.
@Suite struct CodeIdentityTests {
    private let source = """
        a = Const(value: 1)
        k = Kernel(x: a)
        s = Scale(x: k)
        other = Scale(x: a)
        Print(value: s)
        Print(value: other)
        """

    @Test func anotherZFlowVersionServesNothingAndSaysSo() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let recorder = Recorder()
        let registry = try kernelRegistry(recorder, Backend("scalar"))
        let graph = try check(source, registry)
        let explain = Engine.RunOptions(explainCache: true)
        _ = try await Engine(registry: registry, cache: .init(directory: directory, codeIdentity: "zflow 1.0"))
            .run(graph, options: explain)

        recorder.reset()
        let upgraded = try await Engine(registry: registry, cache: .init(directory: directory, codeIdentity: "zflow 1.1"))
            .run(graph, options: explain)
        #expect(recorder.executedSet == ["a", "k", "s", "other", "Print (line 5)", "Print (line 6)"])
        for name in ["a", "k", "s", "other"] {
            #expect(upgraded.node(named: name)?.explanation == "miss: ZFlow version changed", "\(name)")
        }

        recorder.reset()
        let back = try await Engine(registry: registry, cache: .init(directory: directory, codeIdentity: "zflow 1.0"))
            .run(graph)
        #expect(back.node(named: "s")?.status == .diskHit, "each version keeps its own entries")
    }

    @Test func anotherImplementationOfANodeRecomputesItAndItsDownstreamOnly() async throws {
        let recorder = Recorder()
        let backend = Backend("avx2")
        let registry = try kernelRegistry(recorder, backend)
        let graph = try check(source, registry)
        let engine = Engine(registry: registry, cache: .init(directory: nil))
        let explain = Engine.RunOptions(explainCache: true)
        _ = try await engine.run(graph, options: explain)

        recorder.reset()
        backend.name = "avx512"
        let report = try await engine.run(graph, options: explain)
        #expect(recorder.executedSet == ["k", "s", "Print (line 5)", "Print (line 6)"])
        #expect(report.node(named: "k")?.explanation == "miss: implementation changed")
        #expect(report.node(named: "s")?.explanation == "miss: input 'x' from 'k' changed")
        #expect(report.node(named: "other")?.status == .memoryHit)
    }

    @Test func explanationRecordsFromBeforeCodeIdentitiesReadAsAnotherVersion() throws {
        let old = #"{"type":"Const","version":1,"arguments":{"value":"int:1"},"inputs":{},"inputSources":{}}"#
        let previous = try JSONDecoder().decode(KeyParts.self, from: Data(old.utf8))
        let current = KeyParts(code: ZFlowVersion.string, type: "Const", version: 1, implementation: "",
                               arguments: ["value": "int:1"])
        #expect(current.changes(since: previous) == ["ZFlow version changed"])
    }
}

/// The kernel backend a `Kernel` node reports as its implementation; changeable between runs.
final class Backend: @unchecked Sendable {
    private let lock = NSLock()
    private var current: String
    init(_ name: String) { current = name }
    var name: String {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// Doubles its input; its implementation identity is the backend's name.
private struct KernelNode: NodeType {
    let recorder: Recorder
    let backend: Backend
    let schema = NodeSchema(name: "Kernel", doc: "Doubles x with the chosen backend.",
                            inputs: [InputSpec("x", .int, doc: "The value.")],
                            outputs: [OutputSpec("out", .int, doc: "2 x.")])

    var implementationIdentity: String { backend.name }

    func execute(_ inputs: NodeInputs) throws -> NodeOutputs {
        recorder.record(inputs.nodeName)
        return NodeOutputs(["out": 2 * (try inputs.int("x"))])
    }
}

private func kernelRegistry(_ recorder: Recorder, _ backend: Backend) throws -> NodeRegistry {
    let registry = try stubRegistry(recorder)
    try registry.register(KernelNode(recorder: recorder, backend: backend))
    return registry
}
