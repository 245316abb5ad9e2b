import Foundation
import Testing

// Runs the built zflow binary: an eval in one process, the same eval as 3 shards in 3
// concurrent processes sharing one output folder and one disk cache, then `zflow merge`;
// the merged summary.json must equal the single run's byte for byte.

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/eval-shards")

/// .build/<configuration>/zflow, next to the test bundle's resources.
private func zflowBinary() throws -> URL {
    let products = try #require(Bundle.module.resourceURL).deletingLastPathComponent()
    return products.appendingPathComponent("zflow")
}

private func launch(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = try zflowBinary()
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

@Test func threeShardProcessesMergeToTheSingleRun() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-shards-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    let common = [fixtures.appendingPathComponent("stub-logits.zflow").path,
                  "--dataset", fixtures.appendingPathComponent("manifest.jsonl").path,
                  "--cache-dir", folder.appendingPathComponent("cache").path, "--quiet"]
    let single = try launch(["eval"] + common + ["--output", folder.appendingPathComponent("single").path])
    single.waitUntilExit()
    #expect(single.terminationStatus == 0)

    let shards = try (0..<3).map { i in
        try launch(["eval"] + common + ["--output", folder.appendingPathComponent("shards").path, "--shard", "\(i)/3"])
    }
    for shard in shards { shard.waitUntilExit() }
    #expect(shards.allSatisfy { $0.terminationStatus == 0 })
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("shards/summary.json").path))

    let merge = try launch(["merge", folder.appendingPathComponent("shards").path])
    merge.waitUntilExit()
    #expect(merge.terminationStatus == 0)
    let merged = try Data(contentsOf: folder.appendingPathComponent("shards/summary.json"))
    let whole = try Data(contentsOf: folder.appendingPathComponent("single/summary.json"))
    #expect(merged == whole)
    #expect(String(decoding: whole, as: UTF8.self).contains("\"samples\" : 7"))
}
