import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// The LD-ZNet modules against tools/ldznet_reference.py on the tiny fixture configs.
@Suite struct LDZNetParityTests {
    let reference: SafeTensorsFile
    let context: Tensor
    let config = LDZNetFixtures.unetConfig(outChannels: 1)

    init() throws {
        reference = try LDZNetFixtures.reference()
        context = try reference.tensor("context")
    }

    func referenceTaps(_ size: String) throws -> [Int: Tensor] {
        try Dictionary(uniqueKeysWithValues: ldzNetTaps.map { ($0, try reference.tensor("sd_tap\($0)_\(size)")) })
    }

    func znet(_ fusion: String) throws -> ZNet {
        let checkpoint: LDZNetCheckpoint
        if fusion == ConcatFusion.name {
            let body = try openTensorSource(LDZNetFixtures.checkpoint)
            let concat = TrainingKeysAsEMA(base: try SafeTensorsFile(contentsOf: LDZNetFixtures.concatWeights))
            checkpoint = try LDZNetCheckpoint(source: TensorSourceUnion([body, concat]))
        } else {
            checkpoint = try LDZNetCheckpoint(url: LDZNetFixtures.checkpoint)
        }
        #expect(checkpoint.copy == .ema)
        return try checkpoint.loadZNet(config: config, fusion: fusion).znet
    }

    @Test func positionsAreTheLDZNetTransformers() throws {
        let positions = try fusionPositions(config)
        #expect(positions.map(\.path) == ["down_blocks.2.attentions.1", "mid_block.attentions.0",
                                          "up_blocks.1.attentions.0", "up_blocks.1.attentions.1",
                                          "up_blocks.1.attentions.2"])
        #expect(positions.map(\.channels) == [16, 32, 16, 16, 16])
        let sdV1 = try fusionPositions(.ldzNetV1)
        #expect(sdV1.map(\.channels) == [1280, 1280, 1280, 1280, 1280] && sdV1.allSatisfy { $0.heads == 8 })
    }

    @Test func sdTapsMatchTheReference() throws {
        let (weights, sdConfig) = try StableDiffusionWeights(
            url: LDZNetFixtures.sdUNet, unetConfig: LDZNetFixtures.unetConfig(outChannels: 4)).unet()
        let unet = try UNet2DConditionModel(weights: weights, config: sdConfig)
        for size in LDZNetFixtures.sizes {
            let output = try unet(reference.tensor("z_t_\(size)"), timestep: 400, context: context,
                                  taps: Set(ldzNetTaps))
            for tap in ldzNetTaps {
                expectParity(try #require(output.taps[tap]), try reference.tensor("sd_tap\(tap)_\(size)"),
                             name: "SD tap \(tap) \(size)", relative: 1e-5)
            }
            expectParity(try #require(output.eps), try reference.tensor("sd_eps_\(size)"),
                         name: "SD eps \(size)", relative: 1e-5)
        }
    }

    @Test func poolsMatchTheReference() throws {
        let znet = try znet(CrossAttentionFusion.name)
        let gridSizes = [6: 4, 7: 3, 8: 6, 9: 6, 10: 6]
        for size in LDZNetFixtures.sizes {
            let taps = try referenceTaps(size)
            for tap in ldzNetTaps {
                let fusion = try #require(znet.fusions[tap] as? CrossAttentionFusion)
                #expect(fusion.pool.gridSize == gridSizes[tap])
                let feature = try #require(taps[tap])
                let resized = feature.shape[2] * feature.shape[3] + 1 != fusion.pool.positionalEmbedding.shape[1]
                // square: tap 6 (4x4 grid, S = 4) keeps its embedding, every other pool resizes.
                #expect(resized == !(size == "square" && tap == 6))
                expectParity(try fusion.pool(feature).slice(0), try reference.tensor("pool\(tap)_\(size)"),
                             name: "pool \(tap) \(size)\(resized ? " (resized embedding)" : "")", relative: 1e-5)
            }
        }
    }

    @Test(arguments: ["cross_attention", "concat", "none"])
    func logitsMatchTheReference(fusion: String) throws {
        let znet = try znet(fusion)
        #expect(znet.fusionName == fusion)
        #expect(znet.requiredTaps == (fusion == "none" ? [] : ldzNetTaps))
        for size in LDZNetFixtures.sizes {
            let z = try reference.tensor("z_\(size)")
            let logits = try znet(z, context: context, sdFeatures: referenceTaps(size))
            #expect(logits.shape == [1, 1, 8 * z.shape[2], 8 * z.shape[3]])
            expectParity(logits, try reference.tensor("logits_\(fusion)_\(size)"), name: "logits \(fusion) \(size)",
                         relative: 2e-5)
        }
    }

    @Test func pooledTokensCanBeGivenInsteadOfFeatures() throws {
        let znet = try znet(CrossAttentionFusion.name)
        let taps = try referenceTaps("wide")
        var pooled: [Int: Tensor] = [:]
        for tap in ldzNetTaps { pooled[tap] = try reference.tensor("pool\(tap)_wide") }
        let fromPools = try znet(reference.tensor("z_wide"), context: context, sdFeatures: pooled)
        let fromFeatures = try znet(reference.tensor("z_wide"), context: context, sdFeatures: taps)
        #expect(maxDifference(fromPools, fromFeatures) < 1e-4)
    }

    @Test func fusionsDifferFromEachOther() throws {
        // The three fixtures must be distinguishable, or the per-fusion parity would prove nothing.
        let a = try reference.tensor("logits_cross_attention_square")
        #expect(maxDifference(a, try reference.tensor("logits_none_square")) > 0.05)
        #expect(maxDifference(a, try reference.tensor("logits_concat_square")) > 0.05)
    }

    @Test func missingFeaturesAreNamed() throws {
        let znet = try znet(CrossAttentionFusion.name)
        var taps = try referenceTaps("square")
        taps[8] = nil
        #expect(throws: FusionError.missingFeature(tap: 8, fusion: "cross_attention")) {
            try znet(reference.tensor("z_square"), context: context, sdFeatures: taps)
        }
        let concat = try self.znet(ConcatFusion.name)
        #expect(throws: ShapeError.self) {
            try concat(reference.tensor("z_square"), context: context, sdFeatures: referenceTaps("wide"))
        }
    }
}
