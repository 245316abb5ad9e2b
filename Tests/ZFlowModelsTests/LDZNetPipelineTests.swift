import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// The whole tiny LD-ZNet pipeline (models/tiny, chelsea.png, "a cat", t 400, seed 0) against
/// `pipeline_tiny.safetensors` from tools/make_tiny_models.py. Each stage runs on the previous
/// stage's Swift output, so the last comparison is end to end.
@Suite struct LDZNetPipelineTests {
    let expected: SafeTensorsFile
    let models = LDZNetFixtures.tinyModels

    init() throws { expected = try LDZNetFixtures.pipeline() }

    /// One architecture object of `models/tiny/sd-v1-tiny.json`.
    func config<T: Decodable>(_ type: T.Type, _ part: String) throws -> T {
        let data = try Data(contentsOf: models.appendingPathComponent("sd-v1-tiny.json"))
        let all = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: try #require(all[part])))
    }

    func tensor(_ key: String) throws -> Tensor { try expected.tensor(key) }

    @Test func wholePipelineMatchesPyTorch() throws {
        let metadata = try #require(expected.metadata["pipeline"]?.data(using: .utf8))
        let facts = try #require(try JSONSerialization.jsonObject(with: metadata) as? [String: String])
        let timestep = try #require(facts["timestep"].flatMap(Int.init))
        let seed = try #require(facts["seed"].flatMap(UInt64.init))

        let sd = try StableDiffusionWeights(url: models.appendingPathComponent("sd-v1-tiny.safetensors"),
                                            unetConfig: config(UNetConfig.self, "unet"),
                                            vaeConfig: config(VAEConfig.self, "vae"))
        // VAE encode (mean), as PyTorch saw the image: uint8 / 255 * 2 - 1.
        let pixels = try tensor("image_pixels")
        let image = Tensor(shape: pixels.shape, scalars: pixels.scalars.map { $0 / 255 * 2 - 1 })
        let (vaeWeights, vaeConfig) = try sd.vae()
        let posterior = try VAEEncoder(weights: vaeWeights, config: vaeConfig)(image)
        let moments = try tensor("vae_moments")
        expectParity(posterior.mean, try moments.reshaped([8, 32 * 56]).slice(0..<4).reshaped([1, 4, 32, 56]),
                     name: "pipeline VAE mean", relative: 1e-5)
        let z = try posterior.latent(.mean, scaleFactor: VAEEncoder.sdV1ScaleFactor)
        expectParity(z, try tensor("z"), name: "pipeline z", relative: 1e-5)

        // CLIP text, with the template and for "".
        let tokenizer = try CLIPTokenizer.bundled()
        let ids = tokenizer.tokenize(try #require(facts["text"])).ids
        #expect(ids.map(Float.init) == (try tensor("token_ids")).scalars)
        let emptyIDs = tokenizer.tokenize("").ids
        #expect(emptyIDs.map(Float.init) == (try tensor("empty_token_ids")).scalars)
        let clip = try CLIPTextEncoder(config: config(CLIPTextConfig.self, "text_encoder"), weights: sd.textEncoder().weights.source)
        let context = try clip(ids).lastHiddenState
        let emptyContext = try clip(emptyIDs).lastHiddenState
        expectParity(context, try tensor("context"), name: "pipeline context", relative: 1e-5)
        expectParity(emptyContext, try tensor("empty_context"), name: "pipeline empty context", relative: 1e-5)

        // Noise (torch.Generator().manual_seed(seed)) and forward noising.
        var generator = TorchGenerator(seed: seed)
        let noise = generator.randn(z.shape)
        #expect(noise.scalars == (try tensor("noise")).scalars)
        let zt = try NoiseSchedule.stableDiffusion.addNoise(z, noise: noise, timestep: timestep)
        expectParity(zt, try tensor("z_t"), name: "pipeline z_t", relative: 1e-5)

        // SD UNet taps and eps; the zero-shot map.
        let (unetWeights, unetConfig) = try sd.unet()
        let unet = try UNet2DConditionModel(weights: unetWeights, config: unetConfig)
        let sdOutput = try unet(zt, timestep: Float(timestep), context: context, taps: Set(ldzNetTaps))
        expectParity(try #require(sdOutput.eps), try tensor("sd_eps"), name: "pipeline SD eps", relative: 2e-5)
        for tap in ldzNetTaps {
            expectParity(try #require(sdOutput.taps[tap]), try tensor("sd_tap\(tap)"), name: "pipeline SD tap \(tap)",
                         relative: 2e-5)
        }
        let zeroShot = NoiseDifference(unet: unet)
        let map = try zeroShot.latentMap(latent: z, context: context, emptyContext: emptyContext,
                                         timesteps: [timestep], seeds: [seed])
        expectParity(map, try tensor("noise_difference"), name: "pipeline noise difference", relative: 5e-5)

        // Pools and ZNet logits from the EMA copy of the LD-ZNet checkpoint.
        var znetConfig = unetConfig
        znetConfig.outChannels = 1
        let checkpoint = try LDZNetCheckpoint(url: models.appendingPathComponent("ldznet-tiny.ckpt"))
        #expect(try checkpoint.poolGridSizes(config: znetConfig) == [6: 12, 7: 6, 8: 12, 9: 12, 10: 12])
        let znet = try checkpoint.loadZNet(config: znetConfig, fusion: "cross_attention").znet
        for tap in ldzNetTaps {
            let fusion = try #require(znet.fusions[tap] as? CrossAttentionFusion)
            expectParity(try fusion.pool(#require(sdOutput.taps[tap])), try tensor("pool\(tap)"),
                         name: "pipeline pool \(tap)", relative: 2e-5)
        }
        let logits = try znet(z, context: context, sdFeatures: sdOutput.taps)
        expectParity(logits, try tensor("logits"), name: "pipeline logits", relative: 5e-5)
        let referenceLogits = try tensor("logits")
        // The mask (sigmoid > 0.5, i.e. logits > 0) agrees wherever the reference is not within
        // rounding of the threshold.
        let decided = zip(logits.buffer, referenceLogits.buffer).filter { abs($0.1) > 1e-3 }
        let disagreeing = decided.filter { ($0.0 > 0) != ($0.1 > 0) }.count
        print("PARITY pipeline mask (logits > 0): \(disagreeing) of \(decided.count) decided pixels disagree")
        #expect(disagreeing == 0 && decided.count > logits.count * 99 / 100)

        // The same tensors as safetensors give the same logits.
        let fromSafeTensors = try LDZNetCheckpoint(url: models.appendingPathComponent("ldznet-tiny.safetensors"))
            .loadZNet(config: znetConfig, fusion: "cross_attention").znet
        #expect(try fromSafeTensors(z, context: context, sdFeatures: sdOutput.taps).scalars == logits.scalars)
    }
}
