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

    @Test func checkTakesSeveralFilesAndReportsEach() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "x = Const(value: 1)\n".write(to: directory.appendingPathComponent("bad.zflow"), atomically: true, encoding: .utf8)
        try "param p: Path = \"a.png\"\nphoto = LoadImage(path: p)\nSaveMask(mask: photo, path: \"m.png\")\n"
            .write(to: directory.appendingPathComponent("bad2.zflow"), atomically: true, encoding: .utf8)
        try "param p: Path = \"a.png\"\nphoto = LoadImage(path: p)\n"
            .write(to: directory.appendingPathComponent("good.zflow"), atomically: true, encoding: .utf8)
        let all = try CLI.run(["check", "good.zflow", "bad.zflow", "good.zflow", "bad2.zflow"], in: directory)
        #expect(all.status == 3)
        #expect(all.stdout == "good.zflow: ok (1 params, 1 nodes, 0 sinks)\ngood.zflow: ok (1 params, 1 nodes, 0 sinks)\n")
        #expect(all.stderr.hasPrefix("bad.zflow:1:5: error: unknown node type 'Const'"))
        #expect(all.stderr.contains("\n1 error in bad.zflow\nbad2.zflow:3:16: error: "), "\(all.stderr)")
        #expect(all.stderr.hasSuffix("\n1 error in bad2.zflow\n"))

        let bundled = ["ldznet", "ldznet-concat", "znet", "zeroshot"].map { "graphs/\($0).zflow" }
        let goodOnly = try CLI.run(["check"] + bundled, in: CLI.packageRoot)
        #expect(goodOnly.status == 0, "\(goodOnly.stderr)")
        #expect(goodOnly.stdout.split(separator: "\n").map { $0.prefix { $0 != ":" } } == bundled.map { Substring($0) })

        let missing = try CLI.run(["check", "good.zflow", "missing.zflow"], in: directory)
        #expect(missing.status == 2)
        #expect(missing.stdout.hasPrefix("good.zflow: ok"))
        #expect(missing.stderr == "zflow: no such file or folder: missing.zflow (relative to \(directory.path))\n")
        #expect(try CLI.run(["check", "missing.zflow", "bad.zflow"], in: directory).status == 3, "graph errors outrank")
        #expect(try CLI.run(["check"]).status == 2)
    }

    @Test func aGraphPathThatIsNoFileIsAUsageError() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for command in ["run", "check", "dot"] {
            let missing = try CLI.run([command, "nope.zflow"], in: directory)
            #expect(missing.status == 2)
            #expect(missing.stderr == "zflow: no such file or folder: nope.zflow (relative to \(directory.path))\n")
            let folder = try CLI.run([command, directory.path])
            #expect(folder.status == 2)
            #expect(folder.stderr == "zflow: \(directory.path) is a folder, expected a file\n")
        }
    }

    @Test func aGraphFileThatIsNotUTF8IsAGraphError() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = Data("param s: String = \"caf".utf8) + Data([0xE9]) + Data("\"\n".utf8)
        try bytes.write(to: directory.appendingPathComponent("latin1.zflow"))
        for command in ["run", "check", "dot"] {
            let output = try CLI.run([command, "latin1.zflow", "--no-cache"].filter { command == "run" || $0 != "--no-cache" },
                                     in: directory)
            #expect(output.status == 3)
            #expect(output.stderr == "latin1.zflow:1:23: error: invalid UTF-8 byte 0xE9\nparam s: String = \"caf\u{FFFD}\n"
                + String(repeating: " ", count: 22) + "^\n1 error in latin1.zflow\n")
        }
    }

    @Test func aFileThatIsNoGraphStopsAfter50Errors() throws {
        let output = try CLI.run(["run", "README.md"], in: CLI.packageRoot)
        #expect(output.status == 3)
        let lines = output.stderr.split(separator: "\n")
        #expect(lines.filter { $0.wholeMatch(of: /README\.md:[0-9]+:[0-9]+: error: .*/) != nil }.count == 50)
        let total = try #require(lines.last?.wholeMatch(of: /([0-9]+) errors in README\.md/)?.1)
        #expect(lines.dropLast().last == "and \(Int(total)! - 50) more errors")
    }

    @Test func aCacheEntryThatCannotBeWrittenIsAWarningNotAFailure() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = CLI.packageRoot.appendingPathComponent("examples/images/chelsea.png").path
        try "photo = LoadImage(path: \"\(image)\")\n".write(to: directory.appendingPathComponent("g.zflow"),
                                                             atomically: true, encoding: .utf8)
        try "a file, not a folder".write(to: directory.appendingPathComponent("cache"), atomically: true, encoding: .utf8)
        let output = try CLI.run(["run", "g.zflow", "--dump", "photo=photo.png", "--cache-dir", "cache", "--quiet"],
                                 in: directory)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stderr == "zflow: warning: cannot write the cache entry of 'photo': "
            + "\(directory.path)/cache/tmp: Not a directory\n")
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("photo.png").path))
    }

    @Test func versionNamesTheZFlowVersionAndTheKernelLibraries() throws {
        let source = try String(contentsOf: CLI.packageRoot.appendingPathComponent("Sources/ZFlowGraph/ZFlowVersion.swift"),
                                encoding: .utf8)
        let version = try #require(source.firstMatch(of: /static let string = "([^"]+)"/)?.1)
        let output = try CLI.run(["--version"])
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 7 && lines[6].isEmpty)
        #expect(lines.first.map(String.init) == "zflow \(version)")
        #expect(lines.dropFirst().first?.wholeMatch(of: /BLAS: \S.*/) != nil, "\(output.stdout)")
        #expect(lines.dropFirst(2).first?.wholeMatch(of: /oneDNN: \S.*/) != nil, "\(output.stdout)")
        #expect(lines.dropFirst(5).first?.wholeMatch(of: /tuning file: \S.*/) != nil, "\(output.stdout)")
    }

    @Test func kernelSettingsThatNameNothingAreUsageErrors() throws {
        for (name, value) in [("ZFLOW_BACKEND", "cuda"), ("ZFLOW_TUNING", "sometimes")] {
            let output = try CLI.run(["check", "x.zflow"], environment: [name: value])
            #expect(output.status == 2)
            #expect(output.stderr.hasPrefix("zflow: \(name)=\(value) is not one of "), "\(output.stderr)")
        }
        let forced = try CLI.run(["--version"], environment: ["ZFLOW_BACKEND": "openblas"])
        #expect(forced.stdout.contains("(ZFLOW_BACKEND=openblas forces every op)"), "\(forced.stdout)")
    }

    @Test func usageErrorsExitWith2() throws {
        let missing = try CLI.run(["check", "/nonexistent/graph.zflow"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "zflow: no such file or folder: /nonexistent/graph.zflow\n")
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
