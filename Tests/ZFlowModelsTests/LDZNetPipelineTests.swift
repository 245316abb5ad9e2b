import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// The whole LD-ZNet pipeline (chelsea.png, "a cat", t 400, seed 0) against the PyTorch
/// outputs of tools/ldznet_pipeline.py. Each stage runs on the previous stage's Swift output,
/// so the last comparison is end to end.
///
/// - tiny: models/tiny + `pipeline_tiny.safetensors` (always runs);
/// - full size, by hand: `ZFLOW_LDZNET_FULL=DIR swift test --filter LDZNetPipelineTests` with DIR
///   written by `tools/ldznet_pipeline.py --out DIR` (SD v1.4 shapes, random weights, 384^2).
@Suite struct LDZNetPipelineTests {
    @Test func tinyPipelineMatchesPyTorch() throws {
        let models = LDZNetFixtures.tinyModels
        let configs = try TinyConfigs(models.appendingPathComponent("sd-v1-tiny.json"))
        try PipelineCheck(expected: LDZNetFixtures.pipeline(),
                          sdFile: models.appendingPathComponent("sd-v1-tiny.safetensors"),
                          ldznetFile: models.appendingPathComponent("ldznet-tiny.ckpt"),
                          unetConfig: configs.unet, vaeConfig: configs.vae, clipConfig: configs.clip,
                          poolGridSizes: [6: 12, 7: 6, 8: 12, 9: 12, 10: 12]).run()
        // The same tensors as safetensors give the same logits (checked by the run above for the ckpt).
        try PipelineCheck.expectSameZNet(models.appendingPathComponent("ldznet-tiny.ckpt"),
                                         models.appendingPathComponent("ldznet-tiny.safetensors"),
                                         config: configs.znet)
    }

    static let fullSizeFolder = ProcessInfo.processInfo.environment["ZFLOW_LDZNET_FULL"].map(URL.init(fileURLWithPath:))

    @Test(.enabled(if: fullSizeFolder != nil, "set ZFLOW_LDZNET_FULL to a tools/ldznet_pipeline.py --out folder"))
    func fullSizePipelineMatchesPyTorch() throws {
        let folder = try #require(Self.fullSizeFolder)
        try PipelineCheck(expected: SafeTensorsFile(contentsOf: folder.appendingPathComponent("reference.safetensors")),
                          sdFile: folder.appendingPathComponent("sd-v1-random.safetensors"),
                          ldznetFile: folder.appendingPathComponent("ldznet-random.ckpt"),
                          unetConfig: .sdV1, vaeConfig: .sdV1, clipConfig: .vitL14,
                          poolGridSizes: [6: 12, 7: 6, 8: 12, 9: 12, 10: 12], checksZeroShot: false).run()
    }
}

/// The architectures in `models/tiny/sd-v1-tiny.json`.
struct TinyConfigs {
    let unet: UNetConfig
    let vae: VAEConfig
    let clip: CLIPTextConfig
    var znet: UNetConfig {
        var config = unet
        config.outChannels = 1
        return config
    }

    init(_ url: URL) throws {
        let all = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        func part<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
            try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: try #require(all[name])))
        }
        unet = try part(UNetConfig.self, "unet")
        vae = try part(VAEConfig.self, "vae")
        clip = try part(CLIPTextConfig.self, "text_encoder")
    }
}

struct PipelineCheck {
    let expected: SafeTensorsFile
    let sdFile: URL
    let ldznetFile: URL
    let unetConfig: UNetConfig
    let vaeConfig: VAEConfig
    let clipConfig: CLIPTextConfig
    let poolGridSizes: [Int: Int]
    /// Also checks eps for "" and `NoiseDifference` (three more SD UNet calls; the full-size run skips them).
    var checksZeroShot = true

    func tensor(_ key: String) throws -> Tensor { try expected.tensor(key) }

