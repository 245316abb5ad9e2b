import Foundation
import Testing

/// `zflow tune`: runs a graph once, records the winners of its large op shapes in the tuning file
/// named by ZFLOW_TUNING_FILE, prints them, and reuses them on the next run.
@Suite struct TuneCommandTests {
    /// A temporary folder with its own tuning file, where `zflow tune` runs the bundled graph.
    private struct Scratch {
        let directory: URL
        var file: URL { directory.appendingPathComponent("tuning.json") }

        init() throws { directory = try CLI.temporaryDirectory() }

        func tune(_ extra: [String] = []) throws -> CLI.Output {
            let graph = CLI.packageRoot.appendingPathComponent("graphs/ldznet.zflow").path
            return try CLI.run(["tune", graph, "--set", "overlay_path=\(directory.path)/o.png",
                                "--set", "mask_path=\(directory.path)/m.png"] + extra,
                               in: CLI.packageRoot, environment: ["ZFLOW_TUNING_FILE": file.path])
        }
    }

    @Test func tuneRecordsAndPrintsTheChoicesOfAGraphsShapes() throws {
        let scratch = try Scratch()
        defer { try? FileManager.default.removeItem(at: scratch.directory) }
        let first = try scratch.tune()
        #expect(first.status == 0, "\(first.stderr)")
        let choices = first.stdout.split(separator: "\n").filter { $0.hasPrefix("conv2d ") }
        #expect(!choices.isEmpty, "the tiny VAE's full-resolution convolutions are large enough to tune: \(first.stdout)")
        #expect(choices.allSatisfy { $0.contains("GFLOP/s: ") && $0.contains("own ") })
        let recorded = try String(contentsOf: scratch.file, encoding: .utf8)
        #expect(recorded.contains("\"choices\""))
        // A second run keeps the recorded winners, but times again those timed while other work
        // (tests run in parallel) kept the machine busy.
        let second = try scratch.tune()
        #expect(second.status == 0)
        let quiet = choices.filter { !$0.contains("; timed while other work used") }
        let secondChoices = Set(second.stdout.split(separator: "\n").filter { $0.hasPrefix("conv2d ") })
        #expect(quiet.allSatisfy(secondChoices.contains))
        #expect(secondChoices.count == choices.count)
    }

    @Test func resetTimesEveryShapeAgain() throws {
        let scratch = try Scratch()
        defer { try? FileManager.default.removeItem(at: scratch.directory) }
        func tune(_ extra: [String] = []) throws -> [Substring] {
            let output = try scratch.tune(extra)
            #expect(output.status == 0, "\(output.stderr)")
            return output.stdout.split(separator: "\n").filter { $0.contains("(GFLOP/s: ") }
        }
        #expect(try !tune().isEmpty)
        // Every recorded rate becomes a value no timing gives, on a quiet machine.
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.file)) as? [String: Any])
        var choices = try #require(json["choices"] as? [String: [String: Any]])
        for (key, var choice) in choices {
            let rates = try #require(choice["gflops"] as? [String: Double])
            choice["gflops"] = rates.mapValues { _ in 0.125 }
            choice["othersShare"] = 0
            choices[key] = choice
        }
        json["choices"] = choices
        try JSONSerialization.data(withJSONObject: json).write(to: scratch.file)
        let kept = try tune()
        #expect(!kept.isEmpty && kept.allSatisfy { $0.contains(" 0.125") }, "a plain tune keeps quiet choices: \(kept)")
        let timedAgain = try tune(["--reset"])
        #expect(timedAgain.count == kept.count && !timedAgain.contains { $0.contains(" 0.125") },
                "--reset forgets the file's choices too: \(timedAgain)")
    }

    @Test func aForcedBackendLeavesNothingToTune() throws {
        let output = try CLI.run(["tune", "x.zflow"], environment: ["ZFLOW_BACKEND": "own"])
        #expect(output.status == 2)
        #expect(output.stderr.contains("ZFLOW_BACKEND=own forces one backend: nothing to tune"), "\(output.stderr)")
    }
}
