import Foundation
import Testing

/// `zflow train --grid` and `zflow report` on its folder, through the binary: the table on
/// stdout, the shards, the refusals and their exit codes.
@Suite struct TrainGridCLITests {
    static func train(_ run: URL, set: URL, _ options: [String]) throws -> CLI.Output {
        try CLI.run(["train", "graphs/ldznet.zflow", "--dataset", set.appendingPathComponent("manifest.jsonl").path,
                     "--val", set.appendingPathComponent("manifest.jsonl").path, "-o", run.path, "--set", "area=64",
                     "--init", "random", "--memory-only"] + options, in: CLI.packageRoot)
    }

    /// Two shards, then the run without --shard: it trains nothing and prints the table, which
    /// `zflow report` prints again (and draws). A resume with another grid is refused.
    @Test func shardsThenTheTableAndTheReport() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let set = folder.appendingPathComponent("set"), run = folder.appendingPathComponent("run")
        let synth = try CLI.run(["dataset", "synth", "--count", "2", "--size", "64", "--seed", "2", "-o", set.path])
        #expect(synth.status == 0, "\(synth.stderr)")
        let grid = ["--grid", "t=300,400", "--grid", "seed=0,1"]
        let first = try Self.train(run, set: set, grid + ["--shard", "0/2"])
        #expect(first.status == 0 && first.stdout.isEmpty, "\(first.stderr)")
        #expect(first.stderr.contains("trained 2 point(s), 0 finished before") && first.stderr.contains("2 point(s) of other shards"),
                "\(first.stderr)")
        // The last shard finishes the grid, so it prints the table too.
        let second = try Self.train(run, set: set, grid + ["--shard", "1/2"])
        #expect(second.status == 0 && second.stderr.contains("trained 2 point(s), 2 finished before"), "\(second.stderr)")
        let whole = try Self.train(run, set: set, grid)
        #expect(whole.status == 0 && whole.stdout == second.stdout, "\(whole.stderr)")
        #expect(whole.stderr.contains("trained 0 point(s), 4 finished before"), "\(whole.stderr)")
        let lines = whole.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4 && lines[0].hasPrefix("t    seeds  mIoU@0.3") && lines[1].hasPrefix("300  2/2  ")
            && lines[2].hasPrefix("400  2/2  ") && lines[3].hasPrefix("mean ± sample standard deviation"), "\(whole.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted()
            == ["grid.json", "run.json", "t=300,seed=0", "t=300,seed=1", "t=400,seed=0", "t=400,seed=1"])

        let page = folder.appendingPathComponent("grid.html")
        let report = try CLI.run(["report", run.path, "-o", page.path])
        #expect(report.status == 0 && report.stdout == whole.stdout, "\(report.stderr)\n\(report.stdout)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains("<table class=\"variants\">") && html.contains("training loss by variant (mean over seeds)")
            && html.contains("loss: t=300") && html.contains("loss: t=400"))

        let other = try Self.train(run, set: set, ["--grid", "t=300", "--grid", "seed=0,1", "--resume"])
        #expect(other.status == 2)
        #expect(other.stderr.contains("holds another training grid") && other.stderr.contains("grid: t=300,400 seed=0,1 -> t=300 seed=0,1"),
                "\(other.stderr)")
    }

    @Test(arguments: [
        (["--grid", "bogus=1"], 2, "has no parameter 'bogus'"),
        (["--grid", "t=300", "--grid", "t=400"], 2, "--grid t is given twice"),
        (["--grid", "t="], 2, "--grid t: the list of values is empty"),
        (["--grid", "t=300,1200"], 3, "1200"),
        (["--grid", "prompt=a,b"], 2, "--grid prompt: zflow train binds this parameter per sample"),
        (["--grid", "seed=0,1", "--seed", "3"], 2, "--seed and --grid seed=...: give the training seed one way"),
        (["--shard", "0/2"], 2, "--shard needs --grid"),
        (["--grid", "seed=0,1", "--shard", "2/2"], 2, "--shard expects i/n with 0 <= i < n, got '2/2'"),
        (["--grid", "seed=0,1", "--val-weights", "training"], 2, "--val-weights training is for single runs"),
    ])
    func badGridsExitWithTheirCodes(options: [String], status: Int32, message: String) throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        let result = try CLI.run(["train", "graphs/ldznet.zflow", "--dataset", "examples/dataset/manifest.jsonl",
                                  "--val", "examples/dataset/manifest.jsonl", "-o", run.path, "--memory-only"] + options,
                                 in: CLI.packageRoot)
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run.path))
    }

    @Test func aGridNeedsAValidationSet() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try CLI.run(["train", "graphs/ldznet.zflow", "--dataset", "examples/dataset/manifest.jsonl",
                                  "-o", folder.appendingPathComponent("run").path, "--grid", "seed=0,1", "--memory-only"],
                                 in: CLI.packageRoot)
        #expect(result.status == 2)
        #expect(result.stderr.contains("--grid evaluates every point on a validation set after its last step: give --val MANIFEST"),
                "\(result.stderr)")
    }
}
