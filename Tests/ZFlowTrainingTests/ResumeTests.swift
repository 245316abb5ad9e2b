import Foundation
import Testing
import ZFlowBatch
import ZFlowTraining

/// `--resume`: a run stopped after its checkpoint at step K (and after logging later steps) and
/// resumed ends with the uninterrupted run's loss curve and final checkpoint, bit for bit.
@Suite struct ResumeTests {
    /// The options of both runs: every stream a resume must continue (reference crops, templates,
    /// t and noise; the shuffled order over two epochs of three samples; the cosine schedule with
    /// warm-up; clipping; AdamW's moments; the EMA).
    static func configure(_ configuration: inout TrainingConfiguration) {
        configuration.steps = 5
        configuration.checkpointEvery = 2
        configuration.seed = 11
        configuration.augmentation = .reference
        configuration.hyperparameters.schedule = .cosine
        configuration.hyperparameters.warmup = 1
        configuration.hyperparameters.clipGradient = 0.5
        configuration.hyperparameters.emaDecay = 0.9
    }

    /// log.jsonl without the timings.
    static func curve(_ run: URL) throws -> [String] {
        try String(contentsOf: TrainingRunFolder(run).log, encoding: .utf8).split(separator: "\n").map {
            String($0).replacingOccurrences(of: #","seconds":[^,}]*"#, with: "", options: .regularExpression)
        }
    }

    /// Also with --batch 2 (three samples: epochs of two steps, the second of one sample).
    @Test(arguments: [1, 2]) func resumedRunEqualsTheUninterruptedOne(batch: Int) async throws {
        try await Self.expectResumedRunEqualsTheUninterruptedOne(batch: batch)
    }

    /// With --workers 2 (each step's two samples computed on two cores at once).
    @Test func resumedRunWithWorkersEqualsTheUninterruptedOne() async throws {
        try await Self.expectResumedRunEqualsTheUninterruptedOne(batch: 2, workers: 2)
    }

    /// The check of `resumedRunEqualsTheUninterruptedOne`, training the keys of `patterns`.
    static func expectResumedRunEqualsTheUninterruptedOne(batch: Int, workers: Int = 1,
                                                          patterns: [String] = TrainingConfiguration.defaultTrainPatterns,
                                                          sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 3, size: 64, samples: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        let whole = folder.appendingPathComponent("whole")
        try await ZNetTrainerTests.train({
            Self.configure(&$0)
            $0.batch = batch
            $0.workers = workers
            $0.trainPatterns = patterns
        }, dataset: dataset, output: whole)

        // The folder as a kill -9 after step 3 leaves it: checkpoint of step 2 as last, three
        // log lines (the third after the checkpoint), and a torn fourth line.
        let stopped = TrainingRunFolder(folder.appendingPathComponent("stopped"))
        try FileManager.default.createDirectory(at: stopped.url, withIntermediateDirectories: true)
        let source = TrainingRunFolder(whole)
        try FileManager.default.copyItem(at: RunFiles.description(whole), to: RunFiles.description(stopped.url))
        try FileManager.default.copyItem(at: source.stepCheckpoint(2), to: stopped.lastCheckpoint)
        try FileManager.default.copyItem(at: source.stepCheckpoint(2), to: stopped.stepCheckpoint(2))
        let lines = try String(contentsOf: source.log, encoding: .utf8).split(separator: "\n")
        try Data((lines.prefix(3).joined(separator: "\n") + "\n" + lines[3].prefix(20)).utf8).write(to: stopped.log)

        try await ZNetTrainerTests.train({
            Self.configure(&$0)
            $0.batch = batch
            $0.workers = workers
            $0.trainPatterns = patterns
            $0.resume = true
        }, dataset: dataset, output: stopped.url)
        #expect(try Self.curve(stopped.url) == Self.curve(whole), sourceLocation: sourceLocation)
        #expect(try Data(contentsOf: stopped.lastCheckpoint) == Data(contentsOf: source.lastCheckpoint), sourceLocation: sourceLocation)
        #expect(try Data(contentsOf: stopped.stepCheckpoint(4)) == Data(contentsOf: source.stepCheckpoint(4)),
                sourceLocation: sourceLocation)
    }

    /// --batch and --workers are in the run's identity (they change the numbers); --recompute is
    /// not (it does not).
    @Test func resumeWithOtherOptionsIsRefusedNamingThem() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 2, size: 64, samples: 2)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({ $0.steps = 1 }, dataset: dataset, output: run)
        await #expect {
            try await ZNetTrainerTests.train({
                $0.steps = 2
                $0.resume = true
                $0.hyperparameters.learningRate = 0.5
                $0.seed = 3
                $0.batch = 2
                $0.workers = 2
            }, dataset: dataset, output: run)
        } throws: { error in
            "\(error)" == "--resume: \(run.relativePath) holds another training run; what differs (folder -> this run):\n"
                + "  option batch: 1 -> 2\n  option lr: 0.001 -> 0.5\n  option seed: 0 -> 3\n  option workers: (not given) -> 2\n"
                + "resume with what the folder's run.json holds (only --steps or --epochs may grow), or start over with --overwrite"
        }
        // Extending --steps is a resume (also with --recompute): one more step, the log continues;
        // shortening is refused.
        try await ZNetTrainerTests.train({
            $0.steps = 2
            $0.recompute = true
            $0.resume = true
        }, dataset: dataset, output: run)
        #expect(try Self.curve(run).count == 2)
        await #expect {
            try await ZNetTrainerTests.train({
                $0.steps = 1
                $0.resume = true
            }, dataset: dataset, output: run)
        } throws: { "\($0)".contains("is a run of 2 steps; --steps or --epochs may grow it, not shorten it to 1") }
    }

    @Test func resumeNeedsACheckpoint() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 64, samples: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        await #expect {
            try await ZNetTrainerTests.train({ $0.resume = true }, dataset: dataset, output: folder.appendingPathComponent("run"))
        } throws: { "\($0)".contains("holds no training run (no run.json) to continue") }
    }
}