    func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        print("TIMING \(stage): \(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) s")
        return value
    }

    func run() throws {
        let metadata = try #require(expected.metadata["pipeline"]?.data(using: .utf8))
        let facts = try #require(try JSONSerialization.jsonObject(with: metadata) as? [String: String])
        let timestep = try #require(facts["timestep"].flatMap(Int.init))
        let seed = try #require(facts["seed"].flatMap(UInt64.init))
        let sd = try StableDiffusionWeights(url: sdFile, unetConfig: unetConfig, vaeConfig: vaeConfig)

        // VAE encode (mean) of the image as PyTorch saw it: uint8 / 255 * 2 - 1.
        let pixels = try tensor("image_pixels")
        let image = Tensor(shape: pixels.shape, scalars: pixels.scalars.map { $0 / 255 * 2 - 1 })
        let (vaeWeights, vaeConfig) = try sd.vae()
        let vae = try VAEEncoder(weights: vaeWeights, config: vaeConfig)
        let posterior = try timed("vae_encode") { try vae(image) }
        let (height, width) = (posterior.mean.shape[2], posterior.mean.shape[3])
        let moments = try tensor("vae_moments")
        expectParity(posterior.mean, try moments.reshaped([8, height * width]).slice(0..<4).reshaped([1, 4, height, width]),
                     name: "pipeline VAE mean", relative: 1e-5)
        let z = try posterior.latent(.mean, scaleFactor: VAEEncoder.sdV1ScaleFactor)
        expectParity(z, try tensor("z"), name: "pipeline z", relative: 1e-5)

        // CLIP text, with the template and for "".
        let tokenizer = try CLIPTokenizer.bundled()
        let ids = tokenizer.tokenize(try #require(facts["text"])).ids
        #expect(ids.map(Float.init) == (try tensor("token_ids")).scalars)
        let emptyIDs = tokenizer.tokenize("").ids
        #expect(emptyIDs.map(Float.init) == (try tensor("empty_token_ids")).scalars)
        let clip = try CLIPTextEncoder(config: clipConfig, weights: sd.textEncoder().weights.source)
        let context = try timed("clip_text") { try clip(ids).lastHiddenState }
        let emptyContext = try clip(emptyIDs).lastHiddenState
        expectParity(context, try tensor("context"), name: "pipeline context", relative: 1e-5)
        expectParity(emptyContext, try tensor("empty_context"), name: "pipeline empty context", relative: 1e-5)

        // Noise (torch.Generator().manual_seed(seed)) and forward noising.
        var generator = TorchGenerator(seed: seed)
        let noise = generator.randn(z.shape)
        #expect(noise.scalars == (try tensor("noise")).scalars)
        let zt = try NoiseSchedule.stableDiffusion.addNoise(z, noise: noise, timestep: timestep)
        expectParity(zt, try tensor("z_t"), name: "pipeline z_t", relative: 1e-5)

        // SD UNet taps and eps (as PyTorch runs it: the whole UNet); the zero-shot map.
        let (unetWeights, unetConfig) = try sd.unet()
        let unet = try UNet2DConditionModel(weights: unetWeights, config: unetConfig)
        let sdOutput = try timed("sd_unet") {
            try unet(zt, timestep: Float(timestep), context: context, taps: Set(ldzNetTaps))
        }
        expectParity(try #require(sdOutput.eps), try tensor("sd_eps"), name: "pipeline SD eps", relative: 2e-5)
        for tap in ldzNetTaps {
            expectParity(try #require(sdOutput.taps[tap]), try tensor("sd_tap\(tap)"), name: "pipeline SD tap \(tap)",
                         relative: 2e-5)
        }
        if checksZeroShot {
            let emptyEps = try #require(try unet(zt, timestep: Float(timestep), context: emptyContext).eps)
            expectParity(emptyEps, try tensor("sd_eps_empty"), name: "pipeline SD eps (empty text)", relative: 2e-5)
            let map = try NoiseDifference(unet: unet).latentMap(latent: z, context: context, emptyContext: emptyContext,
                                                               timesteps: [timestep], seeds: [seed])
            expectParity(map, try tensor("noise_difference"), name: "pipeline noise difference", relative: 5e-5)
        }

        // Pools and ZNet logits from the EMA copy of the LD-ZNet checkpoint.
        var znetConfig = unetConfig
        znetConfig.outChannels = 1
        let checkpoint = try LDZNetCheckpoint(url: ldznetFile)
        #expect(checkpoint.copy == .ema)
        #expect(try checkpoint.poolGridSizes(config: znetConfig) == poolGridSizes)
        let znet = try timed("load_znet") { try checkpoint.loadZNet(config: znetConfig, fusion: "cross_attention").znet }
        for tap in ldzNetTaps {
            // The pool alone (on PyTorch's tap), then chained (on ours): attention over sharp random
            // scores amplifies the taps' ~4e-6 relative error about fivefold at full size.
            let fusion = try #require(znet.fusions[tap] as? CrossAttentionFusion)
            expectParity(try fusion.pool(tensor("sd_tap\(tap)")).slice(0), try tensor("pool\(tap)"),
                         name: "pipeline pool \(tap) (PyTorch tap)", relative: 1e-5)
            expectParity(try fusion.pool(#require(sdOutput.taps[tap])).slice(0), try tensor("pool\(tap)"),
                         name: "pipeline pool \(tap) (chained)", relative: 5e-5)
        }
        let logits = try timed("znet") { try znet(z, context: context, sdFeatures: sdOutput.taps) }
        let referenceLogits = try tensor("logits")
        expectParity(logits, referenceLogits, name: "pipeline logits", relative: 5e-5)
        // The mask (sigmoid > 0.5, i.e. logits > 0) agrees wherever the reference is not within
        // rounding of the threshold.
        let decided = zip(logits.buffer, referenceLogits.buffer).filter { abs($0.1) > 1e-3 }
        let disagreeing = decided.filter { ($0.0 > 0) != ($0.1 > 0) }.count
        print("PARITY pipeline mask (logits > 0): \(disagreeing) of \(decided.count) decided pixels disagree")
        #expect(disagreeing == 0 && decided.count > logits.count * 99 / 100)
    }

    /// Two files holding the same LD-ZNet tensors load to the same model.
    static func expectSameZNet(_ first: URL, _ second: URL, config: UNetConfig) throws {
        let a = try LDZNetCheckpoint(url: first).loadZNet(config: config, fusion: "cross_attention").znet
        let b = try LDZNetCheckpoint(url: second).loadZNet(config: config, fusion: "cross_attention").znet
        for tap in ldzNetTaps {
            let poolA = try #require(a.fusions[tap] as? CrossAttentionFusion).pool
            let poolB = try #require(b.fusions[tap] as? CrossAttentionFusion).pool
            #expect(poolA.positionalEmbedding.scalars == poolB.positionalEmbedding.scalars)
        }
        let latent = Tensor(shape: [1, 4, 8, 8], scalars: (0..<256).map { Float($0 % 17) / 17 - 0.5 })
        let context = Tensor(shape: [77, config.crossAttentionDim],
                             scalars: (0..<77 * config.crossAttentionDim).map { Float($0 % 13) / 13 - 0.5 })
        let features = try Dictionary(uniqueKeysWithValues: fusionPositions(config).map { position in
            let size = position.tap == 7 ? 1 : 2
            return (position.tap, Tensor(shape: [1, position.channels, size, size],
                                         scalars: (0..<position.channels * size * size).map { Float($0 % 7) / 7 }))
        })
        // Not bit-compared: concurrent tests change OpenBLAS's thread count, and with it the
        // summation order.
        let logitsA = try a(latent, context: context, sdFeatures: features)
        expectParity(try b(latent, context: context, sdFeatures: features), logitsA,
                     name: "ckpt vs safetensors logits", relative: 1e-6)
    }
}
