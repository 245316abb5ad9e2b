import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowIO
import ZFlowModels
import ZFlowNodes
import ZFlowTensor
import ZFlowTrain
@testable import ZFlowTraining

/// `zflow train --batch B`: a step trains on the next B samples of the epoch as one batch, with the mean loss.
@Suite struct BatchTrainingTests {
    /// The contract's SGD case with --batch 2: with lr 1, momentum 0 and weight decay 0, one step
    /// on two samples changes every parameter by exactly minus the gradient of the mean BCE over
    /// the pair, computed here on a tape from the two samples' graph outputs stacked by hand; and
    /// that gradient is the mean of the two single-sample gradients (within 1e-4 of max |mean|
    /// per tensor: a sum over the batch in another order; BatchModelTests holds the 1e-5 rule).
    @Test func sgdStepOnABatchIsMinusTheMeanGradient() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 3, size: 64)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({
            $0.batch = 2
            $0.hyperparameters.optimizer = .sgd
            $0.hyperparameters.learningRate = 1
            $0.hyperparameters.weightDecay = 0
        }, dataset: dataset, output: run)

        let samples = Array(dataset.samples.prefix(2))
        var inputs: [(latent: Tensor, text: Tensor, taps: [Int: Tensor])] = []
        for sample in samples { inputs.append(try await ZNetTrainerTests.znetInputs(sample)) }
        let truths = try samples.map { TargetMask(try GroundTruthMask(contentsOf: $0.mask)) }
        let (original, model) = try ZNetTrainerTests.storedZNet()
        func gradients(latent: Tensor, text: Tensor, taps: [Int: Tensor], truths: [TargetMask]) throws -> (Float, [String: Tensor]) {
            let tape = GradientTape()
            let loss = try tape.record {
                let logits = try model(latent, context: text, sdFeatures: taps)
                #expect(logits.shape[0] == truths.count)
                let targets = truths.map { $0.target(height: logits.shape[2], width: logits.shape[3]) }
                return try bceWithLogits(logits, target: concat(targets, axis: 0))
            }
            return (loss.buffer[0], try tape.gradient(of: loss, withRespectTo: original.tensors))
        }
        var stackedTaps: [Int: Tensor] = [:]
        for tap in inputs[0].taps.keys { stackedTaps[tap] = try concat(inputs.map { $0.taps[tap]! }, axis: 0) }
        let (batchLoss, batch) = try gradients(
            latent: concat(inputs.map(\.latent), axis: 0),
            text: concat(inputs.map { try $0.text.reshaped([1] + $0.text.shape) }, axis: 0), taps: stackedTaps, truths: truths)
        let singles = try inputs.indices.map {
            try gradients(latent: inputs[$0].latent, text: inputs[$0].text, taps: inputs[$0].taps, truths: [truths[$0]]).1
        }

        try ZNetTrainerTests.expectMinusGradientStep(from: original, to: TrainingRunFolder(run).lastCheckpoint, gradients: batch)
        for (key, g) in batch {
            let mean = scaled(try add(try #require(singles[0][key]), try #require(singles[1][key])), by: 0.5)
            let peak = mean.buffer.reduce(Float(0)) { max($0, abs($1)) }
            let error = zip(g.buffer, mean.buffer).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(error <= 1e-4 * peak, "\(key): the batch's gradient is \(error / peak) of max |mean| from the samples' mean")
        }
        let log = try String(contentsOf: TrainingRunFolder(run).log, encoding: .utf8).split(separator: "\n")
        #expect(log.count == 1 && log[0].contains("\"loss\":\(batchLoss)")
                && log[0].contains("\"sample\":\"\(samples[0].id),\(samples[1].id)\""), "\(log)")
    }

    /// An epoch is one pass over the manifest: ceil(3 / 2) = 2 steps, the second taking the one
    /// sample left; two epochs are 4 steps, each epoch logged after its last.
    @Test func anEpochTakesEverySampleOnceInBatches() async throws {
        let (folder, scenes) = try ZNetTrainerTests.scenes(count: 1, size: 64)
        defer { try? FileManager.default.removeItem(at: folder) }
        let scene = scenes.samples[0], manifest = folder.appendingPathComponent("three.jsonl")
        try ["a", "b", "c"].map { #"{"id": "\#($0)", "image": "\#(scene.image.path)", "phrase": "x", "mask": "\#(scene.mask.path)"}"# }
            .joined(separator: "\n").write(to: manifest, atomically: true, encoding: .utf8)
        let dataset = try DatasetFiles.load(manifest)
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({
            $0.epochs = 2
            $0.batch = 2
            $0.hyperparameters.optimizer = .sgd
        }, dataset: dataset, output: run)
        let log = try ZNetTrainerTests.loggedSteps(run)
        #expect(log.map(\.sample) == ["a,b", "c", "a,b", "c"])
        #expect(log.map(\.epoch) == [1, 1, 2, 2])
        let epochs = try String(contentsOf: TrainingRunFolder(run).epochLog, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(TrainingEpoch.self, from: Data($0.utf8)) }
        #expect(epochs.map(\.lastStep) == [2, 4])
        #expect(epochs.map(\.steps) == [2, 2])
    }

    @Test func aBatchLargerThanTheDatasetIsRefused() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 16, samples: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        await #expect {
            try await ZNetTrainerTests.train({ $0.batch = 2 }, dataset: dataset, output: folder.appendingPathComponent("run"))
        } throws: { "\($0)".contains("--batch 2 is more than the 1 sample(s) of \(dataset.url.path): a batch holds each sample of an epoch at most once") }
    }

    /// A target mask for examples made by hand: one generated scene's.
    private static func sceneMask() throws -> TargetMask {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 16)
        defer { try? FileManager.default.removeItem(at: folder) }
        return TargetMask(try GroundTruthMask(contentsOf: dataset.samples[0].mask))
    }

    @Test func samplesOfAnotherSizeInOneBatchAreNamed() throws {
        let truth = try Self.sceneMask()
        func example(_ side: Int, _ place: String) -> TrainedZNet.Example {
            .init(inputs: .init(latent: Tensor(zeros: [1, 4, side, side]), text: Tensor(zeros: [77, 24]), taps: [:]),
                  truth: truth, place: place)
        }
        #expect(throws: Never.self) { _ = try TrainedZNet.stacked([example(8, "a"), example(8, "b")]) }
        do {
            _ = try TrainedZNet.stacked([example(8, "step 1, sample 'a' (line 1)"), example(16, "step 1, sample 'b' (line 2)")])
            Issue.record("samples of two sizes were stacked")
        } catch let error as BatchError {
            #expect(error.message == "step 1, sample 'b' (line 2): its latent is [1, 4, 16, 16], while step 1, sample 'a' "
                    + "(line 1) has [1, 4, 8, 8]; the samples of one step must be of one size (--batch 2)")
        }
    }

    /// A step's samples carry either the frozen encoder's text or token ids for the trained one;
    /// a mix is refused naming the sample (it crashed, or dropped the sample's prompt).
    @Test(arguments: [false, true])
    func samplesWithAnotherKindOfTextAreNamed(tokensFirst: Bool) throws {
        let truth = try Self.sceneMask()
        let latent = Tensor(zeros: [1, 4, 8, 8])
        let encoded = TrainedZNet.Example(inputs: .init(latent: latent, text: Tensor(zeros: [77, 24]), taps: [:]),
                                          truth: truth, place: "sample 'encoded'")
        let tokens = TrainedZNet.Example(inputs: .init(latent: latent, text: .tokens([[49406, 49407]]), taps: [:]),
                                         truth: truth, place: "sample 'tokens'")
        let (firstText, secondText) = tokensFirst ? ("token ids", "[77, 24]") : ("[77, 24]", "token ids")
        let (first, second) = tokensFirst ? (tokens, encoded) : (encoded, tokens)
        do {
            _ = try TrainedZNet.stacked([first, second])
            Issue.record("samples with two kinds of text were stacked")
        } catch let error as BatchError {
            #expect(error.message == "\(second.place): its text is \(secondText), while \(first.place) has \(firstText); "
                    + "the samples of one step must be of one size (--batch 2)")
        }
    }
}
