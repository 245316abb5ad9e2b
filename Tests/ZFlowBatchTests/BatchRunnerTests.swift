import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
import ZFlowGraph

private let threeSamples = ["horse", "shapes-cat-red-circle", "shapes-cat-blue-square"]

@Test func sweepSharesUpstreamStagesAcrossPoints() async throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    let folder = temporaryFolder("sweep")
    defer { try? FileManager.default.removeItem(at: folder) }
    let manifest = try subsetManifest(threeSamples, in: folder.appendingPathComponent("data"))
    let grid = ["t=100,300", "fusion=cross_attention,concat"]

    let shared = try await BatchRunner(engine: memoryEngine(registry))
        .run(try configuration(graph, manifest: manifest, grid: grid, output: folder.appendingPathComponent("shared")))
    // Points: (100, xattn), (100, concat), (300, xattn), (300, concat); 7 nodes per run.
    // First image: everything, then only the head, then AddNoise + UNet + head, then the head.
    let first = shared.records.filter { $0.index == 0 }.sorted { $0.point < $1.point }
    #expect(first.map(\.executed) == [7, 1, 3, 1])
    // Same photo, new phrase: LoadImage, PrepareImage, VAEEncode and AddNoise come from the cache.
    let third = shared.records.filter { $0.index == 2 }.sorted { $0.point < $1.point }
    #expect(third.map(\.executed) == [3, 1, 2, 1])

    let independent = try await BatchRunner(engine: memoryEngine(registry, cache: false))
        .run(try configuration(graph, manifest: manifest, grid: grid, output: folder.appendingPathComponent("independent")))
    let sharedTotal = shared.records.reduce(0) { $0 + $1.executed }
    let independentTotal = independent.records.reduce(0) { $0 + $1.executed }
    #expect(independentTotal == 4 * 3 * 7)
    #expect(sharedTotal == 12 + 12 + 7)
    // Caching changes nothing in the numbers.
    #expect(shared.summary == independent.summary)
    let rows = try #require(shared.rows)
    #expect(rows.map(\.params) == [["t": "100", "fusion": "cross_attention"], ["t": "100", "fusion": "concat"],
                                   ["t": "300", "fusion": "cross_attention"], ["t": "300", "fusion": "concat"]])
    #expect(rows.allSatisfy { $0.samples == 3 && $0.headline != nil })
    let csv = try String(contentsOf: RunFiles.resultsCSV(folder.appendingPathComponent("shared")), encoding: .utf8)
    #expect(csv.hasPrefix("point,t,fusion,samples,failed,ap,fgiou_0.3,miou_0.3,"))
    #expect(csv.split(separator: "\n").count == 5)
}

@Test func evalResumesWithoutRecomputingFinishedSamples() async throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    let folder = temporaryFolder("resume")
    defer { try? FileManager.default.removeItem(at: folder) }
    let manifest = try subsetManifest(threeSamples, in: folder.appendingPathComponent("data"))
    let output = folder.appendingPathComponent("out")
    let config = try configuration(graph, manifest: manifest, grid: [], output: output)

    let complete = try await BatchRunner(engine: memoryEngine(registry)).run(config)
    #expect(complete.computed == 3 && complete.resumed == 0)
    let summary = try #require(complete.summary)
    // Independent check of the pooled IoU at 0.3 from the records' counts.
    let counts = complete.records.compactMap(\.counts)
    let tp = counts.reduce(0) { $0 + $1.tp[14] }, fp = counts.reduce(0) { $0 + $1.fp[14] }
    let fn = counts.reduce(0) { $0 + $1.fn[14] }
    #expect(summary.points[0].headline?.foregroundIoU03 == Double(tp) / Double(1 + tp + fp + fn))
    #expect(counts.allSatisfy { $0.tp[0] + $0.fp[0] + $0.fn[0] + $0.tn[0] == 192 * 144 })

    // Simulate a kill after the first sample, in the middle of writing the second line.
    let file = RunFiles.samples(output, shard: .whole)
    let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
    try (lines[0] + "\n" + lines[1].prefix(20)).write(to: file, atomically: true, encoding: .utf8)
    try FileManager.default.removeItem(at: RunFiles.summary(output))

    let resumed = try await BatchRunner(engine: memoryEngine(registry)).run(config)
    #expect(resumed.resumed == 1 && resumed.computed == 2)
    #expect(resumed.summary == summary)
    #expect(try RunFiles.readRecords(file).count == 3)

    // A different run into the same folder is refused.
    var other = config
    other.settings["t"] = .int(100)
    await #expect(throws: BatchError.self) { try await BatchRunner(engine: memoryEngine(registry)).run(other) }
}

