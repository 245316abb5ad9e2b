import Foundation
import Testing
import ZFlowBatch
import ZFlowIO
@testable import ZFlowModels
import ZFlowTensor
import ZFlowTrain
import ZFlowTraining

/// `--head-init upsampler`: the head starts as `ZNet.upsamplingHead`, its last bias at the
/// training masks' foreground prior; everything else where `--init` puts it.
@Suite struct HeadInitialisationTests {
    @Test func theHeadStartsAsAnUpsamplerAtThePrior() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 2, size: 64, samples: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({
            $0.initialisation = .random
            $0.headInitialisation = .upsampler
            $0.seed = 9
            $0.hyperparameters.optimizer = .sgd
            $0.hyperparameters.learningRate = 0
            $0.hyperparameters.positiveWeight = 2
        }, dataset: dataset, output: run)
        let trained = try SafeTensorsFile(contentsOf: TrainingRunFolder(run).lastCheckpoint)
        let prefix = "model.diffusion_model."

        // The bias is the constant logit where the weighted BCE's derivative vanishes:
        // w f (1 - p) = (1 - f) p over all the masks' pixels.
        var foreground = 0, pixels = 0
        for sample in dataset.samples {
            let mask = try GroundTruthMask(contentsOf: sample.mask)
            foreground += mask.foreground.filter { $0 }.count
            pixels += mask.foreground.count
        }
        let f = Double(foreground) / Double(pixels)
        let bias = Double(try trained.tensor(prefix + "final.12.bias").scalars[0])
        let p = 1 / (1 + exp(-bias))
        #expect(abs(2 * f * (1 - p) - (1 - f) * p) < 1e-6, "bias \(bias) for foreground fraction \(f)")

        let head = ZNet.upsamplingHead(logitBias: Float(bias))
        #expect(head.count == 14)
        for (key, tensor) in head {
            #expect(try trained.tensor(prefix + key).scalars == tensor.scalars, "\(key)")
        }
        let file = try TensorTree(source: openTensorSource(ZNetTrainerTests.ldznet), prefix: prefix)
        let random = try ParameterInitialisation.random(shapes: file.tensors.mapValues(\.shape), seed: 9)
        for key in random.keys where !key.hasPrefix(prefix + "final.") {
            #expect(try trained.tensor(key).scalars == random[key]!.scalars, "\(key)")
        }
        #expect(try String(contentsOf: run.appendingPathComponent("run.json"), encoding: .utf8).contains("upsampler"))
    }

    /// The head as started is increasing above SiLU's minimum (-1.278, where its first SiLU turns):
    /// there a larger UNet output never gives a smaller logit, and the logits have no ceiling.
    @Test func theUpsamplingHeadIsIncreasing() throws {
        let head = ZNet.upsamplingHead(logitBias: -2)
        let tree = try TensorTree(source: openTensorSource(ZNetTrainerTests.ldznet), prefix: "model.diffusion_model.")
        var tensors = tree.tensors
        for (key, tensor) in head { tensors["model.diffusion_model." + key] = tensor }
        let config = try LDZNetCheckpoint(source: openTensorSource(ZNetTrainerTests.ldznet), copy: .training,
                                          sidecarOf: ZNetTrainerTests.ldznet).loadZNet(fusion: "cross_attention").znet.unet.config
        let znet = try LDZNetCheckpoint(source: TensorTree(tensors), copy: .training)
            .loadZNet(config: config, fusion: "cross_attention").znet
        var previous: [Float]?
        for value in stride(from: Float(-1.25), through: 8, by: 0.25) {
            let logits = try znet.head(Tensor(repeating: value, shape: [1, 1, 3, 3])).scalars
            if let previous { #expect(zip(previous, logits).allSatisfy { $0 <= $1 }, "at \(value)") }
            previous = logits
        }
        #expect(try #require(previous).allSatisfy { $0 > 100 }, "8 -> \(previous!)")
    }

    @Test func aStoredStartKeepsItsHead() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 64, samples: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        await #expect {
            try await ZNetTrainerTests.train({ $0.headInitialisation = .upsampler }, dataset: dataset,
                                             output: folder.appendingPathComponent("run"))
        } throws: { "\($0)".contains("--head-init upsampler replaces the head of a drawn start: it needs --init random or --init sd") }
    }
}
