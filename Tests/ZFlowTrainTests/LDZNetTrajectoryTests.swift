import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// 5 AdamW steps with the reference's EMA on the bundled tiny LD-ZNet (cross_attention), the
/// same sample each step, fusion blocks + pools + head trainable, against torch.optim.AdamW and
/// LitEma's rule in PyTorch (Tests/ZFlowModelsTests/Fixtures/grads/, tools/fixtures/model_grads.py):
/// every trainable parameter and its EMA within 1e-5 of max |ref| per tensor.
@Suite struct LDZNetTrajectoryTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/ZFlowModelsTests/Fixtures/grads")

    @Test func adamWWithEMAFollowsPyTorch() throws {
        let reference = try SafeTensorsFile(contentsOf: Self.fixtures.appendingPathComponent("ldznet_adamw_trajectory.safetensors"))
        let inputs = try SafeTensorsFile(contentsOf: Self.fixtures.appendingPathComponent("ldznet_cross_attention.safetensors"))
        let original = Self.root.appendingPathComponent("models/tiny/ldznet-tiny.safetensors")
        let config = try LDZNetCheckpoint(url: original).loadZNet(fusion: "cross_attention").znet.unet.config
        let parameters = try TrainableParameters(TensorTree(source: openTensorSource(original), prefix: "model."),
                                                 frozen: ["model.diffusion_model.**"])
        try parameters.unfreeze(["**.attn3.**", "**.norm_sd.**", "**.attentionpool2D.**", "model.diffusion_model.final.**"])
        let expectedKeys = reference.keys.filter { $0.hasPrefix("param/") }.map { String($0.dropFirst(6)) }
        #expect(parameters.trainableKeys == expectedKeys.sorted())
        let model = try LDZNetCheckpoint(source: parameters.tree, copy: .training)
            .loadZNet(config: config, fusion: "cross_attention").znet
        let taps = try Dictionary(uniqueKeysWithValues: ldzNetTaps.map { ($0, try inputs.tensor("input/tap\($0)")) })
        let (z, context, mask) = (try inputs.tensor("input/z"), try inputs.tensor("input/context"), try inputs.tensor("input/mask"))
        let wanted = parameters.tree.tensors.filter { parameters.isTrainable($0.key) }

        var optimizer = try Adam.adamW(learningRate: 1e-3, weightDecay: 0.01)
        var ema = try ExponentialMovingAverage(of: parameters, decay: 0.9999)
        let losses = try reference.tensor("losses").buffer
        for step in 0..<5 {
            let tape = GradientTape()
            let loss = try tape.record { try bceWithLogits(model(z, context: context, sdFeatures: taps), target: mask) }
            #expect(abs(loss.buffer[0] - losses[step]) <= 1e-5 * losses[step], "step \(step): loss \(loss.buffer[0]) vs \(losses[step])")
            try optimizer.step(parameters, gradients: TensorTree(tape.gradient(of: loss, withRespectTo: wanted)))
            try ema.update(from: parameters)
        }
        var worst: (parameter: Float, ema: Float) = (0, 0)
        for key in expectedKeys {
            let parameter = relativeError(try #require(parameters[key]), try reference.tensor("param/\(key)"))
            let average = relativeError(try #require(ema.shadow[key]), try reference.tensor("ema/\(key)"))
            #expect(parameter <= 1e-5, "\(key): parameter \(parameter) of max |ref|")
            #expect(average <= 1e-5, "\(key): EMA \(average) of max |ref|")
            worst = (max(worst.parameter, parameter), max(worst.ema, average))
        }
        print("trajectory: \(expectedKeys.count) tensors, worst parameter \(worst.parameter), EMA \(worst.ema) of max |ref|")
    }
}

/// max |a - b| / max |b| (shapes compared by count; NaN fails).
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.count == b.count else { return .infinity }
    var error: Float = 0, peak: Float = 0
    for (x, y) in zip(a.buffer, b.buffer) {
        let difference = abs(x - y)
        error = difference.isNaN ? .infinity : max(error, difference)
        peak = max(peak, abs(y))
    }
    return peak > 0 ? error / peak : error
}
