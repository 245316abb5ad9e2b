import Foundation
import Testing

// An eval in one process, the same eval as 3 shards in 3 concurrent processes sharing one
// output folder and one disk cache, then `zflow merge`: the merged summary.json must equal
// the single run's byte for byte.

@Test func threeShardProcessesMergeToTheSingleRun() throws {
    let fixtures = CLI.packageRoot.appendingPathComponent("Tests/ZFlowCLITests/Fixtures/eval-shards")
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let common = [fixtures.appendingPathComponent("stub-logits.zflow").path,
                  "--dataset", fixtures.appendingPathComponent("manifest.jsonl").path,
                  "--cache-dir", folder.appendingPathComponent("cache").path, "--quiet"]
    let single = try CLI.run(["eval"] + common + ["--output", folder.appendingPathComponent("single").path])
    #expect(single.status == 0, "\(single.stderr)")

    let statuses = ExitStatuses()
    DispatchQueue.concurrentPerform(iterations: 3) { i in
        let result = try? CLI.run(["eval"] + common + ["--output", folder.appendingPathComponent("shards").path,
                                                       "--shard", "\(i)/3"])
        statuses.append(result?.status ?? -1)
    }
    #expect(statuses.all == [0, 0, 0])
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("shards/summary.json").path))

    let merge = try CLI.run(["merge", folder.appendingPathComponent("shards").path])
    #expect(merge.status == 0, "\(merge.stderr)")
    let merged = try Data(contentsOf: folder.appendingPathComponent("shards/summary.json"))
    let whole = try Data(contentsOf: folder.appendingPathComponent("single/summary.json"))
    #expect(merged == whole)
    #expect(String(decoding: whole, as: UTF8.self).contains("\"samples\" : 7"))
}

@Test func evalReportsManifestErrorsWithLineAndColumn() throws {
    let folder = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let manifest = folder.appendingPathComponent("bad.jsonl")
    try "{\"id\": \"a\", \"image\": \"x\", \"phrase\": \"p\", \"mask\": \"m\"}\n{\"id\": \"b\", \"image\": 1}\n"
        .write(to: manifest, atomically: true, encoding: .utf8)
    let graph = CLI.packageRoot.appendingPathComponent("Tests/ZFlowCLITests/Fixtures/eval-shards/stub-logits.zflow")
    let result = try CLI.run(["eval", graph.path, "--dataset", manifest.path, "--output", folder.path + "/out"])
    #expect(result.status == 2)
    #expect(result.stderr.contains("bad.jsonl:2:13: \"image\" must be a string"), "\(result.stderr)")
}

private final class ExitStatuses: @unchecked Sendable {
    private let lock = NSLock()
    private var statuses: [Int32] = []
    var all: [Int32] { lock.withLock { statuses } }
    func append(_ status: Int32) { lock.withLock { statuses.append(status) } }
}