@Test func shardsMergeToTheSingleRunSummary() async throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    let folder = temporaryFolder("shards")
    defer { try? FileManager.default.removeItem(at: folder) }
    let manifest = try subsetManifest(threeSamples + ["horse-on-coffee"], in: folder.appendingPathComponent("data"))
    let engine = memoryEngine(registry)
    let single = try await BatchRunner(engine: engine)
        .run(try configuration(graph, manifest: manifest, grid: ["t=100,300"], output: folder.appendingPathComponent("single")))
    let shardsFolder = folder.appendingPathComponent("shards")
    for i in 0..<3 {
        var config = try configuration(graph, manifest: manifest, grid: ["t=100,300"], output: shardsFolder)
        config.shard = try Shard(parsing: "\(i)/3")
        let outcome = try await BatchRunner(engine: engine).run(config)
        #expect(outcome.summary == nil)
        #expect(Set(outcome.records.map(\.index)) == Set((0..<4).filter { $0 % 3 == i }))
    }
    // With one shard's file gone, the merge refuses to summarize.
    let shard1 = try Shard(parsing: "1/3")
    try FileManager.default.removeItem(at: RunFiles.samples(shardsFolder, shard: shard1))
    #expect(throws: BatchError.self) { try BatchResults.merge([shardsFolder], into: shardsFolder) }
    // The removed shard is missing now; re-run it and merge.
    var config = try configuration(graph, manifest: manifest, grid: ["t=100,300"], output: shardsFolder)
    config.shard = shard1
    _ = try await BatchRunner(engine: engine).run(config)
    let (merged, _) = try BatchResults.merge([shardsFolder], into: shardsFolder)
    #expect(merged == single.summary)
    #expect(try Data(contentsOf: RunFiles.summary(shardsFolder)) == Data(contentsOf: RunFiles.summary(folder.appendingPathComponent("single"))))
}

/// The measurement in docs/benchmarks/sweep.md: the whole example dataset, t x fusion, shared
/// engine vs every point from scratch. Opt-in (ZFLOW_SWEEP_BENCHMARK=1): it takes a minute.
@Test(.enabled(if: ProcessInfo.processInfo.environment["ZFLOW_SWEEP_BENCHMARK"] == "1"))
func sweepBenchmarkOnExampleDataset() async throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    // ZFLOW_SWEEP_BENCHMARK_OUTPUT keeps the results (for `zflow report`).
    let kept = ProcessInfo.processInfo.environment["ZFLOW_SWEEP_BENCHMARK_OUTPUT"].map { URL(fileURLWithPath: $0) }
    let folder = kept ?? temporaryFolder("benchmark")
    defer { if kept == nil { try? FileManager.default.removeItem(at: folder) } }
    let manifest = try DatasetManifest(contentsOf: repositoryRoot.appendingPathComponent("examples/dataset/manifest.jsonl"))
    let grid = ["t=100,200,300", "fusion=cross_attention,concat"]
    var results: [(String, Int, Int, Double)] = []
    for (name, cache) in [("independent", false), ("shared", true)] {
        let start = Date()
        let outcome = try await BatchRunner(engine: memoryEngine(registry, cache: cache))
            .run(try configuration(graph, manifest: manifest, grid: grid, output: folder.appendingPathComponent(name)))
        results.append((name, outcome.records.reduce(0) { $0 + $1.executed }, outcome.records.reduce(0) { $0 + $1.cached },
                        Date().timeIntervalSince(start)))
    }
    for (name, executed, cached, seconds) in results {
        print("sweep benchmark \(name): \(executed) nodes run, \(cached) cache hits, \(String(format: "%.2f", seconds)) s")
    }
    #expect(results[0].1 == 9 * 6 * 7)
    #expect(results[1].1 < results[0].1 / 2)
}
