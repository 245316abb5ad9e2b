import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

@Suite struct LayoutTests {
    @Test func compVisUNetTableNamesTheRealSDv1Keys() {
        let table = compVisUNetTable(.sdV1)
        let expected = [
            "conv_in.weight": "input_blocks.0.0.weight",
            "time_embedding.linear_2.bias": "time_embed.2.bias",
            "down_blocks.0.resnets.0.norm1.weight": "input_blocks.1.0.in_layers.0.weight",
            "down_blocks.0.attentions.1.proj_in.weight": "input_blocks.2.1.proj_in.weight",
            "down_blocks.0.downsamplers.0.conv.weight": "input_blocks.3.0.op.weight",
            "down_blocks.1.resnets.0.conv_shortcut.weight": "input_blocks.4.0.skip_connection.weight",
            "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.weight":
                "input_blocks.8.1.transformer_blocks.0.attn2.to_k.weight",
            "down_blocks.3.resnets.1.time_emb_proj.bias": "input_blocks.11.0.emb_layers.1.bias",
            "mid_block.resnets.0.conv1.weight": "middle_block.0.in_layers.2.weight",
            "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight":
                "middle_block.1.transformer_blocks.0.ff.net.0.proj.weight",
            "mid_block.resnets.1.conv2.weight": "middle_block.2.out_layers.3.weight",
            "up_blocks.0.resnets.2.conv2.weight": "output_blocks.2.0.out_layers.3.weight",
            "up_blocks.0.upsamplers.0.conv.weight": "output_blocks.2.1.conv.weight",
            "up_blocks.1.attentions.2.norm.bias": "output_blocks.5.1.norm.bias",
            "up_blocks.1.upsamplers.0.conv.bias": "output_blocks.5.2.conv.bias",
            "up_blocks.3.resnets.2.norm2.weight": "output_blocks.11.0.out_layers.0.weight",
            "conv_norm_out.weight": "out.0.weight",
            "conv_out.bias": "out.2.bias",
        ]
        for (model, stored) in expected {
            #expect(table.storedKey(model) == "model.diffusion_model." + stored, "\(model)")
        }
    }

    @Test func compVisVAETableNamesTheRealSDv1Keys() {
        let table = compVisVAEEncoderTable(.sdV1)
        let expected = [
            "encoder.conv_in.weight": "encoder.conv_in.weight",
            "encoder.down_blocks.1.resnets.0.conv_shortcut.weight": "encoder.down.1.block.0.nin_shortcut.weight",
            "encoder.down_blocks.2.resnets.1.norm2.bias": "encoder.down.2.block.1.norm2.bias",
            "encoder.down_blocks.0.downsamplers.0.conv.weight": "encoder.down.0.downsample.conv.weight",
            "encoder.mid_block.resnets.1.conv1.weight": "encoder.mid.block_2.conv1.weight",
            "encoder.mid_block.attentions.0.group_norm.weight": "encoder.mid.attn_1.norm.weight",
            "encoder.mid_block.attentions.0.to_out.0.weight": "encoder.mid.attn_1.proj_out.weight",
            "encoder.conv_norm_out.bias": "encoder.norm_out.bias",
            "quant_conv.weight": "quant_conv.weight",
        ]
        for (model, stored) in expected {
            #expect(table.storedKey(model) == "first_stage_model." + stored, "\(model)")
        }
    }

    @Test func sdV1ConfigsAreSupported() throws {
        #expect(UNetConfig.sdV1.blockOutChannels == [320, 640, 1280, 1280])
        try UNetConfig.sdV1.validate()
        try VAEConfig.sdV1.validate()
    }

    @Test func aComponentFolderAloneLoadsThatComponent() throws {
        let sd = try StableDiffusionWeights(url: SDTiny.diffusers.appendingPathComponent("unet"))
        _ = try sd.unet()
        #expect(throws: LayoutError.self) { try sd.vae() }
    }

    @Test func aRootWithoutTextEncoderNamesTheExpectedFiles() throws {
        let sd = try StableDiffusionWeights(url: SDTiny.diffusers)
        do {
            _ = try sd.textEncoder()
            Issue.record("expected an error")
        } catch let error as LayoutError {
            #expect("\(error)".contains("text_encoder/model.safetensors"), "\(error)")
        }
    }

