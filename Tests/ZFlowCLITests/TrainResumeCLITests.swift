import Foundation
import Testing
import ZFlowIO

/// `zflow train --resume` after a kill -9, and a run with `--val` drawn by `zflow report`.
@Suite struct TrainResumeCLITests {
    static func synth(_ folder: URL, count: Int, seed: Int) throws -> String {
        let set = folder.appendingPathComponent("set\(seed)")
        let synth = try CLI.run(["dataset", "synth", "--count", "\(count)", "--size", "64", "--seed", "\(seed)", "-o", set.path])
        #expect(synth.status == 0, "\(synth.stderr)")
        return set.appendingPathComponent("manifest.jsonl").path
    }

    /// log.jsonl without the timings.
    static func curve(_ run: URL) throws -> [String] {
        try String(contentsOf: run.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n").map {
            String($0).replacingOccurrences(of: #","seconds":[^,}]*"#, with: "", options: .regularExpression)
        }
    }

    static func lineCount(_ file: URL) -> Int {
        ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// Killed with SIGKILL once three steps are logged (one after the step-2 checkpoint), then
    /// resumed: the same loss curve and the same final checkpoint as a run never stopped.
    @Test func killedRunResumesBitForBit() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = try Self.synth(folder, count: 3, seed: 2)
        func arguments(_ run: URL) -> [String] {
            ["train", "graphs/ldznet.zflow", "--dataset", manifest, "-o", run.path, "--steps", "6", "--checkpoint-every", "2",
             "--augment", "reference", "--seed", "3", "--schedule", "cosine", "--warmup", "1", "--clip-grad", "1",
             "--memory-only", "--quiet"]
        }
        let whole = folder.appendingPathComponent("whole")
        let uninterrupted = try CLI.run(arguments(whole), in: CLI.packageRoot)
        #expect(uninterrupted.status == 0, "\(uninterrupted.stderr)")

        let killed = folder.appendingPathComponent("killed")
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = arguments(killed)
        process.currentDirectoryURL = CLI.packageRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(600)
        while Self.lineCount(killed.appendingPathComponent("log.jsonl")) < 3, process.isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run ended before it was killed")
        #expect(Self.lineCount(killed.appendingPathComponent("log.jsonl")) < 6)

        let resumed = try CLI.run(arguments(killed) + ["--resume"], in: CLI.packageRoot)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Self.curve(killed) == Self.curve(whole))
        #expect(try Data(contentsOf: killed.appendingPathComponent("last.safetensors"))
                == Data(contentsOf: whole.appendingPathComponent("last.safetensors")))

        let changed = try CLI.run(arguments(killed) + ["--resume", "--lr", "0.01"], in: CLI.packageRoot)
        #expect(changed.status == 2)
        #expect(changed.stderr.contains("--resume: ") && changed.stderr.contains("option lr: 0.001 -> 0.01"), "\(changed.stderr)")
    }

    /// --val's final metrics (stdout) are what `zflow eval` measures with the last checkpoint's
    /// EMA copy; `zflow report` draws the loss and validation curves.
    @Test func validationMatchesEvalAndIsReported() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let train = try Self.synth(folder, count: 1, seed: 2), val = try Self.synth(folder, count: 1, seed: 7)
        let run = folder.appendingPathComponent("run")
        let trained = try CLI.run(["train", "graphs/ldznet.zflow", "--dataset", train, "-o", run.path, "--steps", "2",
                                   "--val", val, "--val-every", "1", "--memory-only"], in: CLI.packageRoot)
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stderr.contains("val at step 1 (ema, "), "\(trained.stderr)")
        #expect(Self.lineCount(run.appendingPathComponent("val.jsonl")) == 2)
        let final = try JSONSerialization.jsonObject(with: Data(trained.stdout.utf8)) as? [String: Any]
        let metrics = try #require(final?["metrics"] as? [String: Any], "\(trained.stdout)")
        #expect(final?["step"] as? Int == 2)

        let evaluated = folder.appendingPathComponent("eval")
        let eval = try CLI.run(["eval", "graphs/ldznet.zflow", "--dataset", val, "-o", evaluated.path, "--memory-only", "--quiet",
                                "--set", "ldznet=\(run.appendingPathComponent("last.safetensors").path)"], in: CLI.packageRoot)
        #expect(eval.status == 0, "\(eval.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: evaluated.appendingPathComponent("summary.json")))
        let headline = try #require(((summary as? [String: Any])?["points"] as? [[String: Any]])?.first?["headline"] as? [String: Any])
        #expect(final?["samples"] as? Int == (summary as? [String: Any]).flatMap { ($0["points"] as? [[String: Any]])?.first?["metrics"] as? [String: Any] }?["samples"] as? Int)
        for key in ["ap", "foregroundIoU03", "meanIoU03", "bestForegroundIoU", "bestMeanIoU"] {
            let ours = try #require(metrics[key] as? Double), theirs = try #require(headline[key] as? Double)
            #expect(abs(ours - theirs) <= 1e-9, "\(key): train's validation \(ours), eval \(theirs)")
        }

        let page = folder.appendingPathComponent("report.html")
        let report = try CLI.run(["report", run.path, "-o", page.path])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains("ZFlow training report") && html.contains(">training loss</text>")
                && html.contains(">validation (ema weights)</text>") && html.contains("<table class=\"epochs\">"))
        #expect(html.components(separatedBy: "<polyline").count - 1 == 1 + 1 + 3, "loss (no running mean over 2 steps), grad-norm, three metrics")
    }
}
