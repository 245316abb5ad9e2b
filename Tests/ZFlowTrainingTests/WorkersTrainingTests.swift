import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
import ZFlowTensor
import ZFlowTestSupport
@testable import ZFlowTraining

/// `zflow train --workers N`: a step's samples split into N shares computed at once, each on one
/// core; the weighted shares are the batch's loss and gradients, rounded differently.
@Suite struct WorkersTrainingTests {
    @Test func sharesAreConsecutiveAndDifferByAtMostOne() {
        #expect(TrainedZNet.shares(of: 4, workers: 1) == [0..<4])
        #expect(TrainedZNet.shares(of: 4, workers: 2) == [0..<2, 2..<4])
        #expect(TrainedZNet.shares(of: 5, workers: 2) == [0..<2, 2..<5])
        #expect(TrainedZNet.shares(of: 2, workers: 4) == [0..<1, 1..<2])
        #expect(TrainedZNet.shares(of: 1, workers: 2) == [0..<1])
    }

    /// Three samples over two workers (shares of one and two): the loss within 1e-6 relative and
    /// every gradient within 1e-4 of max |batch gradient| of the one-batch step's (BatchTrainingTests'
    /// bound for a sum over the batch in another order; measured: 2.8e-5 at worst, the loss equal); two runs with
    /// workers give the same bits.
    @Test func sharesGiveTheBatchLossAndGradients() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 3, size: 64, samples: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        var examples: [TrainedZNet.Example] = []
        for sample in dataset.samples {
            let inputs = try await ZNetTrainerTests.znetInputs(sample)
            examples.append(TrainedZNet.Example(inputs: .init(latent: inputs.latent, text: inputs.text, taps: inputs.taps),
                                                truth: TargetMask(try GroundTruthMask(contentsOf: sample.mask)), place: sample.id))
        }
        let model = try TrainedZNet(weights: ZNetTrainerTests.ldznet.path, fusion: "cross_attention", initialisation: .weightsFile,
                                    seed: 0, stableDiffusion: nil, train: TrainingConfiguration.defaultTrainPatterns)
        // Shares run confined to their thread: ZFlow's own kernels and algorithms, nothing timed.
        // The one-batch step would run the machine's tuned choices (backends, and Winograd or im2col),
        // which round differently. This test is about the split, so the batch step runs confined
        // too (BackwardBackendTests compares the backends).
        let loss = SegmentationLoss(positiveWeight: 2)
        let batch = try CoreConfinement.$confined.withValue(true) { try model.lossAndGradients(examples, loss: loss) }
        model.workers = 2
        let shared = try model.lossAndGradients(examples, loss: loss), again = try model.lossAndGradients(examples, loss: loss)

        #expect(abs(shared.loss - batch.loss) <= 1e-6 * batch.loss, "loss \(shared.loss) against \(batch.loss)")
        #expect(shared.gradients.keys == batch.gradients.keys && !batch.gradients.keys.isEmpty)
        var worst = (key: "", relative: Float(0))
        for key in batch.gradients.keys {
            let expected = try #require(batch.gradients[key]), actual = try #require(shared.gradients[key])
            let peak = expected.buffer.reduce(Float(0)) { max($0, abs($1)) }
            let error = zip(actual.buffer, expected.buffer).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(actual.shape == expected.shape && error <= 1e-4 * peak, "\(key): \(error) against max \(peak)")
            if peak > 0, error / peak > worst.relative { worst = (key, error / peak) }
            #expect(bitwiseEqual(try #require(again.gradients[key]), actual), "\(key) differs between two runs")
        }
        #expect(again.loss == shared.loss)
        print("WORKERS | loss \(abs(shared.loss - batch.loss) / batch.loss) relative | worst gradient \(worst.key) \(worst.relative) of max")
    }
}
