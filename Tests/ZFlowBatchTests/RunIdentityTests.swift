import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
import ZFlowGraph

// Issue 10, fault 1: a results folder is bound to the content of what produced it.

private let twoSamples = ["horse", "shapes-cat-red-circle"]

/// The stub graph with one line edited, as `sed -i 's/area: 128/area: 96/'` would.
private func editedGraph(_ registry: NodeRegistry, replacing old: String, with new: String) throws -> CheckedGraph {
    let original = try stubGraph(registry)
    #expect(original.source.text.contains(old))
    return try Checker.check(SourceFile(name: original.source.name, text: original.source.text.replacingOccurrences(of: old, with: new)),
                             registry: registry)
}

@Test func editedGraphIsRefusedWithTheFirstDifferingLineAndOverwriteStartsOver() async throws {
    let registry = try testRegistry()
    let folder = temporaryFolder("identity")
    defer { try? FileManager.default.removeItem(at: folder) }
    let manifest = try subsetManifest(twoSamples, in: folder.appendingPathComponent("data"))
    let output = folder.appendingPathComponent("out")
    let first = try await BatchRunner(engine: memoryEngine(registry))
        .run(try configuration(try stubGraph(registry), manifest: manifest, grid: [], output: output))
    #expect(first.computed == 2)

    var edited = try configuration(try editedGraph(registry, replacing: "area: 128", with: "area: 96"), manifest: manifest,
                                   grid: [], output: output)
    let error = try await #require(throws: BatchError.self) { try await BatchRunner(engine: memoryEngine(registry)).run(edited) }
    let line = try #require(try stubGraph(registry).source.lines.firstIndex { $0.contains("area: 128") }) + 1
    #expect(error.message.contains("holds results of another run"), "\(error)")
    #expect(error.message.contains("line \(line): \"prep = PrepareImage(image: img, area: 128)\" -> \"prep = PrepareImage(image: img, area: 96)\""),
            "\(error)")
    #expect(error.message.contains("--overwrite"), "\(error)")
    // The old records were not reported as the edited graph's.
    #expect(try RunFiles.read(RunSummary.self, from: RunFiles.summary(output)) == first.summary)

    edited.overwrite = true
    let fresh = try await BatchRunner(engine: memoryEngine(registry)).run(edited)
    #expect(fresh.computed == 2 && fresh.resumed == 0)
    let independent = try await BatchRunner(engine: memoryEngine(registry))
        .run(try configuration(try editedGraph(registry, replacing: "area: 128", with: "area: 96"), manifest: manifest,
                               grid: [], output: folder.appendingPathComponent("independent")))
    #expect(fresh.summary == independent.summary)
    #expect(fresh.summary != first.summary)
}

@Test func changedSettingsManifestAndGridAreNamed() async throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    let folder = temporaryFolder("identity-parts")
    defer { try? FileManager.default.removeItem(at: folder) }
    let manifest = try subsetManifest(twoSamples, in: folder.appendingPathComponent("data"))
    let output = folder.appendingPathComponent("out")
    var base = try configuration(graph, manifest: manifest, grid: ["t=100,300"], output: output)
    base.settings["fusion"] = .string("concat")
    _ = try await BatchRunner(engine: memoryEngine(registry)).run(base)

    func refusal(_ config: BatchConfiguration) async throws -> String {
        try await #require(throws: BatchError.self) { try await BatchRunner(engine: memoryEngine(registry)).run(config) }.message
    }
    var settings = base
    settings.settings["fusion"] = .string("cross_attention")
    #expect(try await refusal(settings).contains("--set fusion: \"concat\" -> \"cross_attention\""))
    settings.settings["fusion"] = nil
    #expect(try await refusal(settings).contains("--set fusion: \"concat\" -> (not given)"))

    var grid = base
    grid.grid = try SweepGrid(["t=100,200"], graph: graph)
    #expect(try await refusal(grid).contains("grid: t=100,300 -> t=100,200"))

    // Other content: one more sample in the manifest.
    let larger = try subsetManifest(twoSamples + ["shapes-cat-blue-square"], in: folder.appendingPathComponent("larger"))
    var dataset = base
    dataset.dataset = larger
    let message = try await refusal(dataset)
    #expect(message.contains("dataset manifest: content of") && message.contains("(2 samples") && message.contains("(3 samples"),
            "\(message)")

    // The same run from a moved copy of the manifest resumes: paths are not compared.
    let moved = folder.appendingPathComponent("moved")
    try FileManager.default.createDirectory(at: moved, withIntermediateDirectories: true)
    let copy = moved.appendingPathComponent("manifest.jsonl")
    try FileManager.default.copyItem(at: manifest.url, to: copy)
    var resumed = base
    resumed.dataset = try DatasetManifest(contentsOf: copy)
    let outcome = try await BatchRunner(engine: memoryEngine(registry)).run(resumed)
    #expect(outcome.computed == 0 && outcome.resumed == 4)
}

