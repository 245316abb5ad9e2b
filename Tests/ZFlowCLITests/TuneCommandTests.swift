import Foundation
import Testing

/// `zflow tune`: runs a graph once, records the winners of its large op shapes in the tuning file
/// named by ZFLOW_TUNING_FILE, prints them, and reuses them on the next run.
@Suite struct TuneCommandTests {
    @Test func tuneRecordsAndPrintsTheChoicesOfAGraphsShapes() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tuning.json")
        let graph = CLI.packageRoot.appendingPathComponent("graphs/ldznet.zflow").path
        let environment = ["ZFLOW_TUNING_FILE": file.path]
        let first = try CLI.run(["tune", graph, "--set", "overlay_path=\(directory.path)/o.png",
                                 "--set", "mask_path=\(directory.path)/m.png"], in: CLI.packageRoot, environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        let choices = first.stdout.split(separator: "\n").filter { $0.hasPrefix("conv2d ") }
        #expect(!choices.isEmpty, "the tiny VAE's full-resolution convolutions are large enough to tune: \(first.stdout)")
        #expect(choices.allSatisfy { $0.contains("GFLOP/s: ") && $0.contains("own ") })
        let recorded = try String(contentsOf: file, encoding: .utf8)
        #expect(recorded.contains("\"choices\""))
        // A second run keeps the recorded winners, but times again those timed while other work
        // (tests run in parallel) kept the machine busy.
        let second = try CLI.run(["tune", graph, "--set", "overlay_path=\(directory.path)/o.png",
                                  "--set", "mask_path=\(directory.path)/m.png"], in: CLI.packageRoot, environment: environment)
        #expect(second.status == 0)
        let quiet = choices.filter { !$0.contains("; timed while other work used") }
        let secondChoices = Set(second.stdout.split(separator: "\n").filter { $0.hasPrefix("conv2d ") })
        #expect(quiet.allSatisfy(secondChoices.contains))
        #expect(secondChoices.count == choices.count)
    }

    @Test func resetTimesEveryShapeAgain() throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tuning.json")
        let graph = CLI.packageRoot.appendingPathComponent("graphs/ldznet.zflow").path
        let environment = ["ZFLOW_TUNING_FILE": file.path]
        func tune(_ extra: [String] = []) throws -> [Substring] {
            let output = try CLI.run(["tune", graph, "--set", "overlay_path=\(directory.path)/o.png",
                                      "--set", "mask_path=\(directory.path)/m.png"] + extra,
                                     in: CLI.packageRoot, environment: environment)
            #expect(output.status == 0, "\(output.stderr)")
            return output.stdout.split(separator: "\n").filter { $0.contains("(GFLOP/s: ") }
        }
        #expect(try !tune().isEmpty)
        // Every recorded rate becomes a value no timing gives, on a quiet machine.
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        var choices = try #require(json["choices"] as? [String: [String: Any]])
        for (key, var choice) in choices {
            let rates = try #require(choice["gflops"] as? [String: Double])
            choice["gflops"] = rates.mapValues { _ in 0.125 }
            choice["othersShare"] = 0
            choices[key] = choice
        }
        json["choices"] = choices
        try JSONSerialization.data(withJSONObject: json).write(to: file)
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
