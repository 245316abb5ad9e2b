import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

/// Architectures read from tensor shapes (issue 10, fault 7): models of sizes other than SD v1
/// load without a sidecar and compute bit for bit what the same files compute with one.
@Suite struct ArchitectureInferenceTests {
    /// `Fixtures/inferred/` (tools/fixtures/inferred_sizes.py): another size in every value the
    /// shapes hold, SD v1 conventions for the rest (32 groups, 8 UNet heads, CLIP heads of 64).
    static var inferred: URL {
        get throws { try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/inferred") }
    }

    /// A scratch folder holding a copy of `file` and, when given, `sidecar` text as its sidecar.
    static func copy(_ file: URL, sidecar: String? = nil) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-infer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let target = folder.appendingPathComponent(file.lastPathComponent)
        try FileManager.default.copyItem(at: file, to: target)
        if let sidecar {
            try sidecar.write(to: target.deletingPathExtension().appendingPathExtension("json"), atomically: true,
                              encoding: .utf8)
        }
        return target
    }

    static func sidecarText(_ file: URL) throws -> String {
        try String(contentsOf: file.deletingPathExtension().appendingPathExtension("json"), encoding: .utf8)
    }

    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        let tensor = Tensor(uninitialized: shape)
        for i in 0..<tensor.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            tensor.mutablePointer[i] = Float(Int64(bitPattern: state >> 11) % 2001) / 1000 - 1
        }
        return tensor
    }

    /// The UNet, VAE encoder and CLIP text model of the SD weights at `url`.
    static func sdModels(_ url: URL) throws -> (unet: UNet2DConditionModel, vae: VAEEncoder, clip: CLIPTextEncoder) {
        let sd = try StableDiffusionWeights(url: url)
        let (unetWeights, unetConfig) = try sd.unet()
        let (vaeWeights, vaeConfig) = try sd.vae()
        return (try UNet2DConditionModel(weights: unetWeights, config: unetConfig),
                try VAEEncoder(weights: vaeWeights, config: vaeConfig), try sd.textEncoderModel())
    }

    /// UNet taps, VAE posterior and CLIP states of the SD file at `url`.
    static func sdOutputs(_ url: URL, tokens: [Int]) throws -> [Tensor] {
        let (unet, vae, clip) = try sdModels(url)
        let context = try clip(tokens).lastHiddenState
        let latent = random([1, unet.config.inChannels, 16, 16], seed: 1)
        let output = try unet(latent, timestep: 400, context: context, taps: Set(ldzNetTaps))
        let posterior = try vae(random([1, vae.config.inChannels, 16, 16], seed: 2))
        return [context, try #require(output.eps), posterior.mean, posterior.logvar]
            + ldzNetTaps.map { output.taps[$0]! }
    }

    static func expectBitIdentical(_ a: [Tensor], _ b: [Tensor]) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { #expect(x.shape == y.shape && Array(x.buffer).elementsEqual(Array(y.buffer)) { $0.bitPattern == $1.bitPattern }) }
    }

    @Test func anSDFileOfAnotherSizeLoadsWithoutItsSidecar() throws {
        let file = try Self.inferred.appendingPathComponent("sd-other.safetensors")
        let bare = try Self.copy(file), withSidecar = try Self.copy(file, sidecar: Self.sidecarText(file))
        defer {
            for url in [bare, withSidecar] { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        }
        let inferred = try StableDiffusionWeights(url: bare), declared = try StableDiffusionWeights(url: withSidecar)
        #expect(inferred.sidecar == nil && declared.sidecar != nil)
        let unet = try inferred.unet().config
        #expect(unet == (try declared.unet().config))
        #expect(unet.blockOutChannels == [32, 32, 32, 32] && unet.crossAttentionDim == 64 && unet.outChannels == 4)
        let vae = try inferred.vae().config
        #expect(vae.blockOutChannels == [32, 64] && vae.layersPerBlock == 1 && vae.latentChannels == 2)
        let clip = try inferred.textEncoderModel().config
        #expect(clip == (try declared.textEncoderModel().config))
        #expect(clip.vocabSize == 300 && clip.hiddenSize == 64 && clip.numHiddenLayers == 3 && clip.numAttentionHeads == 1
                && clip.intermediateSize == 128 && clip.maxPositionEmbeddings == 20)
        let tokens = Array(0..<20).map { $0 * 13 % 300 }
        Self.expectBitIdentical(try Self.sdOutputs(bare, tokens: tokens), try Self.sdOutputs(withSidecar, tokens: tokens))
    }

    @Test func aZNetOfAnotherSizeLoadsWithoutItsSidecar() throws {
        let file = try Self.inferred.appendingPathComponent("ldznet-other.safetensors")
        let bare = try Self.copy(file), withSidecar = try Self.copy(file, sidecar: Self.sidecarText(file))
        let sd = try Self.copy(Self.inferred.appendingPathComponent("sd-other.safetensors"))
        defer {
            for url in [bare, withSidecar, sd] { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        }
        let weights = try StableDiffusionWeights(url: sd)
        let (unetWeights, unetConfig) = try weights.unet()
        let unet = try UNet2DConditionModel(weights: unetWeights, config: unetConfig)
        let context = Self.random([20, 64], seed: 3), latent = Self.random([1, 4, 16, 16], seed: 4)
        let taps = try unet(latent, timestep: 400, context: context, taps: Set(ldzNetTaps), wantEps: false).taps

        var logits: [Tensor] = []
        for url in [bare, withSidecar] {
            let checkpoint = try LDZNetCheckpoint(url: url)
            let (znet, _) = try checkpoint.loadZNet(fusion: "cross_attention")
            #expect(znet.unet.config.blockOutChannels == [32, 32, 32, 32] && znet.unet.config.outChannels == 1)
            #expect(znet.fusions.mapValues { ($0 as? CrossAttentionFusion)?.pool.gridSize }
                    == [6: 2, 7: 4, 8: 4, 9: 3, 10: 4])
            logits.append(try znet(latent, context: context, sdFeatures: taps))
        }
        Self.expectBitIdentical([logits[0]], [logits[1]])
    }

    /// The bundled tiny models use 8 GroupNorm groups (and 4 CLIP heads of 6), which no shape
    /// holds and SD v1's conventions do not fit: without a sidecar the error says which value to
    /// give where; a sidecar giving only those values loads them bit-identically to the full one.
    @Test func theTinyModelsNeedOnlyTheValuesShapesDoNotHold() throws {
        let tiny = LDZNetFixtures.tinyModels
        let sdFile = tiny.appendingPathComponent("sd-v1-tiny.safetensors")
        let bare = try Self.copy(sdFile)
        let minimal = try Self.copy(sdFile, sidecar: #"""
            {"unet": {"norm_num_groups": 8}, "vae": {"norm_num_groups": 8}, "text_encoder": {"num_attention_heads": 4}}
            """#)
        let full = try Self.copy(sdFile, sidecar: Self.sidecarText(sdFile))
        defer {
            for url in [bare, minimal, full] { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        }
        let sidecarPath = bare.deletingPathExtension().appendingPathExtension("json").path
        #expect(throws: ArchitectureError.conventionDoesNotFit(
            component: "unet", key: "norm_num_groups", convention: "32",
            reason: "config 'norm_num_groups' = 32 is not supported (supported: a divisor of every block_out_channels entry)",
            weights: bare.path, sidecar: sidecarPath)) { try StableDiffusionWeights(url: bare).unet() }
        #expect { try StableDiffusionWeights(url: bare).vae() } throws: {
            "\($0)".contains("'norm_num_groups'") && "\($0)".contains(sidecarPath)
        }
        #expect { try StableDiffusionWeights(url: bare).textEncoderModel() } throws: {
            "\($0)".contains("'num_attention_heads'") && "\($0)".contains("hidden_size 24 is not a multiple of 64")
        }
        let tokens = try CLIPTokenizer.bundled().tokenize("a cat").ids
        Self.expectBitIdentical(try Self.sdOutputs(minimal, tokens: tokens), try Self.sdOutputs(full, tokens: tokens))

        let znetFile = tiny.appendingPathComponent("ldznet-tiny.safetensors")
        let znetMinimal = try Self.copy(znetFile, sidecar: #"{"unet": {"norm_num_groups": 8}}"#)
        let znetFull = try Self.copy(znetFile, sidecar: Self.sidecarText(znetFile))
        defer {
            for url in [znetMinimal, znetFull] { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        }
        let minimalZNet = try LDZNetCheckpoint(url: znetMinimal).loadZNet(fusion: "cross_attention").znet
        let fullZNet = try LDZNetCheckpoint(url: znetFull).loadZNet(fusion: "cross_attention").znet
        #expect(minimalZNet.unet.config == fullZNet.unet.config)
        let latent = Self.random([1, 4, 16, 16], seed: 5), context = Self.random([77, 24], seed: 6)
        let sdFeatures = Dictionary(uniqueKeysWithValues: fullZNet.fusions.map { tap, fusion in
            (tap, Self.random([fusion.position.channels + 1, fusion.position.channels], seed: UInt64(tap)))
        })
        Self.expectBitIdentical([try minimalZNet(latent, context: context, sdFeatures: sdFeatures)],
                                [try fullZNet(latent, context: context, sdFeatures: sdFeatures)])
    }

    /// The SD v1 topology is read from CompVis names as the table writes them.
    @Test func theCompVisCountsOfSDv1() throws {
        let table = compVisUNetTable(.sdV1)
        let keys = ["conv_in.weight", "conv_out.weight"] + (0..<4).flatMap { level in
            (0..<2).map { "down_blocks.\(level).resnets.\($0).conv1.weight" }
        }
        let shapes: [String: [Int]] = Dictionary(uniqueKeysWithValues: keys.map { key in
            let level = key.hasPrefix("down_blocks.") ? Int(String(key.dropFirst(12).prefix(1)))! : 0
            let shape = key == "conv_in.weight" ? [320, 4, 3, 3] : key == "conv_out.weight" ? [4, 320, 3, 3]
                : [UNetConfig.sdV1.blockOutChannels[level], 1, 3, 3]
            return (table.storedKey(key), shape)
        })
        let source = ShapeOnlySource(shapes: shapes)
        let architecture = try UNetArchitecture(source: source, naming: .compVis) { "model.diffusion_model." + $0 }
        #expect(architecture.config.blockOutChannels == [320, 640, 1280, 1280])
        #expect(architecture.config.layersPerBlock == 2 && architecture.config.inChannels == 4
                && architecture.config.outChannels == 4)
    }
}

/// Shapes without values: for inference, which never reads a tensor.
struct ShapeOnlySource: TensorSource {
    let shapes: [String: [Int]]
    var origin: String { "shapes" }
    var keys: [String] { shapes.keys.sorted() }
    func shape(of key: String) -> [Int]? { shapes[key] }
    func tensor(_ key: String) throws -> Tensor { throw TensorFileError(file: origin, key: key, "shapes only") }
}
