import Foundation
import Testing

// Issue 10 through the zflow binary: one exit code per fault in every command, sweep outputs
// that never overwrite each other, the whole manifest checked before work, --keep-going,
// results folders bound to their run, and `report` on unmerged shards.

private let shardFixtures = CLI.packageRoot.appendingPathComponent("Tests/ZFlowCLITests/Fixtures/eval-shards")
private let stubLogits = shardFixtures.appendingPathComponent("stub-logits.zflow").path
private let ldznet = CLI.packageRoot.appendingPathComponent("graphs/ldznet.zflow").path

@Test func outOfRangeValueExitsThreeInRunEvalAndSweepBeforeAnyWork() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let dataset = ["--dataset", shardFixtures.appendingPathComponent("manifest.jsonl").path]
    let run = try CLI.run(["run", ldznet, "--set", "t=1200", "--quiet"], in: folder)
    let eval = try CLI.run(["eval", ldznet, "--set", "t=1200", "-o", "eval"] + dataset, in: folder)
    let sweep = try CLI.run(["sweep", ldznet, "--grid", "t=300,1200", "-o", "sweep"] + dataset, in: folder)
    let sweepWithoutDataset = try CLI.run(["sweep", ldznet, "--grid", "t=300,1200", "-o", "points"], in: folder)
    for result in [run, eval, sweep, sweepWithoutDataset] {
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr == run.stderr)
    }
    #expect(run.stderr.contains("error: parameter 't' = 1200"), "\(run.stderr)")
    // Nothing ran: no results folder has a record, nothing was written by a sink.
    for name in ["eval", "sweep", "points", "out"] {
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), "\(name) exists")
    }
}

@Test func unknownParamAndUnparsableValueExitTwoInEveryCommand() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let dataset = ["--dataset", shardFixtures.appendingPathComponent("manifest.jsonl").path]
    for (set, grid) in [("tt=1", "tt=1,2"), ("t=abc", "t=1,abc")] {
        let statuses = try [
            CLI.run(["run", ldznet, "--set", set, "--quiet"], in: folder).status,
            CLI.run(["eval", ldznet, "--set", set, "-o", "e"] + dataset, in: folder).status,
            CLI.run(["sweep", ldznet, "--grid", grid, "-o", "s"] + dataset, in: folder).status,
        ]
        #expect(statuses == [2, 2, 2], "\(set) / \(grid)")
    }
}

/// A graph whose one sink writes the tensor named by `prompt` from the file `image`.
private func pickerGraph(in folder: URL, path: String) throws -> String {
    let url = folder.appendingPathComponent("picker.zflow")
    try """
        param image: Path = "\(shardFixtures.appendingPathComponent("logits-0.safetensors").path)"
        param prompt: String = "cat"
        param out: Path = "out/picked.safetensors"
        picked = LoadTensor(path: image, name: prompt)
        SaveTensor(value: picked, path: \(path), name: "picked")

        """.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

@Test func sweepWithoutDatasetWritesEachPointToItsOwnFolder() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let graph = try pickerGraph(in: folder, path: "out")
    let result = try CLI.run(["sweep", graph, "--grid", "prompt=cat,dog,sky", "-o", "results", "--quiet"], in: folder)
    #expect(result.status == 0, "\(result.stderr)")
    let files = try (0..<3).map { point in
        try Data(contentsOf: folder.appendingPathComponent("results/outputs/p\(point)/picked.safetensors"))
    }
    #expect(Set(files).count == 3)
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("out").path))

    // A constant output path cannot be redirected: refused before any point runs.
    let constant = try pickerGraph(in: folder, path: "\"out/picked.safetensors\"")
    let refused = try CLI.run(["sweep", constant, "--grid", "prompt=cat,dog", "-o", "constant"], in: folder)
    #expect(refused.status == 2, "\(refused.stderr)")
    #expect(refused.stderr.contains("picker.zflow:5: SaveTensor (line 5) writes every run to the same file \"out/picked.safetensors\""),
            "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("out").path))
}

