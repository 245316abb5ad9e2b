import Dispatch
import Foundation
import Testing
@testable import ZFlowGraph

/// Random and mutated `.zflow` sources, as text and as bytes: the checker must
/// return (a graph or located diagnostics) quickly for each, never crash or hang.
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

    /// The graphs shipped in graphs/, as bytes.
    static let bundledGraphs: [Data] = {
        let folder = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("graphs")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".zflow") }.sorted()
            .compactMap { try? Data(contentsOf: folder.appendingPathComponent($0)) }
    }()

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
            let seconds = try Self.checkWithTimeout(Data(source.utf8), registry: registry)
            worst = max(worst, seconds)
        }
        #expect(worst < 1, "slowest check took \(worst) s of CPU")
    }

    /// Bytes as editors, encodings and truncated copies spoil them: every result is a graph or
    /// `FILE:LINE:COL: error:` lines, and a file that is not UTF-8 gets exactly one error at the
    /// first bad byte, located as the standard library's decoder sees it.
    @Test func byteMutationsOfTheBundledGraphsGiveLocatedErrors() throws {
        #expect(Self.bundledGraphs.count >= 4)
        let registry = try stubRegistry(Recorder())
        var generator = SeededGenerator(seed: 6)
        var worst = 0.0, notUTF8 = 0
        for iteration in 0..<800 {
            let bytes = Self.mutateBytes(Self.bundledGraphs[iteration % Self.bundledGraphs.count], using: &generator)
            let checked = Self.checkOutcome(bytes, registry: registry)
            worst = max(worst, checked?.cpuSeconds ?? .infinity)
            guard case .diagnostics(let diagnostics)? = checked?.result else {
                if case .graph? = checked?.result { continue }
                Issue.record("\(String(describing: checked?.result)) for \(Array(bytes.prefix(64)))")
                continue
            }
            for diagnostic in diagnostics.diagnostics {
                let first = diagnostics.source.render(diagnostic).prefix { $0 != "\n" }
                #expect(first.wholeMatch(of: /fuzz\.zflow:[0-9]+:[0-9]+: error: .+/) != nil, "\(first)")
            }
            if let expected = Self.firstDecodingError(bytes) {
                notUTF8 += 1
                #expect(diagnostics.diagnostics == [expected], "\(Array(bytes))")
            }
        }
        #expect(notUTF8 > 400, "most mutations should break the encoding")
        #expect(worst < 1, "slowest check took \(worst) s of CPU")
    }

    /// The validator agrees with the standard library's decoder on random bytes (biased towards
    /// lead and continuation bytes, where overlong forms, surrogates and truncations live).
    @Test func theUTF8ValidatorAgreesWithTheStandardLibrary() {
        var generator = SeededGenerator(seed: 8)
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                                    0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for _ in 0..<20_000 {
            let bytes = Data((0..<Int.random(in: 0...8, using: &generator)).map { _ in
                Bool.random(using: &generator) ? interesting.randomElement(using: &generator)!
                    : UInt8.random(in: 0...255, using: &generator)
            })
            let expected = Self.firstDecodingError(bytes).map { _ in Self.decodedPrefixLength(bytes) }
            #expect(UTF8Validation.firstInvalidByte(in: bytes) == expected, "\(Array(bytes))")
        }
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
        let seconds = try Self.checkWithTimeout(Data(source.utf8), registry: try stubRegistry(Recorder()))
        #expect(seconds < 5, "took \(seconds) s of CPU")
    }

    static let badBytes: [UInt8] = [0x00, 0xFF, 0xC3, 0xE9, 0x80, 0xED, 0xF4, 0xC0]
    static let multiByteCharacters: [[UInt8]] = ["é", "€", "😀", "\u{FEFF}"].map { Array($0.utf8) }

    /// One to four spoilings: bad bytes inserted, a multi-byte character inserted and cut short
    /// (also at the end of the file), random bytes inserted or overwritten, a range deleted.
    static func mutateBytes(_ data: Data, using generator: inout SeededGenerator) -> Data {
        var bytes = Array(data)
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let position = Int.random(in: 0...bytes.count, using: &generator)
            switch Int.random(in: 0..<6, using: &generator) {
            case 0:
                bytes.insert(badBytes.randomElement(using: &generator)!, at: position)
            case 1:
                let character = multiByteCharacters.randomElement(using: &generator)!
                bytes.insert(contentsOf: character.prefix(Int.random(in: 1..<character.count, using: &generator)), at: position)
            case 2:
                let character = multiByteCharacters.randomElement(using: &generator)!
                bytes = Array(bytes.prefix(position)) + character.prefix(Int.random(in: 1..<character.count, using: &generator))
            case 3:
                bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }, at: position)
            case 4 where position < bytes.count:
                bytes[position] = UInt8.random(in: 0...255, using: &generator)
            default:
                bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...30, using: &generator)))
            }
        }
        return Data(bytes)
    }

    /// The diagnostic the checker owes a file that is not UTF-8, from the standard library's
    /// decoder (which stops a bad sequence at its maximal valid prefix); nil for UTF-8.
    static func firstDecodingError(_ bytes: Data) -> Diagnostic? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var line = 1, column = 1, offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput:
                return nil
            case .error:
                let byte = bytes[bytes.startIndex + offset]
                return Diagnostic(SourceRange(SourceLocation(line: line, column: column)),
                                  "invalid UTF-8 byte 0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true))
            }
        }
    }

    /// How many bytes decode before the first error.
    static func decodedPrefixLength(_ bytes: Data) -> Int {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while case .scalarValue(let scalar) = decoder.decode(&iterator) { offset += UTF8.width(scalar) }
        return offset
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

    /// Checks `bytes` (`checkOutcome`) and returns the CPU seconds the check took on its thread
    /// (unlike wall time, they do not grow with what other suites run meanwhile); records an issue
    /// unless the result is a graph or diagnostics.
    static func checkWithTimeout(_ bytes: Data, registry: NodeRegistry) throws -> Double {
        let outcome = checkOutcome(bytes, registry: registry)
        switch outcome?.result {
        case .graph?, .diagnostics?: break
        default: Issue.record("\(String(describing: outcome?.result)) for \(Array(bytes.prefix(200)))")
        }
        return outcome?.cpuSeconds ?? .infinity
    }

    /// A check's result and the CPU seconds it took.
    typealias Checked = (result: Outcome, cpuSeconds: Double)

    enum Outcome {
        case graph
        case diagnostics(GraphDiagnostics)
        case unexpected(String)
    }

    /// Decodes and checks on another thread, with that thread's CPU time, and gives up after 60 s
    /// of wall time (nil), so a hang fails instead of blocking. (A check takes well under a second of
    /// CPU; the wall-time limit only has to outlast a machine busy with the other suites.)
    static func checkOutcome(_ bytes: Data, registry: NodeRegistry) -> Checked? {
        let done = DispatchSemaphore(value: 0)
        let box = OutcomeBox()
        Thread.detachNewThread {
            let start = threadCPUSeconds()
            let result: Outcome
            do {
                let graph = try Checker.check(try SourceFile(name: "fuzz.zflow", bytes: bytes), registry: registry)
                result = DotExport.dot(graph).isEmpty ? .unexpected("no dot output") : .graph
            } catch let diagnostics as GraphDiagnostics {
                result = diagnostics.diagnostics.isEmpty ? .unexpected("no diagnostics") : .diagnostics(diagnostics)
            } catch {
                result = .unexpected("\(error)")
            }
            box.set((result, threadCPUSeconds() - start))
            done.signal()
        }
        guard done.wait(timeout: .now() + 60) == .success else {
            Issue.record("checking did not finish within 60 s: \(Array(bytes.prefix(200)))")
            return nil
        }
        return box.value
    }
}

private final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: FuzzTests.Checked?
    func set(_ value: FuzzTests.Checked) { lock.withLock { stored = value } }
    var value: FuzzTests.Checked? { lock.withLock { stored } }
}

private func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
