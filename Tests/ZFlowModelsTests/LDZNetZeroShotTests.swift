import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// `NoiseDifference` against tools/fixtures/zeroshot.py: two seeds x two timesteps, averaged,
/// then bicubic x8.
@Suite struct LDZNetZeroShotTests {
    @Test func averagedMapMatchesPyTorch() throws {
        let fixture = try SafeTensorsFile(contentsOf: LDZNetFixtures.root.appendingPathComponent("zeroshot.safetensors"))
        let (weights, config) = try StableDiffusionWeights(
            url: LDZNetFixtures.sdUNet, unetConfig: LDZNetFixtures.unetConfig(outChannels: 4)).unet()
        let zeroShot = NoiseDifference(unet: try UNet2DConditionModel(weights: weights, config: config))
        let seeds = try fixture.tensor("seeds").scalars.map { UInt64($0) }
        let timesteps = try fixture.tensor("timesteps").scalars.map { Int($0) }
        #expect(seeds.count == 2 && timesteps.count == 2)
        let image = try zeroShot(latent: fixture.tensor("z"), context: fixture.tensor("context"),
                                 emptyContext: fixture.tensor("empty_context"), timesteps: timesteps, seeds: seeds)
        #expect(image.shape == [1, 1, 128, 128])
        expectParity(image, try fixture.tensor("map_image"), name: "zero-shot map (image, bicubic x8)", relative: 5e-5)
        let latent = try zeroShot.latentMap(latent: fixture.tensor("z"), context: fixture.tensor("context"),
                                            emptyContext: fixture.tensor("empty_context"),
                                            timesteps: timesteps, seeds: seeds)
        expectParity(latent, try fixture.tensor("map_latent"), name: "zero-shot map (latent)", relative: 5e-5)
        // One pair alone is a different map: the average is really over all four.
        let single = try zeroShot.latentMap(latent: fixture.tensor("z"), context: fixture.tensor("context"),
                                            emptyContext: fixture.tensor("empty_context"),
                                            timesteps: [timesteps[0]], seeds: [seeds[0]])
        #expect(maxDifference(single, try fixture.tensor("map_latent")) > 1e-2)
        #expect(throws: ShapeError.self) {
            try zeroShot.latentMap(latent: fixture.tensor("z"), context: fixture.tensor("context"),
                                   emptyContext: fixture.tensor("empty_context"), timesteps: [], seeds: seeds)
        }
    }
}