    @Test func aFolderWithoutWeightsListsTheExpectedFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-layout-\(UUID())/unet")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        try Data(#"{"_class_name": "UNet2DConditionModel"}"#.utf8).write(to: folder.appendingPathComponent("config.json"))
        #expect(throws: LayoutError.missingWeightFiles(folder: folder.path, expected: [
            "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
            "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin",
            "diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors.index.fp16.json",
            "diffusion_pytorch_model.safetensors.fp16.index.json", "diffusion_pytorch_model.fp16.safetensors.index.json",
            "diffusion_pytorch_model.bin.index.json", "diffusion_pytorch_model.bin.index.fp16.json",
            "diffusion_pytorch_model.bin.fp16.index.json", "diffusion_pytorch_model.fp16.bin.index.json",
        ])) {
            try StableDiffusionWeights(url: folder.deletingLastPathComponent()).unet()
        }
    }

    /// A missing weights path is called missing, never a file of the wrong format (issue 10, fault 2).
    @Test func aMissingPathIsNamed() {
        let url = URL(fileURLWithPath: "/nonexistent/sd-v1-4.ckpt")
        #expect(throws: PathProblem(path: url.path, kind: .missing, resolvedAgainst: nil)) {
            try StableDiffusionWeights(url: url)
        }
    }

    @Test func compVisFileWithoutTextEncoderNamesThePrefix() throws {
        let sd = try StableDiffusionWeights(url: SDTiny.compVisSafeTensors)
        #expect(throws: LayoutError.componentMissing(component: "text_encoder", location: try SDTiny.compVisSafeTensors.path,
                                                     expected: "tensors named cond_stage_model.transformer.*")) {
            try sd.textEncoder()
        }
    }

    @Test func compVisTextEncoderKeysGetThePrefix() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-clip-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        let stored = "cond_stage_model.transformer.text_model.final_layer_norm.weight"
        try writeSafeTensors([stored: Tensor(shape: [2], scalars: [1, 2]),
                              "cond_stage_model.transformer.text_model.extra": Tensor(zeros: [1])], to: file)
        let (weights, configFile) = try StableDiffusionWeights(url: file).textEncoder()
        #expect(configFile == nil)
        let reader = weights.reader()
        #expect(try reader.scoped("text_model.final_layer_norm")("weight", shape: [2]).scalars == [1, 2])
        #expect(throws: WeightError.incompatible(missing: [], misshapen: [],
                                                 unused: ["cond_stage_model.transformer.text_model.extra"], origin: file.path)) {
            try weights.load { try $0.scoped("text_model.final_layer_norm")("weight", shape: [2]) }
        }
    }
}

@Suite struct LayoutStrictnessTests {
    /// Loads the tiny UNet from an edited copy of the CompVis file and returns the error.
    func unetError(_ edit: (inout EditedSource) throws -> Void) throws -> WeightError? {
        var source = EditedSource(base: try SafeTensorsFile(contentsOf: SDTiny.compVisSafeTensors))
        try edit(&source)
        let config = try SDTiny.unetConfig()
        let table = compVisUNetTable(config)
        let weights = ComponentWeights(component: .unet, source: source, rename: table.storedKey,
                                       storedPrefix: table.storedPrefix, ignoredStoredPrefixes: [])
        do {
            _ = try UNet2DConditionModel(weights: weights, config: config)
            return nil
        } catch let error as WeightError {
            return error
        }
    }

    @Test func aMissingKeyIsNamed() throws {
        let key = "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"
        let error = try unetError { $0.removed = [key] }
        #expect(error == .incompatible(missing: [key], misshapen: [], unused: [], origin: try SDTiny.compVisSafeTensors.path))
    }

    @Test func anUnusedKeyIsNamed() throws {
        let key = "model.diffusion_model.output_blocks.99.0.in_layers.0.weight"
        let error = try unetError { $0.replaced = [key: Tensor(zeros: [3])] }
        #expect(error == .incompatible(missing: [], misshapen: [], unused: [key], origin: try SDTiny.compVisSafeTensors.path))
    }

    @Test func aMisShapedKeyIsNamed() throws {
        let key = "model.diffusion_model.middle_block.1.proj_out.weight"
        let error = try unetError { $0.replaced = [key: Tensor(zeros: [32, 16, 1, 1])] }
        #expect(error == .incompatible(missing: [], misshapen: [MisshapenTensor(key: key, expected: [32, 32], found: [32, 16, 1, 1])],
                                       unused: [], origin: try SDTiny.compVisSafeTensors.path))
    }

    @Test func everyProblemOfACheckpointIsReportedInOneError() throws {
        let removed = ["model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight",
                       "model.diffusion_model.out.0.bias"]
        let reshaped = "model.diffusion_model.middle_block.1.proj_out.weight"
        let extra = "model.diffusion_model.output_blocks.99.0.in_layers.0.weight"
        let error = try #require(try unetError {
            $0.removed = Set(removed)
            $0.replaced = [reshaped: Tensor(zeros: [32, 16, 1, 1]), extra: Tensor(zeros: [3])]
        })
        let origin = try SDTiny.compVisSafeTensors.path
        #expect(error == .incompatible(missing: removed,
                                       misshapen: [MisshapenTensor(key: reshaped, expected: [32, 32], found: [32, 16, 1, 1])],
                                       unused: [extra], origin: origin))
        #expect(error.description == "\(origin) does not fit the model: "
            + "2 missing tensor(s): '\(removed[0])', '\(removed[1])'; "
            + "1 tensor(s) of another shape: '\(reshaped)' has shape [32, 16, 1, 1], expected [32, 32]; "
            + "1 unexpected tensor(s) not used by the model: '\(extra)'")
    }

    @Test func theVAEDecoderIsIgnoredButOtherExtraVAEKeysAreNot() throws {
        let base = try SafeTensorsFile(contentsOf: SDTiny.compVisSafeTensors)
        #expect(base.keys.contains { $0.hasPrefix("first_stage_model.decoder.") })
        let config = try SDTiny.vaeConfig()
        let table = compVisVAEEncoderTable(config)
        let extra = "first_stage_model.encoder.mid.attn_2.q.weight"
        let source = EditedSource(base: base, replaced: [extra: Tensor(zeros: [2])])
        let weights = ComponentWeights(component: .vae, source: source, rename: table.storedKey,
                                       storedPrefix: table.storedPrefix,
                                       ignoredStoredPrefixes: ["first_stage_model.decoder.", "first_stage_model.post_quant_conv."])
        #expect(throws: WeightError.incompatible(missing: [], misshapen: [], unused: [extra], origin: base.origin)) {
            try VAEEncoder(weights: weights, config: config)
        }
    }
}
