import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

@Suite struct UNetParityTests {
    let io: SafeTensorsFile
    let latent: Tensor
    let context: Tensor
    let timestep: Float

    init() throws {
        io = try SDTiny.io()
        latent = try io.tensor("latent")
        context = try io.tensor("context").reshaped([77, 32])
        timestep = try io.tensor("timestep").scalars[0]
    }

    func tapCount(_ key: String) throws -> Int {
        try #require(io.metadata[key].flatMap(Int.init))
    }

    func checkEpsAndTaps(_ unet: UNet2DConditionModel, layout: String) throws {
        let count = try tapCount("taps")
        #expect(unet.tapCount == count)
        let output = try unet(latent, timestep: timestep, context: context, taps: Set(1...count))
        let eps = try #require(output.eps)
        expectClose(eps, try io.tensor("eps"), name: "\(layout) eps")
        for tap in 1...count {
            let value = try #require(output.taps[tap], "tap \(tap) missing")
            expectClose(value, try io.tensor("tap.\(tap)"), name: "\(layout) tap \(tap)")
        }
    }

    @Test func diffusersFolderMatchesDiffusers() throws {
        let (weights, config) = try StableDiffusionWeights(url: SDTiny.diffusers).unet()
        try checkEpsAndTaps(UNet2DConditionModel(weights: weights, config: config), layout: "diffusers")
    }

    @Test func compVisSafeTensorsMatchesDiffusers() throws {
        let sd = try StableDiffusionWeights(url: SDTiny.compVisSafeTensors, unetConfig: SDTiny.unetConfig())
        let (weights, config) = try sd.unet()
        try checkEpsAndTaps(UNet2DConditionModel(weights: weights, config: config), layout: "CompVis safetensors")
    }

    @Test func compVisCheckpointMatchesDiffusers() throws {
        let sd = try StableDiffusionWeights(url: SDTiny.compVisCheckpoint, unetConfig: SDTiny.unetConfig())
        let (weights, config) = try sd.unet()
        try checkEpsAndTaps(UNet2DConditionModel(weights: weights, config: config), layout: "CompVis ckpt")
    }

    @Test func linearProjectionAndPerLevelHeadsMatchDiffusers() throws {
        let (weights, config) = try StableDiffusionWeights(url: SDTiny.unetLinear).unet()
        #expect(config.useLinearProjection && config.attentionHeadDim == .levels([2, 4]))
        let unet = try UNet2DConditionModel(weights: weights, config: config)
        let count = try tapCount("taps_linear")
        let output = try unet(latent, timestep: timestep, context: io.tensor("context_linear").reshaped([77, 24]),
                              taps: Set(1...count))
        expectClose(try #require(output.eps), try io.tensor("eps_linear"), name: "linear eps")
        for tap in 1...count {
            expectClose(try #require(output.taps[tap]), try io.tensor("tap_linear.\(tap)"), name: "linear tap \(tap)")
        }
    }

    @Test func stoppingEarlyReturnsTheSameTaps() throws {
        let (weights, config) = try StableDiffusionWeights(url: SDTiny.diffusers).unet()
        let unet = try UNet2DConditionModel(weights: weights, config: config)
        let full = try unet(latent, timestep: timestep, context: context, taps: [2, 5, 7])
        let early = try unet(latent, timestep: timestep, context: context, taps: [2, 5, 7], wantEps: false)
        #expect(early.eps == nil)
        #expect(Set(early.taps.keys) == [2, 5, 7])
        for tap in [2, 5, 7] {
            #expect(early.taps[tap]?.scalars == full.taps[tap]?.scalars, "tap \(tap)")
        }
        let none = try unet(latent, timestep: timestep, context: context, taps: [], wantEps: false)
        #expect(none.eps == nil && none.taps.isEmpty)
    }

    @Test func tapsOutsideTheUNetAreErrors() throws {
        let (weights, config) = try StableDiffusionWeights(url: SDTiny.diffusers).unet()
        let unet = try UNet2DConditionModel(weights: weights, config: config)
        #expect(throws: UNetError.tapOutOfRange(tap: 12, available: 11)) {
            try unet(latent, timestep: timestep, context: context, taps: [12])
        }
        #expect(throws: UNetError.latentSize(height: 14, width: 24, multiple: 4)) {
            try unet(Tensor(zeros: [1, 4, 14, 24]), timestep: timestep, context: context)
        }
    }
}
