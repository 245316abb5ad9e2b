import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowTraining

/// `zflow train --grid`: one run folder per point, one memo cache, an eval per point, shards,
/// resume, and the table of variants.
@Suite struct TrainingGridTests {
    static let fusionGrid = ["fusion=cross_attention,concat,none", "seed=0,1"]
    static let fusionFolders = ["cross_attention", "concat", "none"].flatMap { fusion in
        ["0", "1"].map { "fusion=\(fusion),seed=\($0)" }
    }

    /// Every point trains in its own folder with what a single run writes, plus eval.json (the
    /// last validation, EMA weights); only the first point runs VAE, CLIP and the SD UNet; the
    /// table's means and sample standard deviations are those of the points' eval.json. Two
    /// shards then a run without --shard train nothing twice and write the unsharded files.
    @Test func gridTrainsEveryPointOnOneCacheAndShardsAddUp() async throws {
        let fixture = try GridFixture()
        defer { fixture.remove() }
        let grid = try TrainingGrid(Self.fusionGrid, graph: fixture.graph)
        #expect(grid.points.map(\.folder) == Self.fusionFolders)

        let whole = fixture.configuration(output: "whole")
        let outcome = try await fixture.runner().run(whole, grid: grid)
        #expect(outcome.trained == Self.fusionFolders && outcome.finished.isEmpty && outcome.pending.isEmpty)
        var evaluations: [String: PointEvaluation] = [:]
        for (index, name) in Self.fusionFolders.enumerated() {
            let point = whole.output.appendingPathComponent(name)
            #expect(try FileManager.default.contentsOfDirectory(atPath: point.path).sorted()
                == ["epochs.jsonl", "eval.json", "last.json", "last.safetensors", "log.jsonl", "run.json", "step-2.json",
                    "step-2.safetensors", "val.jsonl"], "\(name)")
            let identity = try RunFiles.read(RunIdentity.self, from: RunFiles.description(point))
            // Settings as a graph file writes them: strings quoted.
            #expect(identity.settings["fusion"] == "\"\(grid.points[index].params["fusion"]!)\"")
            #expect(identity.options["seed"] == grid.points[index].params["seed"])
            let evaluation = try RunFiles.read(PointEvaluation.self, from: TrainingGridFiles.evaluation(point))
            let validations = try String(contentsOf: point.appendingPathComponent("val.jsonl"), encoding: .utf8).split(separator: "\n")
                .map { try JSONDecoder().decode(ValidationRecord.self, from: Data($0.utf8)) }
            #expect(evaluation.run == identity.digest && evaluation.step == 2 && evaluation.weights == "ema")
            #expect(validations.count == 1 && evaluation.metrics == validations[0].metrics && evaluation.samples == 2)
            evaluations[name] = evaluation

            let epochs = try String(contentsOf: point.appendingPathComponent("epochs.jsonl"), encoding: .utf8).split(separator: "\n")
                .map { try JSONDecoder().decode(TrainingEpoch.self, from: Data($0.utf8)) }
            for frozen in ["VAEEncode", "CLIPTextEncode", "UNetFeatures"] {
                let runs = epochs.reduce(0) { $0 + ($1.executed[frozen] ?? 0) }
                #expect(index == 0 ? runs > 0 : runs == 0, "\(name) ran \(frozen) \(runs) times")
            }
        }
        #expect(try Data(contentsOf: whole.output.appendingPathComponent("fusion=concat,seed=0/last.safetensors"))
            != Data(contentsOf: whole.output.appendingPathComponent("fusion=concat,seed=1/last.safetensors")), "seeds train alike")

        let table = try TrainingGridTable.load(whole.output)
        #expect(table.variants.map { $0.params } == [["fusion": "cross_attention"], ["fusion": "concat"], ["fusion": "none"]])
        #expect(table.missing.isEmpty && table.warnings.isEmpty)
        for variant in table.variants {
            let fusion = variant.params["fusion"]!
            let (a, b) = (evaluations["fusion=\(fusion),seed=0"]!.metrics, evaluations["fusion=\(fusion),seed=1"]!.metrics)
            for (spread, x, y) in [(variant.meanIoU, a.meanIoU03, b.meanIoU03), (variant.foregroundIoU, a.foregroundIoU03, b.foregroundIoU03)] {
                #expect(spread?.count == 2 && abs(spread!.mean - (x + y) / 2) < 1e-12, "\(fusion)")
                #expect(abs(spread!.deviation! - abs(x - y) / 2.squareRoot()) < 1e-12, "\(fusion)")
                #expect(table.text.contains(spread!.text))
            }
            #expect(variant.ap?.count == [a.ap, b.ap].compactMap { $0 }.count)
        }

        let sharded = fixture.configuration(output: "sharded")
        let first = try await fixture.runner().run(sharded, grid: grid, shard: try Shard(parsing: "0/2"))
        #expect(first.trained == [0, 2, 4].map { Self.fusionFolders[$0] } && first.pending == [1, 3, 5].map { Self.fusionFolders[$0] })
        let second = try await fixture.runner().run(sharded, grid: grid, shard: try Shard(parsing: "1/2"))
        #expect(second.trained == first.pending && second.finished == first.trained)
        let merged = try await fixture.runner().run(sharded, grid: grid)
        #expect(merged.trained.isEmpty && merged.finished == Self.fusionFolders)
        for name in Self.fusionFolders {
            for file in ["eval.json", "last.safetensors", "val.jsonl"] {
                #expect(try Data(contentsOf: whole.output.appendingPathComponent("\(name)/\(file)"))
                    == Data(contentsOf: sharded.output.appendingPathComponent("\(name)/\(file)")), "\(name)/\(file)")
            }
        }
        #expect(try TrainingGridTable.load(sharded.output).text == table.text)
    }

    /// A rerun skips finished points and resumes an interrupted one from its last checkpoint (a
    /// kill after step 1: step 2's checkpoint and eval gone, a torn log line), ending with the
    /// files of the uninterrupted run; a resume with another grid is refused with what differs.
    @Test func rerunSkipsFinishedPointsAndResumesAnInterruptedOne() async throws {
        let fixture = try GridFixture()
        defer { fixture.remove() }
        let grid = try TrainingGrid(["seed=0,1"], graph: fixture.graph)
        var configuration = fixture.configuration(output: "run")
        configuration.checkpointEvery = 1
        _ = try await fixture.runner().run(configuration, grid: grid)
        let point = configuration.output.appendingPathComponent("seed=1")
        let finished = try ["last.safetensors", "eval.json", "val.jsonl"].map { try Data(contentsOf: point.appendingPathComponent($0)) }

        for name in ["last.safetensors", "step-2.safetensors", "step-2.json", "eval.json"] {
            try FileManager.default.removeItem(at: point.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(at: point.appendingPathComponent("step-1.safetensors"), to: point.appendingPathComponent("last.safetensors"))
        let log = try FileHandle(forWritingTo: point.appendingPathComponent("log.jsonl"))
        try log.seekToEnd()
        try log.write(contentsOf: Data("{\"step\":2,\"lo".utf8))
        try log.close()

        let events = EventLog()
        configuration.resume = true
        let rerun = try await fixture.runner().run(configuration, grid: grid) { events.add($0) }
        #expect(rerun.finished == ["seed=0"] && rerun.trained == ["seed=1"])
        #expect(events.starts == ["seed=1 resuming"])
        #expect(try ["last.safetensors", "eval.json", "val.jsonl"].map { try Data(contentsOf: point.appendingPathComponent($0)) } == finished)

        await #expect {
            _ = try await fixture.runner().run(configuration, grid: try TrainingGrid(["seed=0,1,2"], graph: fixture.graph))
        } throws: {
            "\($0)" == "--resume: \(configuration.output.relativePath) holds another training grid; what differs (folder -> this run):\n"
                + "  grid: seed=0,1 -> seed=0,1,2\n"
                + "resume with what the folder's run.json holds (only --steps or --epochs may grow), or start over with --overwrite"
        }
    }

    /// The table takes a number only for the run it was written for, and only into the row of
    /// runs that differ from it in the seed alone: a point whose run.json now says another
    /// setting, or whose eval.json belongs to another run, is left out with a warning.
    @Test func theTableNeverMixesRunsOfAnotherVariant() async throws {
        let fixture = try GridFixture()
        defer { fixture.remove() }
        var configuration = fixture.configuration(output: "run")
        configuration.steps = 1
        _ = try await fixture.runner().run(configuration, grid: try TrainingGrid(["seed=0,1,2"], graph: fixture.graph))
        #expect(try TrainingGridTable.load(configuration.output).variants.map(\.evaluations.count) == [3])

        // seed=1 now describes a run at another area, with an eval.json stamped for it.
        let moved = configuration.output.appendingPathComponent("seed=1")
        var identity = try RunFiles.read(RunIdentity.self, from: RunFiles.description(moved))
        identity.settings["area"] = "128"
        try RunFiles.write(identity, to: RunFiles.description(moved))
        var evaluation = try RunFiles.read(PointEvaluation.self, from: TrainingGridFiles.evaluation(moved))
        evaluation.run = identity.digest
        try RunFiles.write(evaluation, to: TrainingGridFiles.evaluation(moved))
        // seed=2's eval.json was written for another run.
        let stale = configuration.output.appendingPathComponent("seed=2")
        var other = try RunFiles.read(PointEvaluation.self, from: TrainingGridFiles.evaluation(stale))
        other.run = "0123"
        try RunFiles.write(other, to: TrainingGridFiles.evaluation(stale))

        let table = try TrainingGridTable.load(configuration.output)
        let kept = try RunFiles.read(PointEvaluation.self, from: TrainingGridFiles.evaluation(configuration.output.appendingPathComponent("seed=0")))
        #expect(table.variants.count == 1 && Array(table.variants[0].evaluations.keys) == ["seed=0"])
        #expect(table.variants[0].meanIoU == TrainingGridTable.Spread([kept.metrics.meanIoU03]))
        #expect(table.missing == ["seed=1", "seed=2"])
        #expect(table.warnings.count == 2)
        #expect(table.warnings.contains { $0.contains("seed=1 is not a seed of the variant of seed=0") && $0.contains("--set area: 64 -> 128") },
                "\(table.warnings)")
        #expect(table.warnings.contains { $0.contains("seed=2/eval.json was not written for the run in seed=2/run.json") }, "\(table.warnings)")
        #expect(table.text.contains("1/3") && table.text.contains("not evaluated yet: seed=1 seed=2"), "\(table.text)")
    }

    /// Folder names keep readable values and percent-encode the rest, so distinct points never share a folder.
    @Test func folderNamesAreReadableAndDistinct() {
        #expect(TrainingGridFiles.folderName([("ldznet", "runs/a.safetensors"), ("seed", "1")]) == "ldznet=runs%2Fa.safetensors,seed=1")
        #expect(TrainingGridFiles.folderName([("template", "a {}, b=c 100%")]) == "template=a%20%7B%7D%2C%20b%3Dc%20100%25")
        #expect(TrainingGridFiles.folderName([("t", "a/b")]) != TrainingGridFiles.folderName([("t", "a_b")]))
        #expect(TrainingGridFiles.folderName([("prompt", "café")]) == "prompt=caf%C3%A9")
    }

    @Test func spreadIsTheSampleStandardDeviation() throws {
        let spread = try #require(TrainingGridTable.Spread([0.2, 0.4, 0.9]))
        #expect(abs(spread.mean - 0.5) < 1e-15)
        // sum of squares 0.09 + 0.01 + 0.16 = 0.26, over n - 1 = 2
        #expect(abs(spread.deviation! - 0.13.squareRoot()) < 1e-15)
        #expect(spread.text == "0.5000 ± 0.3606")
        #expect(TrainingGridTable.Spread([0.25])?.text == "0.2500" && TrainingGridTable.Spread([]) == nil)
    }

    @Test(arguments: [
        (["bogus=1"], "ldznet-fusion.zflow has no parameter 'bogus' (it has: image, prompt, template, t, seed, fusion,"),
        (["t=300,400", "t=500"], "--grid t is given twice"),
        (["seed=0", "seed=1"], "--grid seed is given twice"),
        (["t="], "--grid t: the list of values is empty"),
        (["t=300,300"], "--grid t: the value '300' is given twice"),
        (["seed=0,x"], "--grid seed=x: 'x' is not an integer"),
        (["seed=1,01"], "--grid seed: the seed 1 is given twice"),
        (["fusion"], "--grid expects NAME=V1,V2,..., got 'fusion'"),
    ])
    func badGridsAreRefused(options: [String], message: String) throws {
        let fixture = try GridFixture()
        defer { fixture.remove() }
        #expect { _ = try TrainingGrid(options, graph: fixture.graph) } throws: { "\($0)".contains(message) }
    }

    @Test func gridsTheTrainerCannotRunAreRefusedBeforeAnyPoint() async throws {
        let fixture = try GridFixture()
        defer { fixture.remove() }
        func refusal(_ options: [String], _ configure: (inout TrainingConfiguration) -> Void = { _ in }) async -> String {
            var configuration = fixture.configuration(output: "run")
            configure(&configuration)
            do {
                _ = try await fixture.runner().run(configuration, grid: try TrainingGrid(options, graph: fixture.graph))
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(await refusal(["seed=0"]) { $0.validation = nil }.contains("give --val MANIFEST"))
        #expect(await refusal(["seed=0"]) { $0.validation?.weights = .training }.contains("--val-weights training is for single runs"))
        #expect(await refusal(["prompt=a,b"]).contains("--grid prompt: zflow train binds this parameter per sample"))
        #expect(await refusal(["t=300,400"]) { $0.augmentation = .reference }.contains("--grid t: zflow train binds"))
        #expect(await refusal(["area=64,128"]) { $0.settings["area"] = .int(64) }.contains("--grid area and --set area: give one of them"))
        #expect(await refusal(["fusion=cross_attention,film"]).contains("film"))
        let crossAttentionOnly = ZNetTrainerTests.ldznet.path
        let missing = await refusal(["fusion=cross_attention,concat"]) { $0.settings["ldznet"] = .string(crossAttentionOnly) }
        #expect(missing.contains("--grid fusion=concat: ZNet weights \(crossAttentionOnly) with fusion 'concat': ") && missing.contains("concat_proj"),
                "\(missing)")
        #expect(!FileManager.default.fileExists(atPath: fixture.folder.appendingPathComponent("run").path))
    }
}

/// The points a runner started, as "folder resuming|training".
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []

    func add(_ event: TrainingGridRunner.Event) {
        guard case let .point(point, resuming) = event else { return }
        lock.withLock { events.append("\(point.folder) \(resuming ? "resuming" : "training")") }
    }

    var starts: [String] { lock.withLock { events } }
}
