import Foundation
import Testing

@Suite struct HelpAndExitCodeTests {
    @Test(arguments: [
        (["--help"], "help.txt"),
        (["run", "--help"], "help-run.txt"),
        (["check", "--help"], "help-check.txt"),
        (["nodes", "--help"], "help-nodes.txt"),
        (["dot", "--help"], "help-dot.txt"),
        (["nodes"], "nodes.txt"),
    ])
    func outputMatchesGolden(_ arguments: [String], _ golden: String) throws {
        let output = try CLI.run(arguments)
        #expect(output.status == 0, "\(output.stderr)")
        expectGolden(output.stdout, golden)
    }

    @Test func graphErrorsExitWith3AndAreAllPrinted() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
            param n: Intt = 1
            x = Nope(a: 1)
            y = Const(value: "unterminated)
            """.write(to: directory.appendingPathComponent("bad.zflow"), atomically: true, encoding: .utf8)
        let output = try CLI.run(["check", "bad.zflow"], in: directory)
        #expect(output.status == 3)
        expectGolden(output.stderr, "check-errors.txt")
        #expect(try CLI.run(["run", "bad.zflow", "--no-cache"], in: directory).status == 3)
        #expect(try CLI.run(["dot", "bad.zflow"], in: directory).status == 3)
    }

    @Test func usageErrorsExitWith2() throws {
        #expect(try CLI.run(["check", "/nonexistent/graph.zflow"]).status == 2)
        #expect(try CLI.run(["run"]).status == 2)
        #expect(try CLI.run(["run", "x.zflow", "--concurrency", "0"]).status == 2)
        #expect(try CLI.run(["run", "x.zflow", "--events", "xml"]).status == 2)
        let unknownType = try CLI.run(["nodes", "NoSuchNode"])
        #expect(unknownType.status == 2)
        #expect(unknownType.stderr.contains("unknown node type 'NoSuchNode'"))
    }

    @Test func aMissingPluginExitsWith4() throws {
        let output = try CLI.run(["nodes", "--plugin", "/nonexistent/libPlugin.so"])
        #expect(output.status == 4)
        #expect(output.stderr.contains("plugin /nonexistent/libPlugin.so: no such file"))
    }
}