@Test func everyBadManifestLineIsReportedBeforeAnySampleRuns() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let images = CLI.packageRoot.appendingPathComponent("examples/dataset")
    try "not an image".write(to: folder.appendingPathComponent("text.png"), atomically: true, encoding: .utf8)
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("a-folder.png"), withIntermediateDirectories: true)
    func line(_ id: String, _ image: String, _ mask: String) -> String {
        "{\"id\": \"\(id)\", \"image\": \"\(image)\", \"phrase\": \"horse\", \"mask\": \"\(mask)\"}"
    }
    let good = (images.appendingPathComponent("images/horse.png").path, images.appendingPathComponent("masks/horse.png").path)
    let manifest = [
        line("ok", good.0, good.1),
        line("missing-image", folder.appendingPathComponent("gone.png").path, good.1),
        line("text-mask", good.0, "text.png"),
        line("missing-mask", good.0, "masks/gone.png"),
        line("folder-image", "a-folder.png", good.1),
        line("ok-2", good.0, good.1),
    ].joined(separator: "\n") + "\n"
    try manifest.write(to: folder.appendingPathComponent("manifest.jsonl"), atomically: true, encoding: .utf8)
    let result = try CLI.run(["eval", ldznet, "--dataset", "manifest.jsonl", "-o", "results"], in: folder)
    #expect(result.status == 2)
    let path = "manifest.jsonl"  // as given on the command line
    let expected = [
        "\(path):2:\(column("image", manifest, line: 2)): image: no such file or folder: \(folder.appendingPathComponent("gone.png").path)",
        "\(path):3:\(column("mask", manifest, line: 3)): mask: \(folder.appendingPathComponent("text.png").path): not a PNG or JPEG image",
        "\(path):4:\(column("mask", manifest, line: 4)): mask: no such file or folder: \(folder.appendingPathComponent("masks/gone.png").path)",
        "\(path):5:\(column("image", manifest, line: 5)): image: \(folder.appendingPathComponent("a-folder.png").path) is a folder, expected a file",
    ]
    let lines = result.stderr.split(separator: "\n").map(String.init)
    #expect(lines.count == 5, "\(result.stderr)")
    for (line, prefix) in zip(lines, expected) { #expect(line.hasPrefix(prefix), "\(line)\nexpected \(prefix)") }
    #expect(lines.last == "zflow: 4 bad lines in manifest.jsonl; no sample was run")
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("results").path))
}

private func column(_ key: String, _ manifest: String, line: Int) -> Int {
    let text = manifest.split(separator: "\n")[line - 1]
    return text.distance(from: text.startIndex, to: text.range(of: "\"\(key)\"")!.lowerBound) + 1
}

@Test func keepGoingRecordsAFailingSampleAndLeavesItOutOfTheMetrics() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let lines = try String(contentsOf: shardFixtures.appendingPathComponent("manifest.jsonl"), encoding: .utf8)
        .split(separator: "\n").map { $0.replacingOccurrences(of: "\"logits-", with: "\"\(shardFixtures.path)/logits-")
            .replacingOccurrences(of: "\"mask\": \"", with: "\"mask\": \"\(shardFixtures.path)/") }
    // Line 3's phrase names no tensor of its logits file: LoadTensor fails at run time.
    var failing = lines
    failing[2] = failing[2].replacingOccurrences(of: "\"phrase\": \"sky\"", with: "\"phrase\": \"no-such-key\"")
    try (failing.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("failing.jsonl"), atomically: true, encoding: .utf8)
    var without = lines
    without.remove(at: 2)
    try (without.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("without.jsonl"), atomically: true, encoding: .utf8)
    let common = [stubLogits, "--quiet", "--memory-only"]

    let stopped = try CLI.run(["eval"] + common + ["--dataset", "failing.jsonl", "-o", "stopped"], in: folder)
    #expect(stopped.status == 1, "\(stopped.stderr)")
    #expect(stopped.stderr.contains("no-such-key"), "\(stopped.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("stopped/summary.json").path))

    let kept = try CLI.run(["eval"] + common + ["--dataset", "failing.jsonl", "-o", "kept", "--keep-going"], in: folder)
    #expect(kept.status == 1, "\(kept.stderr)")
    #expect(kept.stderr.contains("1 sample failed"), "\(kept.stderr)")
    let records = try String(contentsOf: folder.appendingPathComponent("kept/samples.jsonl"), encoding: .utf8).split(separator: "\n")
    #expect(records.count == 7)
    #expect(records.filter { $0.contains("\"error\"") }.count == 1)
    #expect(records.first { $0.contains("\"error\"") }?.contains("no-such-key") == true)

    let reference = try CLI.run(["eval"] + common + ["--dataset", "without.jsonl", "-o", "reference"], in: folder)
    #expect(reference.status == 0, "\(reference.stderr)")
    let keptSummary = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("kept/summary.json"))) as? [String: Any]
    let referenceSummary = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("reference/summary.json"))) as? [String: Any]
    let keptPoint = try #require((keptSummary?["points"] as? [[String: Any]])?.first)
    let referencePoint = try #require((referenceSummary?["points"] as? [[String: Any]])?.first)
    #expect(keptPoint["failed"] as? Int == 1 && referencePoint["failed"] as? Int == 0)
    #expect(NSDictionary(dictionary: keptPoint["headline"] as? [String: Any] ?? [:])
        == NSDictionary(dictionary: referencePoint["headline"] as? [String: Any] ?? ["missing": true]))
    #expect(kept.stdout.split(separator: "\n").last?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().prefix(2)
        == ["6", "1"], "\(kept.stdout)")

    // The same as two shards: each exits 1 if it holds the failure; the merge counts it and exits 1.
    let shards = try (0..<2).map { i in
        try CLI.run(["eval"] + common + ["--dataset", "failing.jsonl", "-o", "shards", "--keep-going", "--shard", "\(i)/2"],
                    in: folder).status
    }
    #expect(shards == [1, 0])  // the failing sample is at position 2: shard 0
    let merge = try CLI.run(["merge", "shards"], in: folder)
    #expect(merge.status == 1 && merge.stderr.contains("1 sample failed in the shards"), "\(merge.stderr)")
    #expect(try Data(contentsOf: folder.appendingPathComponent("shards/summary.json"))
        == Data(contentsOf: folder.appendingPathComponent("kept/summary.json")))
}

