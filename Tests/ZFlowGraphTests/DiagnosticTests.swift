import Foundation
import Testing
@testable import ZFlowGraph

@Suite struct DiagnosticTests {
    static let fixtureNames: [String] = {
        let folder = fixturesDirectory.appendingPathComponent("diagnostics")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".zflow") }.map { String($0.dropLast(6)) }.sorted()
    }()

    @Test func thereAreDiagnosticFixtures() {
        #expect(Self.fixtureNames.count >= 9)
    }

    /// Every error of each file, in one pass, exactly as the CLI prints them.
    @Test(arguments: fixtureNames)
    func diagnosticsMatchTheGoldenFile(_ name: String) throws {
        let url = fixturesDirectory.appendingPathComponent("diagnostics/\(name).zflow")
        let text = try String(contentsOf: url, encoding: .utf8)
        let registry = try stubRegistry(Recorder())
        do {
            _ = try Checker.check(SourceFile(name: "\(name).zflow", text: text), registry: registry)
            Issue.record("\(name).zflow checked without errors")
        } catch let diagnostics as GraphDiagnostics {
            expectGolden(diagnostics.description + "\n", "diagnostics/\(name).expected")
        }
    }

    @Test func aValidGraphChecks() throws {
        let graph = try check("""
            # a comment
            param n: Int = 2   # trailing comment
            param w: Float = 1
            param names: [String] = ["a", "b\\n\\u{1F600}"]
            halves = Split(
                x: n,
            )
            w2 = Weigh(x: halves.left, weight: w, mode: "floor", bias: -3,)
            Print(value: w2)
            """, try stubRegistry(Recorder()))
        #expect(graph.params.map(\.name) == ["n", "w", "names"])
        #expect(graph.param(named: "w")?.defaultValue == .float(1))
        #expect(graph.param(named: "names")?.defaultValue == .list([.string("a"), .string("b\n😀")]))
        #expect(graph.node(named: "w2")?.inputs["x"] == .output(node: 0, port: "left"))
        #expect(graph.sinks == [2])
    }

    @Test func setValuesAreParsedByTheDeclaredType() throws {
        let graph = try check("""
            param n: Int = 2
            param w: Float = 1.5
            param p: Path = "a.png"
            param l: [Int] = [1]
            param b: Bool = false
            s = Scale(x: n, factor: n)
            """, try stubRegistry(Recorder()))
        let values = try graph.parameterValues(settings: ["n": "7", "w": "3", "p": "cat dog.png", "l": "[4, 5,]", "b": "true"])
        #expect(values == ["n": .int(7), "w": .float(3), "p": .string("cat dog.png"), "l": .list([.int(4), .int(5)]), "b": .bool(true)])
        #expect(throws: ValueParseError.self) { try graph.parameterValues(settings: ["n": "seven"]) }
        let unknown = #expect(throws: ValueParseError.self) { try graph.parameterValues(settings: ["nn": "1"]) }
        #expect(unknown?.message == "--set nn: test.zflow has no parameter 'nn'; did you mean 'n'?")
        let outOfRange = #expect(throws: GraphDiagnostics.self) { try graph.parameterValues(settings: ["n": "500"]) }
        #expect(outOfRange?.description == """
            test.zflow:6:25: error: parameter 'n' = 500 is out of range 0...100 for argument 'factor' of Scale
            s = Scale(x: n, factor: n)
                                    ^
            1 error in test.zflow
            """)
    }
}
