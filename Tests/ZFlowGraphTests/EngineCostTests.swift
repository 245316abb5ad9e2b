import Foundation
import Testing
@testable import ZFlowGraph

/// What a run costs beyond its nodes: disk-cache writes off the critical path, values released
/// after their last reader, the explanation history written only when asked for. Each is shown
/// by what stub nodes can observe, not by timings.
@Suite struct EngineCostTests {
    private let chain = "i = MakeImage(size: 3)\nn = Count(value: i)\nPrint(value: n)"

    @Test func dependentsRunWhileTheDiskWriteIsUnderWay() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        // The write of i's entry blocks until the node reading i has started (at most 5 s).
        let codec = FakeImageCodec { recorder.executedSet.contains("n") }
        registry.register(codec: codec, for: .image)
        let report = try await Engine(registry: registry, cache: .init(directory: directory))
            .run(try check(chain, registry))
        #expect(report.succeeded)
        #expect(codec.conditionHeld == [true], "the write waited for a dependent that could not start")
        let key = try #require(report.node(named: "i")?.key)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("entries/\(key.prefix(2))/\(key).zfc").path),
                "the write finished before the run returned")
        #expect(report.cacheWriteFailures.isEmpty)
    }

    @Test func aFailedDiskWriteIsReportedAndTheRunStands() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try stubRegistry(Recorder())
        registry.register(codec: FakeImageCodec(failing: true) { true }, for: .image)
        let graph = try check(chain, registry)
        let report = try await Engine(registry: registry, cache: .init(directory: directory))
            .run(graph, outputs: [try graph.output("n")])
        #expect(report.succeeded)
        #expect(report.outputs[try graph.output("n")] as? Int == 3)
        #expect(report.cacheWriteFailures == ["cannot write the cache entry of 'i': disk full (stub)"])
    }

    @Test func aValueIsReleasedWhenItsLastReaderFinishes() async throws {
        let registry = try stubRegistry(Recorder())
        let tracker = try registerTracking(registry)
        // r waits (at most 5 s) until nothing holds t's value any more; u, t's only reader, is done by then.
        let graph = try check("t = Track()\nu = Use(value: t)\nr = AwaitRelease(x: u)\nPrint(value: r)", registry)
        let report = try await Engine(registry: registry, cache: .disabled).run(graph)
        #expect(report.succeeded, "\(report.failures)")
        #expect(tracker.created == 1)
    }

    @Test func aValueWithAnotherReaderToComeIsKept() async throws {
        let registry = try stubRegistry(Recorder())
        let tracker = try registerTracking(registry)
        // v reads t after r, so t's value must survive u: r sees it still held and fails.
        let graph = try check("""
            t = Track()
            u = Use(value: t)
            r = AwaitRelease(x: u, seconds: 0.2)
            v = Use(value: t, after: r)
            Print(value: v)
            """, registry)
        let report = try await Engine(registry: registry, cache: .disabled).run(graph)
        #expect(report.failures.map(\.message) == ["t's value is still held"])
        #expect(tracker.created == 1)
    }

    @Test func requestedValuesAreKeptForTheCaller() async throws {
        let registry = try stubRegistry(Recorder())
        let tracker = try registerTracking(registry)
        let graph = try check("t = Track()\nu = Use(value: t)\nPrint(value: u)", registry)
        let target = try graph.output("t")
        let report = try await Engine(registry: registry, cache: .disabled).run(graph, outputs: [target])
        #expect(report.succeeded)
        let value = try #require(report.outputs[target] as? TrackedValue)
        #expect(value === tracker.latest)
    }

    @Test func theExplanationHistoryIsWrittenOnlyWithExplainCache() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try stubRegistry(Recorder())
        let graph = try check("x = Const(value: 4)\nPrint(value: x)", registry)
        let history = directory.appendingPathComponent("explain")
        _ = try await Engine(registry: registry, cache: .init(directory: directory)).run(graph)
        #expect(!FileManager.default.fileExists(atPath: history.path))
        _ = try await Engine(registry: registry, cache: .init(directory: directory)).run(graph, options: .init(explainCache: true))
        #expect(try FileManager.default.contentsOfDirectory(atPath: history.path).count == 1)
    }
}

/// Encodes a `FakeImage` once `condition` holds (waiting at most 5 s), recording whether it held.
private final class FakeImageCodec: PortCodec, @unchecked Sendable {
    private let condition: @Sendable () -> Bool
    private let failing: Bool
    private let lock = NSLock()
    private var observed: [Bool] = []

    init(failing: Bool = false, condition: @escaping @Sendable () -> Bool) {
        self.failing = failing
        self.condition = condition
    }

    var conditionHeld: [Bool] { lock.withLock { observed } }

    func encode(_ value: any Sendable) throws -> Data {
        let deadline = Date().addingTimeInterval(5)
        while !condition() && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
        let held = condition()
        lock.withLock { observed.append(held) }
        if failing { throw NodeError("disk full (stub)") }
        guard let image = value as? FakeImage else { throw NodeError("not a FakeImage") }
        return Data(image.pixels.map { UInt8(truncatingIfNeeded: $0) })
    }

    func decode(_ data: Data) throws -> any Sendable { FakeImage(pixels: data.map(Int.init)) }
    func export(_ value: any Sendable, name: String) throws -> Data { try encode(value) }
    var exportExtension: String { "bin" }
    func byteCount(of value: any Sendable) -> Int { (value as? FakeImage)?.pixels.count ?? 0 }
}

final class TrackedValue: Sendable {}

/// Which `TrackedValue`s `Track` nodes made, without keeping them alive.
final class ValueTracker: @unchecked Sendable {
    private let lock = NSLock()
    private weak var last: TrackedValue?
    private var count = 0

    func made(_ value: TrackedValue) { lock.withLock { last = value; count += 1 } }
    var latest: TrackedValue? { lock.withLock { last } }
    var created: Int { lock.withLock { count } }
}

/// `Track()` makes a value; `Use(value:, after:)` reads it; `AwaitRelease(x:, seconds:)` waits
/// (5 s by default) for the last tracked value to be freed and fails if it is not.
private func registerTracking(_ registry: NodeRegistry) throws -> ValueTracker {
    let tracker = ValueTracker()
    try registry.register(ClosureNode(NodeSchema(name: "Track", doc: "Makes a tracked value.", inputs: [],
                                                 outputs: [OutputSpec("out", .image, doc: "The value.")])) { _ in
        let value = TrackedValue()
        tracker.made(value)
        return NodeOutputs(["out": value])
    })
    try registry.register(ClosureNode(NodeSchema(name: "Use", doc: "Reads a value.",
                                                 inputs: [InputSpec("value", .image, doc: "The value."),
                                                          InputSpec("after", .int, optional: true, doc: "Ordering only.")],
                                                 outputs: [OutputSpec("out", .int, doc: "1.")])) { inputs in
        _ = try inputs.value("value", as: TrackedValue.self)
        return NodeOutputs(["out": 1])
    })
    try registry.register(ClosureNode(NodeSchema(name: "AwaitRelease", doc: "Waits for the tracked value to be freed.",
                                                 inputs: [InputSpec("x", .int, doc: "Passed through."),
                                                          InputSpec("seconds", .float, default: .float(5), doc: "The longest wait.")],
                                                 outputs: [OutputSpec("out", .int, doc: "x.")])) { inputs in
        let deadline = Date().addingTimeInterval(try inputs.float("seconds"))
        while tracker.latest != nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
        guard tracker.latest == nil else { throw NodeError("t's value is still held") }
        return NodeOutputs(["out": try inputs.int("x")])
    })
    return tracker
}
