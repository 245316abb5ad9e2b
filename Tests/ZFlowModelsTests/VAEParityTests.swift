import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

@Suite struct VAEParityTests {
    func check(_ encoder: VAEEncoder, layout: String) throws {
        let io = try SDTiny.io()
        let posterior = try encoder(io.tensor("image"))
        expectClose(posterior.mean, try io.tensor("vae_mean"), name: "\(layout) VAE mean")
        expectClose(posterior.logvar, try io.tensor("vae_logvar"), name: "\(layout) VAE logvar")
        let scale = try #require(io.metadata["scale_factor"].flatMap(Float.init))
        #expect(scale == VAEEncoder.sdV1ScaleFactor)
        expectClose(try posterior.latent(.mean, scaleFactor: scale), try io.tensor("vae_latent_mean"),
                    name: "\(layout) latent (mean)")
        expectClose(try posterior.latent(.sample(noise: io.tensor("vae_noise")), scaleFactor: scale),
                    try io.tensor("vae_latent_sample"), name: "\(layout) latent (sample)")
    }

    @Test func diffusersFp16VariantMatchesDiffusers() throws {
        let (weights, config) = try StableDiffusionWeights(url: SDTiny.diffusers).vae()
        try check(VAEEncoder(weights: weights, config: config), layout: "diffusers fp16")
    }

    @Test func diffusersShardedFp16VariantMatchesDiffusers() throws {
        let (weights, config) = try StableDiffusionWeights(url: SDTiny.diffusersSharded).vae()
        #expect(weights.source is ShardedTensorSource)
        try check(VAEEncoder(weights: weights, config: config), layout: "diffusers sharded fp16")
    }

    @Test func compVisSafeTensorsMatchesDiffusers() throws {
        let sd = try StableDiffusionWeights(url: SDTiny.compVisSafeTensors, vaeConfig: SDTiny.vaeConfig())
        let (weights, config) = try sd.vae()
        try check(VAEEncoder(weights: weights, config: config), layout: "CompVis safetensors")
    }

    @Test func compVisCheckpointMatchesDiffusers() throws {
        let sd = try StableDiffusionWeights(url: SDTiny.compVisCheckpoint, vaeConfig: SDTiny.vaeConfig())
        let (weights, config) = try sd.vae()
        try check(VAEEncoder(weights: weights, config: config), layout: "CompVis ckpt")
    }

    @Test func sampleNoiseMustMatchTheLatentShape() throws {
        let (weights, config) = try StableDiffusionWeights(url: SDTiny.diffusers).vae()
        let posterior = try VAEEncoder(weights: weights, config: config)(SDTiny.io().tensor("image"))
        #expect(throws: ShapeError.self) {
            try posterior.latent(.sample(noise: Tensor(zeros: [1, 4, 2, 2])), scaleFactor: 1)
        }
    }
}
