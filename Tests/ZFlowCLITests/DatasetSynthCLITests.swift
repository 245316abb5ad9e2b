import Foundation
import Testing

// `zflow dataset synth`: usage errors, the refusal to write into a non-empty folder, and a
// generated dataset that `zflow eval` runs on.

@Test func synthHelpListsWhatIsWritten() throws {
    let output = try CLI.run(["dataset", "synth", "--help"])
    #expect(output.status == 0, "\(output.stderr)")
    expectGolden(output.stdout, "help-dataset-synth.txt")
}

@Test(arguments: [
    (["--count", "0", "-o", "d"], "--count must be at least 1 (got 0)"),
    (["--count", "3", "--size", "31", "-o", "d"], "--size must be 32 to 4096 pixels (got 31)"),
    (["--count", "3", "--size", "5000", "-o", "d"], "--size must be 32 to 4096 pixels (got 5000)"),
    (["--count", "3", "--seed", "-1", "-o", "d"], "--seed"),
    (["--count", "3"], "Missing expected argument '--output <DIR>'"),
])
func badSynthOptionsAreUsageErrors(arguments: [String], message: String) throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let result = try CLI.run(["dataset", "synth"] + arguments, in: folder)
    #expect(result.status == 2, "\(result.stderr)")
    #expect(result.stderr.contains(message), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("d").path))
}

@Test func synthRefusesANonEmptyFolderUnlessOverwriteAndKeepsOtherFiles() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let first = try CLI.run(["dataset", "synth", "--count", "2", "--size", "32", "-o", "d"], in: folder)
    #expect(first.status == 0, "\(first.stderr)")
    #expect(first.stdout.hasPrefix("d/manifest.jsonl: 2 scenes, "), "\(first.stdout)")
    let note = folder.appendingPathComponent("d/notes.txt")
    try "mine".write(to: note, atomically: true, encoding: .utf8)
    let manifest = try Data(contentsOf: folder.appendingPathComponent("d/manifest.jsonl"))

    let refused = try CLI.run(["dataset", "synth", "--count", "1", "--size", "32", "--seed", "4", "-o", "d"], in: folder)
    #expect(refused.status == 2)
    #expect(refused.stderr == "zflow: d is not empty; rerun with --overwrite to replace its dataset, or choose another -o\n")
    #expect(try Data(contentsOf: folder.appendingPathComponent("d/manifest.jsonl")) == manifest)

    let replaced = try CLI.run(["dataset", "synth", "--count", "1", "--size", "32", "--seed", "4", "-o", "d", "--overwrite"], in: folder)
    #expect(replaced.status == 0, "\(replaced.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("d/images").path) == ["0000.png"])
    #expect(try String(contentsOf: note, encoding: .utf8) == "mine")

    try "x".write(to: folder.appendingPathComponent("file"), atomically: true, encoding: .utf8)
    let file = try CLI.run(["dataset", "synth", "--count", "1", "-o", "file"], in: folder)
    #expect(file.status == 2)
    #expect(file.stderr == "zflow: file is a file, expected a folder\n")
}

@Test func evalRunsOnASyntheticDataset() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let synth = try CLI.run(["dataset", "synth", "--count", "3", "--size", "64", "--seed", "1", "-o", folder.appendingPathComponent("set").path])
    #expect(synth.status == 0, "\(synth.stderr)")
    #expect(synth.stderr.hasSuffix("[3/3] scenes\n"), "\(synth.stderr)")
    let samples = try String(contentsOf: folder.appendingPathComponent("set/manifest.jsonl"), encoding: .utf8)
        .split(separator: "\n").count
    let eval = try CLI.run(["eval", "graphs/ldznet.zflow", "--dataset", folder.appendingPathComponent("set/manifest.jsonl").path,
                            "-o", folder.appendingPathComponent("results").path, "--quiet", "--memory-only"],
                           in: CLI.packageRoot)
    #expect(eval.status == 0, "\(eval.stderr)")
    let records = try String(contentsOf: folder.appendingPathComponent("results/samples.jsonl"), encoding: .utf8)
        .split(separator: "\n")
    #expect(records.count == samples)
}
