import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport
import ZFlowTrain

/// What ZFlowTrain writes, LD-ZNet loads: one AdamW step on the bundled tiny LD-ZNet (gradients
/// from a `GradientTape` over the model), `TrainingCheckpoint.write`, then `LDZNetCheckpoint`
/// reads both copies (its `optimizer.*` keys ignored) and gives the same logits as the models
/// in memory, from a safetensors file and from a `.ckpt`.
@Suite struct LDZNetCheckpointRoundTripTests {
    static let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny")

    @Test(arguments: ["safetensors", "ckpt"])
    func trainingCheckpointLoadsAsZNetWithTheSameLogits(format: String) throws {
        let original = Self.tiny.appendingPathComponent("ldznet-tiny.safetensors")
        let sidecar = Self.tiny.appendingPathComponent("ldznet-tiny.json")
        let parameters = try TrainableParameters(TensorTree(source: openTensorSource(original), prefix: "model."))
        let config = try LDZNetCheckpoint(url: original).loadZNet(fusion: "cross_attention").znet.unet.config
        // A ZNet that computes with the trainable tensors themselves (updated in place by the optimizer).
        let model = try LDZNetCheckpoint(source: parameters.tree, copy: .training)
            .loadZNet(config: config, fusion: "cross_attention").znet
        var generator = SeededGenerator(seed: 7)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &generator) } }
        let z = Tensor(shape: [1, 4, 8, 8], scalars: values(256))
        let context = Tensor(shape: [77, 24], scalars: values(77 * 24))
        let mask = Tensor(shape: [1, 1, 64, 64], scalars: values(4096).map { $0 > 0 ? 1 : 0 })
        // An 8x8 latent: the mid block (tap 7) runs at 1x1, the other positions at 2x2.
        let taps = try Dictionary(uniqueKeysWithValues: fusionPositions(config).map { position in
            let side = position.tap == 7 ? 1 : 2
            return (position.tap, Tensor(shape: [1, position.channels, side, side],
                                         scalars: values(position.channels * side * side)))
        })

        var optimizer = try Adam.adamW(learningRate: 1e-3)
        var ema = try ExponentialMovingAverage(of: parameters)
        let tape = GradientTape()
        let loss = try tape.record { try bceWithLogits(model(z, context: context, sdFeatures: taps), target: mask) }
        let gradients = try tape.gradient(of: loss, withRespectTo: parameters.tree.tensors)
        #expect(gradients.count == parameters.keys.count, "every parameter has a gradient")
        let before = try model(z, context: context, sdFeatures: taps).copied()
        try optimizer.step(parameters, gradients: TensorTree(gradients))
        try ema.update(from: parameters)
        let trained = try model(z, context: context, sdFeatures: taps)
        #expect(maxAbsDifference(before, trained) > 0, "the step changed the model in memory")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-roundtrip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = folder.appendingPathComponent("run.\(format)")
        try TrainingCheckpoint.write(parameters, optimizer: optimizer, ema: ema, to: written)
        try FileManager.default.copyItem(at: sidecar, to: folder.appendingPathComponent("run.json"))
        #expect(try openTensorSource(written).keys.contains { $0.hasPrefix("optimizer.") })

        let trainingCopy = try LDZNetCheckpoint(url: written, copy: .training).loadZNet(fusion: "cross_attention")
        // Bitwise: the same values through the same kernels. (This caught the optimizers writing
        // parameters without forgetting their Winograd transforms: the model in memory ran on stale weights.)
        #expect(maxAbsDifference(try trainingCopy.znet(z, context: context, sdFeatures: taps), trained) == 0)

        let emaCopy = try LDZNetCheckpoint(url: written).loadZNet(fusion: "cross_attention")
        #expect(emaCopy.warnings.isEmpty, "\(emaCopy.warnings)")
        let averaged = parameters.tree.tensors.merging(ema.shadow.tensors) { _, shadow in shadow }
        let emaModel = try LDZNetCheckpoint(source: TensorTree(averaged), copy: .training)
            .loadZNet(config: config, fusion: "cross_attention").znet
        let emaLogits = try emaCopy.znet(z, context: context, sdFeatures: taps)
        #expect(maxAbsDifference(emaLogits, try emaModel(z, context: context, sdFeatures: taps)) == 0)
        #expect(maxAbsDifference(emaLogits, trained) > 0, "the EMA copy differs from the training copy")
    }
}

func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.buffer, b.buffer).map { abs($0 - $1) }.max() ?? 0
}
