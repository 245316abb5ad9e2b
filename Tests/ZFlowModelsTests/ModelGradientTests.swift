import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

/// Whole-model gradients: the bundled tiny models run on a `GradientTape`, every parameter's
/// gradient against PyTorch autograd (Float64) within 1e-4 of max |ref| per tensor
/// (Fixtures/grads/, tools/fixtures/model_grads.py; docs/parity.md "Gradients (whole models)").
@Suite struct ModelGradientTests {
    static func tinyFile(_ name: String) -> URL { LDZNetFixtures.tinyModels.appendingPathComponent(name) }

    /// The training copy, whose keys are the checkpoint keys the fixture uses.
    static func znet(_ fusion: String) throws -> ZNet {
        let file = fusion == ConcatFusion.name ? "ldznet-concat-tiny.safetensors" : "ldznet-tiny.safetensors"
        return try LDZNetCheckpoint(url: tinyFile(file), copy: .training).loadZNet(fusion: fusion).znet
    }

    @Test(arguments: ["cross_attention", "concat", "none"])
    func ldzNetBCE(fusion: String) throws {
        try Self.expectLDZNetGradients(fixture: "ldznet_\(fusion)", fusion: fusion, label: "ldznet \(fusion)")
    }

    /// The same BCE gradients from the official `ldznet_UNet.UNetModel` instead of our port
    /// (tools/fixtures/official_ldznet.py; docs/parity.md "Against the official LD-ZNet code").
    @Test func ldzNetBCEAgainstOfficialModule() throws {
        try Self.expectLDZNetGradients(fixture: "official_ldznet_cross_attention", fusion: "cross_attention",
                                       label: "ldznet cross_attention (official module)")
    }

    static func expectLDZNetGradients(fixture name: String, fusion: String, label: String) throws {
        let fixture = try ModelGradientFixture(name)
        let model = try znet(fusion)
        let taps = try Dictionary(uniqueKeysWithValues: ldzNetTaps.map { ($0, try fixture.input("tap\($0)")) })
        let (z, context, mask) = (try fixture.input("z"), try fixture.input("context"), try fixture.input("mask"))
        try fixture.expectGradients(of: model.parameters, label: label) {
            try bceWithLogits(model(z, context: context, sdFeatures: taps), target: mask)
        }
    }

    @Test func sdUNetEpsMSE() throws {
        let fixture = try ModelGradientFixture("sd_unet")
        let sd = try StableDiffusionWeights(url: Self.tinyFile("sd-v1-tiny.safetensors"))
        let (weights, config) = try sd.unet()
        let unet = try UNet2DConditionModel(weights: weights, config: config)
        let (latent, context, target) = (try fixture.input("z_t"), try fixture.input("context"), try fixture.input("target"))
        try fixture.expectGradients(of: unet.parameters, label: "sd unet") {
            try mse(#require(unet(latent, timestep: 400, context: context).eps), target)
        }
    }

    @Test func vaeEncoderLatentMSE() throws {
        let fixture = try ModelGradientFixture("vae_encoder")
        let sd = try StableDiffusionWeights(url: Self.tinyFile("sd-v1-tiny.safetensors"))
        let (weights, config) = try sd.vae()
        let encoder = try VAEEncoder(weights: weights, config: config)
        let (image, target) = (try fixture.input("image"), try fixture.input("target"))
        try fixture.expectGradients(of: encoder.parameters, label: "vae encoder") { try mse(encoder(image).mean, target) }
    }
}
