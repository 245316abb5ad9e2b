import Foundation
import Testing
import ZFlowProbe

/// The whole probe on the tiny SD: determinism, resume of the feature pass, shards.
@Suite struct ProbeRunTests {
    /// 3 train + 2 val samples x 2 timesteps x 1 seed.
    static let storeFiles = 10

    @Test func sameSeedGivesTheSameProbeJSON() async throws {
        let workspace = try ProbeFixture.Workspace()
        defer { workspace.remove() }
        let first = try await workspace.probe(workspace.run("a"))
        try await workspace.probe(workspace.run("b"))
        #expect(first.computed == Self.storeFiles && first.reused == 0)
        #expect(try ProbeFixture.probeJSON(workspace.run("a")) == ProbeFixture.probeJSON(workspace.run("b")))
        let results = try #require(first.results)
        #expect(results.cells.count == 3 * 2)
        #expect(results.cells.allSatisfy { $0.trainLoss.isFinite && $0.trainLoss > 0 })
        #expect(results.cells.contains { $0.ap != nil })
        // Another decoder seed starts elsewhere and ends elsewhere.
        try await workspace.probe(workspace.run("c")) { $0.training.seed = 1 }
        #expect(try ProbeFixture.probeJSON(workspace.run("c")) != ProbeFixture.probeJSON(workspace.run("a")))
    }

    /// By default the feature pass holds the UNet's large weights on demand. All of the tiny
    /// UNet's are below the full-size threshold, so here it is lowered to 512 values (the tiny
    /// UNet's products): the pass reports the tensors it holds on demand, and its store equals,
    /// bit for bit, that of a pass holding every weight in memory.
    @Test func unetWeightsOnDemandGiveTheInMemoryFeatures() async throws {
        let workspace = try ProbeFixture.Workspace()
        defer { workspace.remove() }
        func held(_ run: URL, _ configure: @escaping (inout ProbeConfiguration) -> Void) async throws -> [UNetWeightsHeld] {
            var reports: [UNetWeightsHeld] = []
            try await workspace.probe(run, configure, progress: { if case let .unetLoaded(held) = $0 { reports.append(held) } })
            return reports
        }
        let onDemand = try await held(workspace.run("on-demand")) { $0.onDemandMinimumElements = 512 }
        let inMemory = try await held(workspace.run("in-memory")) { $0.unetInMemory = true }
        let byDefault = try await held(workspace.run("default")) { _ in }
        #expect(onDemand.count == 1 && inMemory.count == 1 && byDefault.count == 1, "the UNet is loaded once per pass")
        let total = try #require(inMemory.first).total
        #expect(inMemory.first?.onDemand == 0 && byDefault == inMemory)
        let lowered = try #require(onDemand.first)
        #expect(lowered.total == total && lowered.onDemand >= 40 && lowered.onDemand < total, "\(lowered)")
        let expected = try ProbeFixture.storeFiles(workspace.run("in-memory"))
        #expect(expected.count == Self.storeFiles)
        #expect(try ProbeFixture.storeFiles(workspace.run("on-demand")) == expected)
    }

    /// A feature pass stopped after K files (as a kill would stop it, leaving a temporary file
    /// behind) resumes: the K files are not computed again, the temporary is not trusted, and the
    /// result equals an uninterrupted run's.
    @Test func interruptedFeaturePassResumes() async throws {
        let workspace = try ProbeFixture.Workspace()
        defer { workspace.remove() }
        struct Interrupted: Error {}
        let run = workspace.run("resumed"), stopAfter = 4
        await #expect(throws: Interrupted.self) {
            try await workspace.probe(run, progress: { progress in
                if case let .features(file) = progress, file.done == stopAfter { throw Interrupted() }
            })
        }
        let before = try ProbeFixture.storeFiles(run)
        #expect(before.count == stopAfter)
        // What a kill during the next write leaves: a temporary of the next file (train sample 2, t 100).
        let partial = run.appendingPathComponent("features/train/.00002-t100-s0.safetensors.999.1.tmp")
        try Data("half a file".utf8).write(to: partial)

        let resumed = try await workspace.probe(run)
        #expect(resumed.reused == stopAfter && resumed.computed == Self.storeFiles - stopAfter)
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        let after = try ProbeFixture.storeFiles(run)
        #expect(after.count == Self.storeFiles)
        for (name, data) in before { #expect(after[name] == data, "\(name) changed") }

        try await workspace.probe(workspace.run("whole"))
        #expect(try ProbeFixture.storeFiles(workspace.run("whole")) == after)
        #expect(try ProbeFixture.probeJSON(run) == ProbeFixture.probeJSON(workspace.run("whole")))
    }

    /// Two shards fill one store; the run without --shard computes nothing and gives what an
    /// unsharded run gives.
    @Test func shardsThenWholeRunEqualsUnsharded() async throws {
        let workspace = try ProbeFixture.Workspace()
        defer { workspace.remove() }
        let run = workspace.run("sharded")
        let shard0 = try await workspace.probe(run) { $0.shard = try! .init(parsing: "0/2") }
        let shard1 = try await workspace.probe(run) { $0.shard = try! .init(parsing: "1/2") }
        #expect(shard0.results == nil && shard1.results == nil)
        // Train positions 0, 2 and val 0 in shard 0; train 1 and val 1 in shard 1; two timesteps each.
        #expect(shard0.computed == 6 && shard1.computed == 4)
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("probe.json").path))
        let merged = try await workspace.probe(run)
        #expect(merged.computed == 0 && merged.reused == Self.storeFiles)

        try await workspace.probe(workspace.run("unsharded"))
        #expect(try ProbeFixture.probeJSON(run) == ProbeFixture.probeJSON(workspace.run("unsharded")))
    }

    /// A folder holding another store is refused with what differs; --overwrite starts it over.
    @Test func folderOfAnotherRunIsRefused() async throws {
        let workspace = try ProbeFixture.Workspace(train: 1, val: 1)
        defer { workspace.remove() }
        let run = workspace.run("r")
        try await workspace.probe(run)
        await #expect {
            try await workspace.probe(run) { $0.timesteps = [100, 700] }
        } throws: { error in
            "\(error)".contains("holds another probe run") && "\(error)".contains("option timesteps: 100,600 -> 100,700")
        }
        let again = try await workspace.probe(run) { $0.timesteps = [100, 700]; $0.overwrite = true }
        #expect(again.computed == 4 && again.reused == 0)
        // Other decoder options reuse the store.
        let retrained = try await workspace.probe(run) { $0.timesteps = [100, 700]; $0.training.learningRate = 1e-2 }
        #expect(retrained.computed == 0)
    }
}
