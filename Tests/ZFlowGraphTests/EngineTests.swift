import Foundation
import Testing
@testable import ZFlowGraph

private let baseGraph = """
    param k: Int = 3
    a = Const(value: 1)
    b = Const(value: 10)
    sa = Scale(x: a, factor: k)
    sb = Scale(x: b)
    s = Add(a: sa, b: sb)
    t = Add(a: s, b: 5)
    unused = Const(value: 99)
    Print(value: t)
    """

private let printSink = "Print (line 9)"

@Suite struct EngineTests {
    @Test func runsOnlyTheNodesASinkNeeds() async throws {
        let recorder = Recorder()
        let graph = try check(baseGraph, try stubRegistry(recorder))
        let report = try await Engine(registry: try stubRegistry(Recorder()), cache: .disabled).run(graph)
        #expect(report.succeeded)
        #expect(recorder.executedSet == ["a", "b", "sa", "sb", "s", "t", printSink])
        #expect(recorder.sinks[printSink] == 1 * 3 + 10 * 2 + 5)
        #expect(report.node(named: "unused") == nil)
    }

    @Test func requestedOutputsRunWithoutSinks() async throws {
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let graph = try check(baseGraph, registry)
        let target = try graph.output("sa")
        let report = try await Engine(registry: registry, cache: .disabled)
            .run(graph, outputs: [target], options: .init(runSinks: false))
        #expect(recorder.executedSet == ["a", "sa"])
        #expect(report.outputs[target] as? Int == 3)
    }

    @Test func onDemandOutputsAreComputedOnlyWhenReadAndKeyedByIt() async throws {
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let engine = Engine(registry: registry, cache: .init(directory: nil))
        let withoutExtra = "p = Probe(x: 2)\nPrint(value: p)"  // a bare name skips on-demand outputs
        _ = try await engine.run(try check(withoutExtra, registry))
        #expect(recorder.executedSet == ["p", "Print (line 2)"])

        recorder.reset()
        let withExtra = "p = Probe(x: 2)\nPrint(value: p.extra)"
        _ = try await engine.run(try check(withExtra, registry))
        #expect(recorder.executedSet == ["p", "p.extra", "Print (line 2)"], "a cached run without extra is not reused")
        #expect(recorder.sinks["Print (line 2)"] == 200)

        recorder.reset()
        let graph = try check(withoutExtra, registry)
        let dumped = try await engine.run(graph, outputs: [try graph.output("p.extra")])
        #expect(recorder.executedSet == ["Print (line 2)"], "the entry with extra serves a dump of extra")
        #expect(dumped.outputs[try graph.output("p.extra")] as? Int == 200)
    }

    @Test func editingOneConstantRerunsExactlyItsDownstreamFromMemory() async throws {
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let engine = Engine(registry: registry, cache: .init(directory: nil))
        _ = try await engine.run(try check(baseGraph, registry))
        recorder.reset()
        let edited = baseGraph.replacingOccurrences(of: "Const(value: 10)", with: "Const(value: 20)")
        let report = try await engine.run(try check(edited, registry))
        #expect(recorder.executedSet == ["b", "sb", "s", "t", printSink])
        #expect(report.node(named: "sa")?.status == .memoryHit)
        #expect(report.node(named: "a") == nil, "upstream of a hit: neither run nor reported")
        #expect(recorder.sinks[printSink] == 3 + 40 + 5)
        #expect(report.executedCount == 5)
    }

    @Test func diskCacheServesASecondEngineAndRecomputesOnlyTheEdit() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        _ = try await Engine(registry: registry, cache: .init(directory: directory)).run(try check(baseGraph, registry))

        recorder.reset()
        let second = try await Engine(registry: registry, cache: .init(directory: directory))
            .run(try check(baseGraph, registry))
        #expect(recorder.executedSet == [printSink])
        #expect(second.node(named: "t")?.status == .diskHit)

