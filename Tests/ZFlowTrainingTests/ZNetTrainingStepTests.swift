import Foundation
import Testing
import ZFlowBatch
import ZFlowModels
import ZFlowTensor
import ZFlowTrain
import ZFlowTraining

/// `ZNetTrainingStep` (`zflow train`'s step on given tensors, for `zflow-bench train-step`) and the
/// trainable sets it is benchmarked with, on the bundled tiny LD-ZNet (the SD v1 layout, shrunk).
@Suite struct ZNetTrainingStepTests {
    /// `fusion` is attn3 and norm_sd of the five fusion blocks, their pools and the head; `all` is
    /// every key. The expectation is spelled without patterns: by the module names in the key.
    @Test func trainableSetsSelectTheirModules() throws {
        let keys = try ZNetTrainerTests.storedZNet().original.keys
        func selected(_ set: ZNetTrainableSet) throws -> [String] {
            try keys.filter { key in try set.patterns.contains { try KeyPattern($0).matches(key) } }
        }
        #expect(try selected(.all) == keys)
        let fusion = keys.filter { key in
            let name = key.dropFirst("model.diffusion_model.".count).split(separator: ".")
            return name.contains("attn3") || name.contains("norm_sd") || name.contains("attentionpool2D")
                || name.first == "out" || name.first == "final"
        }
        #expect(try selected(.fusion) == fusion)
        // 5 x attn3 (to_q, to_k, to_v, to_out.0 weight and bias), 5 x norm_sd (weight, bias),
        // 5 x pool (positional_embedding, qkv_proj and c_proj weight and bias), out.0 and out.2
        // (weight, bias), final.{0,2,4,6,8,10,12} (weight, bias).
        #expect(fusion.count == 5 * 5 + 5 * 2 + 5 * 5 + 4 + 14, "\(fusion)")
    }

    /// With SGD at lr 1 and no weight decay, one step moves every parameter of the set by exactly
    /// minus its gradient, computed here on a tape of its own from the stored weights, and leaves
    /// the others alone; the step returns that loss. The mask is read row-major (y * width + x).
    @Test func oneStepIsMinusTheGradientOfTheTrainableSet() throws {
        let (original, model) = try ZNetTrainerTests.storedZNet()
        var hyperparameters = TrainingHyperparameters()
        (hyperparameters.optimizer, hyperparameters.learningRate, hyperparameters.weightDecay) = (.sgd, 1, 0)
        let step = try ZNetTrainingStep(weights: ZNetTrainerTests.ldznet.path, fusion: CrossAttentionFusion.name,
                                        train: ZNetTrainableSet.fusion.patterns, recomputingBlocks: false,
                                        hyperparameters: hyperparameters, totalSteps: 1)
        let latent = Self.random([1, 4, 16, 16], seed: 1), text = Self.random([77, 24], seed: 2)
        let taps = Dictionary(uniqueKeysWithValues: model.fusions.map { tap, fusion in
            (tap, Self.random([1, fusion.position.channels, 4, 4], seed: UInt64(tap)))
        })
        let (width, height) = (128, 128)
        // Foreground on the left half of the top rows only: a transposed read would differ.
        let mask = (0..<(width * height)).map { $0 / width < 40 && $0 % width < 64 }

        let tape = GradientTape()
        let loss = try tape.record {
            try bceWithLogits(model(latent, context: text, sdFeatures: taps),
                              target: Tensor(shape: [1, 1, height, width], scalars: mask.map { $0 ? 1 : 0 }))
        }
        let gradients = try tape.gradient(of: loss, withRespectTo: original.tensors)
        let result = try step(latent: latent, text: text, taps: taps, mask: mask, maskWidth: width, maskHeight: height)

        #expect(result.loss == loss.buffer[0])
        let trainable = Set(step.parameters.trainableKeys)
        #expect(trainable.count == 78)
        var moved = 0
        for key in original.keys {
            let before = try #require(original[key]).scalars, after = try #require(step.parameters[key]).scalars
            if trainable.contains(key) {
                let gradient = try #require(gradients[key]).scalars
                #expect(zip(zip(before, gradient), after).allSatisfy { $0.0 - $0.1 == $1 }, "\(key): not minus its gradient")
                if before != after { moved += 1 }
            } else {
                #expect(before == after, "\(key) is frozen but moved")
            }
        }
        // A gradient below half an ulp of its weight moves nothing (some norm_sd weights here).
        #expect(moved > trainable.count / 2, "only \(moved) of \(trainable.count) trainable tensors moved")
    }

    @Test func aMaskOfAnotherSizeIsRefused() throws {
        let step = try ZNetTrainingStep(weights: ZNetTrainerTests.ldznet.path, fusion: CrossAttentionFusion.name,
                                        train: ZNetTrainableSet.fusion.patterns, recomputingBlocks: false,
                                        hyperparameters: TrainingHyperparameters(), totalSteps: 1)
        #expect { try step(latent: Self.random([1, 4, 16, 16], seed: 1), text: Self.random([77, 24], seed: 2), taps: [:],
                           mask: [true, false, true], maskWidth: 2, maskHeight: 2) } throws: {
            "\($0)" == "the mask has 3 values, not 2 x 2"
        }
    }

    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = TorchGenerator(seed: seed)
        return generator.randn(shape)
    }
}