@Test func reportOnUnmergedShardsSaysToMerge() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    for i in 0..<2 {
        let shard = try CLI.run(["eval", stubLogits, "--dataset", shardFixtures.appendingPathComponent("manifest.jsonl").path,
                                 "--shard", "\(i)/2", "-o", "shards", "--quiet", "--memory-only"], in: folder)
        #expect(shard.status == 0, "\(shard.stderr)")
    }
    let early = try CLI.run(["report", "shards", "-o", "report.html"], in: folder)
    #expect(early.status == 2)
    #expect(early.stderr.contains("holds unmerged shards (samples.shard-0-of-2.jsonl, samples.shard-1-of-2.jsonl)"), "\(early.stderr)")
    #expect(early.stderr.contains("run `zflow merge shards` first"), "\(early.stderr)")
    #expect(try CLI.run(["merge", "shards"], in: folder).status == 0)
    let report = try CLI.run(["report", "shards", "-o", "report.html"], in: folder)
    #expect(report.status == 0, "\(report.stderr)")
}

/// The issue's scenario: eval, edit the graph's image area with sed, eval into the same folder.
@Test func editedGraphIsRefusedThenOverwritten() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let examples = CLI.packageRoot.appendingPathComponent("examples/dataset")
    let manifest = try String(contentsOf: examples.appendingPathComponent("manifest.jsonl"), encoding: .utf8)
        .split(separator: "\n").prefix(2)
        .map { $0.replacingOccurrences(of: "\"images/", with: "\"\(examples.path)/images/")
            .replacingOccurrences(of: "\"masks/", with: "\"\(examples.path)/masks/") }
    try (manifest.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("m.jsonl"), atomically: true, encoding: .utf8)
    let graph = folder.appendingPathComponent("g.zflow")
    try FileManager.default.copyItem(atPath: ldznet, toPath: graph.path)
    let eval = ["eval", "g.zflow", "--dataset", "m.jsonl", "-o", "r", "--quiet", "--memory-only",
                "--set", "sd=\(CLI.packageRoot.path)/models/tiny/sd-v1-tiny.safetensors",
                "--set", "ldznet=\(CLI.packageRoot.path)/models/tiny/ldznet-tiny.safetensors"]
    let first = try CLI.run(eval, in: folder)
    #expect(first.status == 0, "\(first.stderr)")
    let firstSummary = try Data(contentsOf: folder.appendingPathComponent("r/summary.json"))
    let text = try String(contentsOf: graph, encoding: .utf8)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let index = try #require(lines.firstIndex { $0.hasPrefix("param area: Int = 192") }), line = index + 1
    let before = String(lines[index]), after = before.replacingOccurrences(of: "= 192", with: "= 256")
    try text.replacingOccurrences(of: before, with: after).write(to: graph, atomically: true, encoding: .utf8)

    let refused = try CLI.run(eval, in: folder)
    #expect(refused.status == 2, "\(refused.stderr)")
    #expect(refused.stderr.contains("holds results of another run"), "\(refused.stderr)")
    #expect(refused.stderr.contains("graph (g.zflow -> g.zflow): line \(line): \"\(before)\" -> \"\(after)\""),
            "\(refused.stderr)")

    let overwritten = try CLI.run(eval + ["--overwrite"], in: folder)
    #expect(overwritten.status == 0, "\(overwritten.stderr)")
    #expect(overwritten.stderr.contains("(2 computed, 0 resumed)"), "\(overwritten.stderr)")
    let fresh = try CLI.run(eval.map { $0 == "r" ? "fresh" : $0 }, in: folder)
    #expect(fresh.status == 0, "\(fresh.stderr)")
    #expect(try Data(contentsOf: folder.appendingPathComponent("r/summary.json"))
        == Data(contentsOf: folder.appendingPathComponent("fresh/summary.json")))
    #expect(try Data(contentsOf: folder.appendingPathComponent("r/summary.json")) != firstSummary)
}
