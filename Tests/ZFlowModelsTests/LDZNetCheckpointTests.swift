import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// Loading the official LD-ZNet layout: the right copy, both file formats, strict errors.
@Suite struct LDZNetCheckpointTests {
    let reference: SafeTensorsFile
    let config = LDZNetFixtures.unetConfig(outChannels: 1)

    init() throws { reference = try LDZNetFixtures.reference() }

    func logits(_ checkpoint: LDZNetCheckpoint) throws -> Tensor {
        let znet = try checkpoint.loadZNet(config: config, fusion: "cross_attention").znet
        let taps = try Dictionary(uniqueKeysWithValues: ldzNetTaps.map { ($0, try reference.tensor("sd_tap\($0)_square")) })
        return try znet(reference.tensor("z_square"), context: reference.tensor("context"), sdFeatures: taps)
    }

    @Test func storedKeysFollowLitEma() throws {
        let checkpoint = try LDZNetCheckpoint(url: LDZNetFixtures.checkpoint)
        let rename = checkpoint.rename(for: config)
        #expect(rename("down_blocks.2.attentions.1.attentionpool2D.positional_embedding")
                == "model_ema.diffusion_modelinput_blocks81attentionpool2Dpositional_embedding")
        #expect(rename("conv_out.weight") == "model_ema.diffusion_modelout2weight")
        #expect(rename("final.10.bias") == "model_ema.diffusion_modelfinal10bias")
        let training = try LDZNetCheckpoint(url: LDZNetFixtures.checkpoint, copy: .training)
        #expect(training.rename(for: config)("mid_block.attentions.0.transformer_blocks.0.attn3.to_q.weight")
                == "model.diffusion_model.middle_block.1.transformer_blocks.0.attn3.to_q.weight")
        #expect(try checkpoint.poolGridSizes(config: config) == [6: 4, 7: 3, 8: 6, 9: 6, 10: 6])
    }

    @Test func inferenceUsesTheEMACopy() throws {
        let ema = try LDZNetCheckpoint(url: LDZNetFixtures.checkpoint)
        #expect(ema.copy == .ema && ema.warnings.isEmpty)
        let emaLogits = try logits(ema)
        let live = try reference.tensor("logits_cross_attention_live_square")
        expectParity(emaLogits, try reference.tensor("logits_cross_attention_square"), name: "EMA logits", relative: 2e-5)
        // The training copy's logits are far from the EMA ones: reading the wrong copy shows.
        #expect(maxDifference(emaLogits, live) > 0.05)
        let training = try LDZNetCheckpoint(url: LDZNetFixtures.checkpoint, copy: .training)
        expectParity(try logits(training), live, name: "training-copy logits", relative: 2e-5)
    }

    @Test func withoutEMAItFallsBackToTheTrainingCopyWithAWarning() throws {
        let source = try MemoryTensorSource(copying: openTensorSource(LDZNetFixtures.checkpoint), origin: "no-ema") {
            $0 = $0.filter { !$0.key.hasPrefix("model_ema.") }
        }
        let checkpoint = try LDZNetCheckpoint(source: source)
        #expect(checkpoint.copy == .training)
        #expect(checkpoint.warnings.count == 1 && checkpoint.warnings[0].contains("no EMA copy"))
        let (_, warnings) = try checkpoint.loadZNet(config: config, fusion: "cross_attention")
        #expect(warnings == checkpoint.warnings)
        expectParity(try logits(checkpoint), try reference.tensor("logits_cross_attention_live_square"),
                     name: "fallback logits", relative: 2e-5)
        #expect(throws: LDZNetCheckpointError.self) { try LDZNetCheckpoint(source: source, copy: .ema) }
    }

    @Test func safeTensorsHoldTheSameCheckpoint() throws {
        let ckpt = try openTensorSource(LDZNetFixtures.checkpoint)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ldznet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("ldznet.safetensors")
        try writeSafeTensors(MemoryTensorSource(copying: ckpt).tensors, to: file)
        let checkpoint = try LDZNetCheckpoint(url: file)
        #expect(checkpoint.source is SafeTensorsFile && checkpoint.copy == .ema)
        expectParity(try logits(checkpoint), try reference.tensor("logits_cross_attention_square"),
                     name: "safetensors logits", relative: 2e-5)
    }

    @Test func otherFusionWeightsAreIgnoredWithAWarning() throws {
        let (_, warnings) = try LDZNetCheckpoint(url: LDZNetFixtures.checkpoint).loadZNet(config: config, fusion: "none")
        // 5 pools (5 tensors each) + 5 x (attn3: 5, norm_sd: 2).
        #expect(warnings.count == 1 && warnings[0].contains("60 tensor(s) of fusion 'cross_attention'"), "\(warnings)")
    }

    @Test func aMissingTensorIsNamed() throws {
        let source = try MemoryTensorSource(copying: openTensorSource(LDZNetFixtures.checkpoint)) {
            $0["model_ema.diffusion_modeloutput_blocks41transformer_blocks0attn2to_kweight"] = nil
        }
        #expect(throws: WeightError.incompatible(
            missing: ["model_ema.diffusion_modeloutput_blocks41transformer_blocks0attn2to_kweight"], misshapen: [],
            unused: [], origin: "edited checkpoint")) {
            try LDZNetCheckpoint(source: source).loadZNet(config: config, fusion: "cross_attention")
        }
    }

    @Test func aMisShapedTensorIsNamed() throws {
        let source = try MemoryTensorSource(copying: openTensorSource(LDZNetFixtures.checkpoint)) {
            $0["model_ema.diffusion_modelfinal2weight"] = Tensor(zeros: [1, 1, 3, 3])
        }
        let misshapen = MisshapenTensor(key: "model_ema.diffusion_modelfinal2weight", expected: [1, 1, 2, 2], found: [1, 1, 3, 3])
        #expect(throws: WeightError.incompatible(missing: [], misshapen: [misshapen], unused: [], origin: "edited checkpoint")) {
            try LDZNetCheckpoint(source: source).loadZNet(config: config, fusion: "cross_attention")
        }
    }

    @Test func anUnexpectedTensorIsNamed() throws {
        let source = try MemoryTensorSource(copying: openTensorSource(LDZNetFixtures.checkpoint)) {
            $0["model_ema.diffusion_modelinput_blocks81extraweight"] = Tensor(zeros: [3])
        }
        #expect(throws: WeightError.incompatible(missing: [], misshapen: [],
                                                 unused: ["model_ema.diffusion_modelinput_blocks81extraweight"],
                                                 origin: "edited checkpoint")) {
            try LDZNetCheckpoint(source: source).loadZNet(config: config, fusion: "cross_attention")
        }
    }

    @Test func anSDUNetIsNotAnLDZNetCheckpoint() throws {
        // The frozen SD UNet file: training-copy names only, no pools, attn3 or head.
        let checkpoint = try LDZNetCheckpoint(url: LDZNetFixtures.sdUNet)
        #expect(checkpoint.copy == .training)
        do {
            _ = try checkpoint.loadZNet(config: config, fusion: "cross_attention")
            Issue.record("loading an SD UNet as LD-ZNet must fail")
        } catch let error as LDZNetCheckpointError {
            guard case let .missingFusionWeights(_, fusion, missing) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(fusion == "cross_attention" && missing.count == 15)
            #expect(missing.contains("model.diffusion_model.input_blocks.8.1.attentionpool2D."))
            #expect(error.description.contains("output_blocks.5.1.transformer_blocks.0.norm_sd."))
        }
        // With no fusion weights needed, the config's one output channel is refused before anything
        // is built: out.2 stores 4.
        #expect {
            try checkpoint.loadZNet(config: config, fusion: "none")
        } throws: { error in
            guard let error = error as? ConfigMismatchError else { return false }
            return error.key == "out_channels"
                && error.evidence == .dimension(tensor: "model.diffusion_model.out.2.weight", shape: [4, 16, 3, 3],
                                                axis: 0, scale: 1)
        }
    }

    @Test func unknownFusionNamesListTheRegisteredOnes() throws {
        #expect(throws: FusionError.unknownStrategy(name: "sum", available: ["concat", "cross_attention", "none"])) {
            try LDZNetCheckpoint(url: LDZNetFixtures.checkpoint).loadZNet(config: config, fusion: "sum")
        }
    }

    @Test func aNewFusionIsANewRegisteredType() throws {
        let registry = FusionRegistry(CrossAttentionFusion.self, ConcatFusion.self, NoFusion.self)
        try registry.register(AddFeatureFusion.self)
        #expect(throws: FusionError.duplicateStrategy(name: "add_feature")) { try registry.register(AddFeatureFusion.self) }
        let (znet, _) = try LDZNetCheckpoint(url: LDZNetFixtures.checkpoint)
            .loadZNet(config: config, fusion: "add_feature", registry: registry)
        let taps = try Dictionary(uniqueKeysWithValues: ldzNetTaps.map { ($0, try reference.tensor("sd_tap\($0)_square")) })
        let z = try reference.tensor("z_square"), context = try reference.tensor("context")
        let fused = try znet(z, context: context, sdFeatures: taps)
        // Adding a zero feature is the plain ZNet.
        let zeros = taps.mapValues { Tensor(zeros: $0.shape) }
        expectParity(try znet(z, context: context, sdFeatures: zeros), try reference.tensor("logits_none_square"),
                     name: "plugin fusion with zero features", relative: 2e-5)
        #expect(maxDifference(fused, try reference.tensor("logits_none_square")) > 1e-3)
    }
}

/// A strategy defined outside the model code: adds the SD feature to the transformer input.
struct AddFeatureFusion: FusionStrategy {
    static let name = "add_feature"
    static let parameterPrefixes: [String] = []
    static let needsSDFeature = true
    let position: FusionPosition

    init(_ weights: WeightReader, position: FusionPosition) throws { self.position = position }

    func hook(sdFeature: Tensor?) throws -> (any SpatialTransformerHook)? {
        guard let sdFeature else { throw FusionError.missingFeature(tap: position.tap, fusion: Self.name) }
        return Hook(feature: sdFeature)
    }

    struct Hook: SpatialTransformerHook {
        let feature: Tensor
        func transformerInput(_ x: Tensor) throws -> Tensor { try add(x, feature) }
    }
}