        recorder.reset()
        let edited = baseGraph.replacingOccurrences(of: "factor: k", with: "factor: 4")
        let third = try await Engine(registry: registry, cache: .init(directory: directory)).run(try check(edited, registry))
        #expect(recorder.executedSet == ["sa", "s", "t", printSink])
        #expect(third.node(named: "a")?.status == .diskHit)
        #expect(third.node(named: "sb")?.status == .diskHit)
        #expect(recorder.sinks[printSink] == 4 + 20 + 5)
    }

    @Test func renamingANodeKeepsItsCacheEntries() async throws {
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let engine = Engine(registry: registry)
        _ = try await engine.run(try check(baseGraph, registry))
        recorder.reset()
        let renamed = baseGraph.replacingOccurrences(of: "sa", with: "scaledA")
            .replacingOccurrences(of: "t = Add", with: "total = Add").replacingOccurrences(of: "value: t", with: "value: total")
        let report = try await engine.run(try check(renamed, registry))
        #expect(recorder.executedSet == [printSink])
        #expect(report.node(named: "total")?.status == .memoryHit)
    }

    @Test func parameterOverridesChangeKeysAndValues() async throws {
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let engine = Engine(registry: registry)
        let graph = try check(baseGraph, registry)
        _ = try await engine.run(graph)
        recorder.reset()
        _ = try await engine.run(graph, parameters: try graph.parameterValues(settings: ["k": "5"]))
        #expect(recorder.executedSet == ["sa", "s", "t", printSink])
        #expect(recorder.sinks[printSink] == 5 + 20 + 5)
        recorder.reset()
        _ = try await engine.run(graph, parameters: ["k": .int(3)])
        #expect(recorder.executedSet == [printSink])
    }

    @Test func independentBranchesOverlapInTime() async throws {
        let source = """
            l = Wait(x: 1)
            r = Wait(x: 2)
            Print(value: l)
            Print(value: r)
            """
        let latch = Latch(parties: 2)
        let registry = try stubRegistry(Recorder(), latch: latch)
        let report = try await Engine(registry: registry, cache: .disabled)
            .run(try check(source, registry), options: .init(concurrency: 2))
        #expect(report.succeeded, "\(report.failures)")
    }

    @Test func theOverlapTestFailsWhenBranchesRunOneAtATime() async throws {
        let source = """
            l = Wait(x: 1)
            r = Wait(x: 2)
            Print(value: l)
            Print(value: r)
            """
        let registry = try stubRegistry(Recorder(), latch: Latch(parties: 2), latchTimeout: 0.2)
        let report = try await Engine(registry: registry, cache: .disabled)
            .run(try check(source, registry), options: .init(concurrency: 1))
        #expect(!report.succeeded)
    }

    @Test func heavyNodesNeverRunTogether() async throws {
        let counter = OverlapCounter()
        let recorder = Recorder()
        let registry = try stubRegistry(recorder, heavy: counter)
        let source = (0..<4).map { "h\($0) = Heavy(x: \($0))\nPrint(value: h\($0))" }.joined(separator: "\n")
        let report = try await Engine(registry: registry, cache: .disabled)
            .run(try check(source, registry), options: .init(concurrency: 4))
        #expect(report.succeeded)
        #expect(counter.peak == 1)
        #expect(recorder.sinks.count == 4)
    }

    @Test func resultsAreIdenticalForAnyConcurrency() async throws {
        var generator = SeededGenerator(seed: 42)
        var lines = ["n0 = Const(value: 1)", "n1 = Const(value: 2)"]
        for index in 2..<60 {
            let a = Int.random(in: 0..<index, using: &generator), b = Int.random(in: 0..<index, using: &generator)
            lines.append(Bool.random(using: &generator)
                ? "n\(index) = Add(a: n\(a), b: n\(b))" : "n\(index) = Scale(x: n\(a), factor: \(Int.random(in: 0...3, using: &generator)))")
        }
        lines.append("Print(value: n59)")
        let registry = try stubRegistry(Recorder())
        let graph = try check(lines.joined(separator: "\n"), registry)
        let targets = try (0..<60).map { try graph.output("n\($0)") }
        var results: [[Int]] = []
        for concurrency in [1, 2, 8] {
            let report = try await Engine(registry: registry, cache: .disabled)
                .run(graph, outputs: targets, options: .init(concurrency: concurrency))
            results.append(targets.map { report.outputs[$0] as? Int ?? -1 })
        }
        #expect(results[0] == results[1])
        #expect(results[0] == results[2])
        #expect(!results[0].contains(-1))
    }

    @Test func aFailureStopsItsDependentsAndLetsIndependentWorkFinish() async throws {
        let source = """
            ok = Const(value: 1)
            bad = Fail(x: ok)
            after = Scale(x: bad)
            Print(value: after)
            Print(value: ok)
            """
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let report = try await Engine(registry: registry, cache: .disabled).run(try check(source, registry, name: "fail.zflow"))
        #expect(!report.succeeded)
        #expect(report.node(named: "after")?.status == .skipped(dependency: "bad"))
        #expect(report.node(named: "Print (line 4)")?.status == .skipped(dependency: "bad"))
        #expect(recorder.sinks["Print (line 5)"] == 1)
        #expect(!recorder.executedSet.contains("after"))
        let failure = try #require(report.failures.first)
        #expect(failure.description == """
            fail.zflow:2:1: error: node 'bad' (Fail) failed: stub failure
            bad = Fail(x: ok)
            ^~~
            """)
    }

    @Test func nonCacheableNodesAlwaysRunAndPoisonTheirDownstream() async throws {
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        try registry.register(ClosureNode(NodeSchema(name: "Clock", doc: "Reads the clock.", inputs: [],
                                                     outputs: [OutputSpec("out", .int, doc: "Now.")], isCacheable: false)) { inputs in
            recorder.record(inputs.nodeName)
            return NodeOutputs(["out": 7])
        })
        let source = "c = Clock()\nd = Scale(x: c)\nPrint(value: d)"
        let engine = Engine(registry: registry)
        _ = try await engine.run(try check(source, registry))
        recorder.reset()
        _ = try await engine.run(try check(source, registry))
        #expect(recorder.executedSet == ["c", "d", "Print (line 3)"])
    }

    @Test func explainCacheNamesThePartOfTheKeyThatChanged() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try stubRegistry(Recorder())
        let options = Engine.RunOptions(explainCache: true)
        let first = try await Engine(registry: registry, cache: .init(directory: directory))
            .run(try check(baseGraph, registry), options: options)
        #expect(first.node(named: "sa")?.explanation == "miss: no earlier run of this node is recorded")
        let edited = baseGraph.replacingOccurrences(of: "Const(value: 10)", with: "Const(value: 20)")
        let second = try await Engine(registry: registry, cache: .init(directory: directory))
            .run(try check(edited, registry), options: options)
        #expect(second.node(named: "b")?.explanation == "miss: argument 'value' changed (int:10 -> int:20)")
        #expect(second.node(named: "sb")?.explanation == "miss: input 'x' from 'b' changed")
        #expect(second.node(named: "sa")?.explanation == "hit (disk)")
        #expect(second.node(named: printSink)?.explanation == "miss: Print is not cacheable")
    }

    @Test func corruptDiskEntriesAreDetectedAndRecomputed() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let graph = try check("x = Const(value: 4)\nPrint(value: x)", registry)
        let first = try await Engine(registry: registry, cache: .init(directory: directory)).run(graph)
        let key = try #require(first.node(named: "x")?.key)
        let entry = directory.appendingPathComponent("entries/\(key.prefix(2))/\(key).zfc")
        var bytes = try Data(contentsOf: entry)
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: entry)

        recorder.reset()
        let second = try await Engine(registry: registry, cache: .init(directory: directory)).run(graph)
        #expect(second.node(named: "x")?.status == .executed)
        #expect(second.corruptEntries.count == 1)
        #expect(second.corruptEntries.first?.contains("checksum mismatch") == true)
        #expect(recorder.sinks["Print (line 2)"] == 4)

        let third = try await Engine(registry: registry, cache: .init(directory: directory)).run(graph)
        #expect(third.node(named: "x")?.status == .diskHit)
    }

    @Test func theDiskLevelStaysWithinItsSizeLimit() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try stubRegistry(Recorder())
        let source = (0..<20).map { "n\($0) = Const(value: \($0))\nPrint(value: n\($0))" }.joined(separator: "\n")
        let limit = 1000
        _ = try await Engine(registry: registry, cache: .init(directory: directory, diskLimit: limit))
            .run(try check(source, registry))
        let sizes = try FileManager.default.subpathsOfDirectory(atPath: directory.appendingPathComponent("entries").path)
            .filter { $0.hasSuffix(".zfc") }
            .map { try Data(contentsOf: directory.appendingPathComponent("entries/\($0)")).count }
        #expect(!sizes.isEmpty)
        #expect(sizes.count < 20)
        #expect(sizes.reduce(0, +) <= limit)
    }

    @Test func theMemoryLevelEvictsBeyondItsBudget() async throws {
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let graph = try check("a = Const(value: 1)\nb = Const(value: 2)\nPrint(value: a)\nPrint(value: b)", registry)
        // Each output is one byte as a literal ("1", "2"): the budget holds one of them.
        let engine = Engine(registry: registry, cache: .init(memoryBudget: 1, directory: nil))
        _ = try await engine.run(graph)
        recorder.reset()
        _ = try await engine.run(graph)
        #expect(recorder.executedSet.intersection(["a", "b"]).count == 1)
    }

    @Test func fileArgumentsAreFingerprintedByContent() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("input.bin")
        try Data(repeating: 1, count: 10).write(to: file)
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let graph = try check("n = ReadSize(path: \"\(file.path)\")\nPrint(value: n)", registry)
        let engine = Engine(registry: registry)
        _ = try await engine.run(graph)
        recorder.reset()
        _ = try await engine.run(graph)
        #expect(recorder.executedSet == ["Print (line 2)"])
        try Data(repeating: 2, count: 12).write(to: file)
        recorder.reset()
        _ = try await engine.run(graph)
        #expect(recorder.executedSet == ["n", "Print (line 2)"])
        #expect(recorder.sinks["Print (line 2)"] == 12)

        recorder.reset()
        let sameFile = directory.path + "/./sub/../input.bin"
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("sub"), withIntermediateDirectories: true)
        _ = try await engine.run(try check("n = ReadSize(path: \"\(sameFile)\")\nPrint(value: n)", registry))
        #expect(recorder.executedSet == ["Print (line 2)"], "another spelling of the same path is the same argument")
    }

    @Test func constantsAreTypeTaggedInKeys() throws {
        #expect(Constant.int(1).canonicalKey != Constant.float(1).canonicalKey)
        #expect(Constant.int(1).canonicalKey != Constant.bool(true).canonicalKey)
        #expect(Constant.string("1").canonicalKey != Constant.int(1).canonicalKey)
        #expect(Constant.list([.int(1), .int(2)]).canonicalKey != Constant.list([.int(12)]).canonicalKey)
    }

    @Test func anIntegerGivenToAFloatPortIsTheSameArgumentAsTheFloat() async throws {
        let recorder = Recorder()
        let registry = try stubRegistry(recorder)
        let engine = Engine(registry: registry)
        _ = try await engine.run(try check("w = Weigh(x: 3, weight: 2.0)\nPrint(value: w)", registry))
        recorder.reset()
        _ = try await engine.run(try check("w = Weigh(x: 3, weight: 2)\nPrint(value: w)", registry))
        #expect(recorder.executedSet == ["Print (line 2)"])
        #expect(recorder.sinks["Print (line 2)"] == 6)
    }

    @Test func tensorPortsAcceptTensorLikeOutputs() async throws {
        let registry = try stubRegistry(Recorder())
        let graph = try check("i = MakeImage(size: 5)\nn = Count(value: i)", registry)
        let target = try graph.output("n")
        let report = try await Engine(registry: registry, cache: .disabled).run(graph, outputs: [target])
        #expect(report.outputs[target] as? Int == 5)
    }
}

/// A small deterministic generator (SplitMix64) for seeded tests.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct HashTests {
    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        var split = SHA256()
        split.update(million.prefix(333))
        split.update(million.dropFirst(333))
        #expect(split.finalizeHex() == SHA256.hex(million))
    }
}
