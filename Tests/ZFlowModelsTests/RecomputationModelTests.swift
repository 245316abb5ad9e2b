import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// Recomputation per ResBlock and spatial transformer (`GradientTape(recomputingBlocks: true)`,
/// docs/training.md "Recomputation") on the bundled tiny models: every parameter's gradient is bit
/// for bit the kept tape's, and the tape keeps fewer activations.
@Suite struct RecomputationModelTests {
    /// The loss and gradients of `loss` on a tape that keeps or recomputes blocks, and the bytes it kept.
    static func gradients(of parameters: [String: Tensor], recomputing: Bool, _ loss: () throws -> Tensor) throws
        -> (loss: Tensor, gradients: [String: Tensor], keptBytes: Int) {
        let tape = recomputing ? GradientTape(recomputingBlocks: true) : GradientTape()
        let value = try tape.record(loss)
        let kept = tape.keptBytes
        return (value, try tape.gradient(of: value, withRespectTo: parameters), kept)
    }

    static func expectBitForBit(_ parameters: [String: Tensor], label: String, _ loss: () throws -> Tensor) throws {
        let kept = try gradients(of: parameters, recomputing: false, loss)
        let recomputed = try gradients(of: parameters, recomputing: true, loss)
        #expect(bitwiseEqual(kept.loss, recomputed.loss), "\(label): loss")
        #expect(kept.gradients.keys.sorted() == recomputed.gradients.keys.sorted(), "\(label): other parameters")
        let differing = kept.gradients.keys.sorted().filter { key in
            !(recomputed.gradients[key].map { bitwiseEqual(kept.gradients[key]!, $0) } ?? false)
        }
        #expect(differing.isEmpty, "\(label): \(differing.count) gradients differ: \(differing.prefix(5))")
        #expect(recomputed.keptBytes < kept.keptBytes)
        print("\(label): \(kept.gradients.count) gradients bit for bit; tape kept \(recomputed.keptBytes) bytes "
              + "recomputing, \(kept.keptBytes) keeping")
    }

    @Test(arguments: ["cross_attention", "concat", "none"])
    func ldzNet(fusion: String) throws {
        let model = try ModelGradientTests.znet(fusion)
        let sample = try BatchModelTests.ldzNetSamples()[0]  // the gradient fixture's inputs
        try Self.expectBitForBit(model.parameters, label: "ldznet \(fusion)") {
            try bceWithLogits(model(sample.latent, context: sample.context, sdFeatures: sample.taps), target: sample.mask)
        }
    }

    @Test func sdUNetAndVAEEncoder() throws {
        let unet = try BatchModelTests.tinyUNet()
        let unetFixture = try ModelGradientFixture("sd_unet")
        let (latent, context, target) = (try unetFixture.input("z_t"), try unetFixture.input("context"), try unetFixture.input("target"))
        try Self.expectBitForBit(unet.parameters, label: "sd unet") {
            try mse(#require(unet(latent, timestep: 400, context: context).eps), target)
        }
        let encoder = try BatchModelTests.tinyVAEEncoder()
        let vaeFixture = try ModelGradientFixture("vae_encoder")
        let (image, latentTarget) = (try vaeFixture.input("image"), try vaeFixture.input("target"))
        try Self.expectBitForBit(encoder.parameters, label: "vae encoder") { try mse(encoder(image).mean, latentTarget) }
    }

    /// The figure in docs/training.md: the tiny LD-ZNet (cross_attention) at a 384x384 image
    /// (latent 48x48), the SD taps from the tiny SD UNet: the bytes the tape keeps for backward.
    @Test func activationMemoryAtALargeInput() throws {
        let unet = try BatchModelTests.tinyUNet()
        let (z, context) = (seededRandom([1, 4, 48, 48], seed: 7), seededRandom([77, 24], seed: 8))
        let taps = try unet(z, timestep: 400, context: context, taps: Set(ldzNetTaps), wantEps: false).taps
        let mask = Tensor(shape: [1, 1, 384, 384], scalars: seededRandom([1, 1, 384, 384], seed: 9).scalars.map { $0 > 0 ? 1 : 0 })
        let model = try ModelGradientTests.znet("cross_attention")
        func loss() throws -> Tensor { try bceWithLogits(model(z, context: context, sdFeatures: taps), target: mask) }
        let kept = try Self.gradients(of: model.parameters, recomputing: false, loss)
        let recomputed = try Self.gradients(of: model.parameters, recomputing: true, loss)
        for (key, gradient) in kept.gradients { #expect(bitwiseEqual(gradient, try #require(recomputed.gradients[key])), "\(key)") }
        print(String(format: "tiny LD-ZNet at 384x384: the tape keeps %.1f MB, %.1f MB recomputing blocks (%.2fx)",
                     Double(kept.keptBytes) / 1e6, Double(recomputed.keptBytes) / 1e6,
                     Double(recomputed.keptBytes) / Double(kept.keptBytes)))
        #expect(recomputed.keptBytes * 2 < kept.keptBytes)
    }
}