@Test func aShardStartedOverRefusesTheOtherShardsStaleRecords() async throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    let folder = temporaryFolder("identity-shards")
    defer { try? FileManager.default.removeItem(at: folder) }
    let manifest = try subsetManifest(twoSamples, in: folder.appendingPathComponent("data"))
    let output = folder.appendingPathComponent("shards")
    for i in 0..<2 {
        var config = try configuration(graph, manifest: manifest, grid: [], output: output)
        config.shard = try Shard(parsing: "\(i)/2")
        _ = try await BatchRunner(engine: memoryEngine(registry)).run(config)
    }
    // Shard 0 is rerun with another t and --overwrite; shard 1's file still holds the old run.
    var changed = try configuration(graph, manifest: manifest, grid: [], output: output)
    changed.settings["t"] = .int(100)
    changed.shard = try Shard(parsing: "0/2")
    changed.overwrite = true
    _ = try await BatchRunner(engine: memoryEngine(registry)).run(changed)
    let error = try #require(throws: BatchError.self) { try BatchResults.merge([output], into: output) }
    #expect(error.message.contains("samples.shard-1-of-2.jsonl holds records of another run"), "\(error)")

    changed.shard = try Shard(parsing: "1/2")
    changed.overwrite = false
    let resume = try await #require(throws: BatchError.self) { try await BatchRunner(engine: memoryEngine(registry)).run(changed) }
    #expect(resume.message.contains("rerun this shard with --overwrite"), "\(resume)")
    changed.overwrite = true
    _ = try await BatchRunner(engine: memoryEngine(registry)).run(changed)
    let (merged, _) = try BatchResults.merge([output], into: output)
    var single = try configuration(graph, manifest: manifest, grid: [], output: folder.appendingPathComponent("single"))
    single.settings["t"] = .int(100)
    #expect(try await BatchRunner(engine: memoryEngine(registry)).run(single).summary == merged)
}

@Test func firstDifferingLineNamesBothVersions() throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    let extended = try Checker.check(SourceFile(name: "other.zflow", text: graph.source.text + "\n# a comment\n"),
                                     registry: registry)
    let a = try RunIdentity(graph: graph, plugins: [], dataset: nil, settings: [:], grid: [], options: [:])
    let b = try RunIdentity(graph: extended, plugins: [], dataset: nil, settings: [:], grid: [], options: [:])
    #expect(a.differences(to: a).isEmpty)
    // The stub graph ends with a newline: the comment is on the line after the old end.
    let count = graph.source.lines.count
    #expect(graph.source.text.hasSuffix("\n"))
    #expect(a.differences(to: b) == ["graph (\(graph.source.name) -> other.zflow): line \(count + 1): (end of file) -> \"# a comment\""])
    #expect(b.differences(to: a) == ["graph (other.zflow -> \(graph.source.name)): line \(count + 1): \"# a comment\" -> (end of file)"])
    #expect(a.digest != b.digest)
}

@Test func aRebuiltPluginLibraryIsAnotherRun() throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    let folder = temporaryFolder("identity-plugins")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let library = folder.appendingPathComponent("libA.so"), copy = folder.appendingPathComponent("libB.so")
    func identity(_ path: URL) throws -> RunIdentity {
        try RunIdentity(graph: graph, plugins: [path.path], dataset: nil, settings: [:], grid: [], options: [:])
    }
    try Data("build 1".utf8).write(to: library)
    let first = try identity(library)
    try FileManager.default.copyItem(at: library, to: copy)
    #expect(first.differences(to: try identity(copy)).isEmpty)
    try Data("build 2".utf8).write(to: library)
    let rebuilt = try identity(library)
    #expect(rebuilt.differences(to: first).count == 1)
    #expect(rebuilt.differences(to: first).first?.hasPrefix("plugins: \(library.path) (") == true, "\(rebuilt.differences(to: first))")
    #expect(throws: BatchError.self) { try identity(folder.appendingPathComponent("missing.so")) }
}
