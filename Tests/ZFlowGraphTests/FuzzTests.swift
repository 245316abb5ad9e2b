import Dispatch
import Foundation
import Testing
@testable import ZFlowGraph

/// Random and mutated `.zflow` sources: the checker must return (a graph or
/// diagnostics) quickly for each, never crash or hang.
@Suite struct FuzzTests {
    static let seeds: [String] = [
        """
        param image: Path = "examples/images/chelsea.png"
        param t: Int = 400
        a = Const(value: t)
        h = Split(x: a)
        w = Weigh(x: h.left, weight: 0.5, mode: "floor",)
        s = Sum(values: [1, 2, -3])
        Print(value: w)
        """,
    ] + DiagnosticTests.fixtureNames.compactMap {
        try? String(contentsOf: fixturesDirectory.appendingPathComponent("diagnostics/\($0).zflow"), encoding: .utf8)
    }

    static let alphabet: [String] = [
        "param", " ", "\n", "=", "(", ")", "[", "]", ",", ":", ".", "\"", "\\", "#", "-", "1", "2.5", "1e9",
        "true", "x", "Const", "Scale", "Add", "value", "a", "b", "\t", "é", "\u{0}", "99999999999999999999", "\\u{",
    ]

    @Test func randomAndMutatedSourcesTerminateQuickly() throws {
        let registry = try stubRegistry(Recorder())
        var generator = SeededGenerator(seed: 20_231)
        var worst = 0.0
        for iteration in 0..<1500 {
            let source: String
            if iteration % 3 == 0 {
                source = (0..<Int.random(in: 0...80, using: &generator))
                    .map { _ in Self.alphabet.randomElement(using: &generator)! }.joined()
            } else {
                source = Self.mutate(Self.seeds.randomElement(using: &generator)!, using: &generator)
            }
            let seconds = try Self.checkWithTimeout(source, registry: registry)
            worst = max(worst, seconds)
        }
        #expect(worst < 1, "slowest check took \(worst) s")
    }

    @Test(arguments: [
        String(repeating: "[", count: 100_000),
        "x = Const(value: " + String(repeating: "[", count: 10_000),
        String(repeating: "(", count: 100_000),
        String(repeating: "$", count: 100_000),
        String(repeating: "\"", count: 50_001),
        String(repeating: "x = Const(value: 1)\n", count: 5_000),
        "a0 = Add(a: a4999)\n" + (1..<5_000).map { "a\($0) = Add(a: a\($0 - 1))" }.joined(separator: "\n"),
    ])
    func hostileSourcesTerminate(_ source: String) throws {
        let seconds = try Self.checkWithTimeout(source, registry: try stubRegistry(Recorder()))
        #expect(seconds < 5)
    }

    static func mutate(_ text: String, using generator: inout SeededGenerator) -> String {
        var scalars = Array(text.unicodeScalars)
        for _ in 0..<Int.random(in: 1...6, using: &generator) {
            let position = scalars.isEmpty ? 0 : Int.random(in: 0..<scalars.count, using: &generator)
            switch Int.random(in: 0..<5, using: &generator) {
            case 0 where !scalars.isEmpty: scalars.remove(at: position)
            case 1: scalars.insert(contentsOf: alphabet.randomElement(using: &generator)!.unicodeScalars, at: position)
            case 2 where !scalars.isEmpty: scalars[position] = alphabet.randomElement(using: &generator)!.unicodeScalars.first!
            case 3: scalars = Array(scalars.prefix(position))
            default:
                let end = min(scalars.count, position + Int.random(in: 1...40, using: &generator))
                scalars.insert(contentsOf: scalars[position..<end], at: end)
            }
        }
        var out = ""
        out.unicodeScalars.append(contentsOf: scalars)
        return out
    }

    /// Checks on another thread and gives up after 10 s, so a hang fails instead of blocking.
    static func checkWithTimeout(_ source: String, registry: NodeRegistry) throws -> Double {
        let done = DispatchSemaphore(value: 0)
        let start = DispatchTime.now()
        let box = ResultBox()
        Thread.detachNewThread {
            do {
                let graph = try Checker.check(SourceFile(name: "fuzz.zflow", text: source), registry: registry)
                box.set(DotExport.dot(graph).isEmpty ? "empty" : "ok")
            } catch let diagnostics as GraphDiagnostics {
                box.set(diagnostics.diagnostics.isEmpty ? "no diagnostics" : "diagnostics")
            } catch {
                box.set("unexpected \(error)")
            }
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success else {
            Issue.record("checking did not finish within 10 s: \(source.prefix(200).debugDescription)")
            return 10
        }
        #expect(box.value == "ok" || box.value == "diagnostics", "\(box.value ?? "nil") for \(source.prefix(200).debugDescription)")
        return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    func set(_ value: String) { lock.withLock { stored = value } }
    var value: String? { lock.withLock { stored } }
}
