import Testing
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// `NoiseDifference` on a batch of latents with the bundled tiny SD UNet: each sample's map is,
/// bit for bit, the map of that sample run alone, whether the text is one per sample or shared.
@Suite struct NoiseDifferenceBatchTests {
    private static let timesteps = [400], seeds: [UInt64] = [0]

    private static func zeroShot() throws -> NoiseDifference { NoiseDifference(unet: try BatchModelTests.tinyUNet()) }

    /// Two samples' latents [1, 4, 8, 8] and texts [1, 8, D], and the empty text [8, D].
    private static func inputs(_ unet: UNet2DConditionModel) -> (latents: [Tensor], texts: [Tensor], empty: Tensor) {
        let width = unet.config.crossAttentionDim
        return ([seededRandom([1, 4, 8, 8], seed: 11), seededRandom([1, 4, 8, 8], seed: 12)],
                [seededRandom([1, 8, width], seed: 21), seededRandom([1, 8, width], seed: 22)],
                seededRandom([8, width], seed: 23))
    }

    private func map(_ zeroShot: NoiseDifference, _ latent: Tensor, _ text: Tensor, _ empty: Tensor) throws -> Tensor {
        try zeroShot(latent: latent, context: text, emptyContext: empty, timesteps: Self.timesteps, seeds: Self.seeds)
    }

    @Test func eachSampleOfABatchIsItsMapAlone() throws {
        let zeroShot = try Self.zeroShot()
        let (latents, texts, empty) = Self.inputs(zeroShot.unet)
        let batch = try map(zeroShot, try concat(latents, axis: 0), try concat(texts, axis: 0), empty)
        #expect(batch.shape == [2, 1, 64, 64])
        let singles = try (0..<2).map { try map(zeroShot, latents[$0], texts[$0], empty) }
        #expect(!bitwiseEqual(singles[0], singles[1]), "the two samples must give different maps")
        for (index, single) in singles.enumerated() {
            #expect(bitwiseEqual(batch.slice(index..<index + 1), single), "sample \(index)")
        }
    }

    @Test(arguments: [false, true])
    func oneTextIsSharedByTheBatch(leadingOne: Bool) throws {
        let zeroShot = try Self.zeroShot()
        let (latents, texts, empty) = Self.inputs(zeroShot.unet)
        let text = leadingOne ? texts[0] : texts[0].slice(0)
        let batch = try map(zeroShot, try concat(latents, axis: 0), text, empty)
        #expect(batch.shape == [2, 1, 64, 64])
        for (index, latent) in latents.enumerated() {
            #expect(bitwiseEqual(batch.slice(index..<index + 1), try map(zeroShot, latent, text, empty)), "sample \(index)")
        }
    }

    @Test func aTextBatchOfAnotherSizeIsRefused() throws {
        let zeroShot = try Self.zeroShot()
        let (latents, texts, empty) = Self.inputs(zeroShot.unet)
        let width = zeroShot.unet.config.crossAttentionDim
        #expect(throws: ShapeError("NoiseDifference", "text [3, 8, \(width)] for latent [2, 4, 8, 8]: give one text, "
                                   + "[S, D] or [1, S, D], for the batch or one per sample, [2, S, D]")) {
            try zeroShot.latentMap(latent: concat(latents, axis: 0), context: concat(texts + [texts[0]], axis: 0),
                                   emptyContext: empty, timesteps: Self.timesteps, seeds: Self.seeds)
        }
    }
}
