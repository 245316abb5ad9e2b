import Foundation
import Testing
import ZFlowTraining

/// `zflow train --recompute`: the same run, bit for bit, with ZNet's blocks recomputed in backward.
@Suite struct RecomputeTrainingTests {
    @Test func recomputingBlocksWritesTheSameCheckpoint() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 64)
        defer { try? FileManager.default.removeItem(at: folder) }
        var checkpoints: [Data] = []
        for recompute in [false, true] {
            let run = folder.appendingPathComponent("run-\(recompute)")
            try await ZNetTrainerTests.train({
                $0.steps = 2
                $0.batch = 2
                $0.recompute = recompute
            }, dataset: dataset, output: run)
            checkpoints.append(try Data(contentsOf: TrainingRunFolder(run).lastCheckpoint))
        }
        #expect(checkpoints[0] == checkpoints[1])
    }
}
