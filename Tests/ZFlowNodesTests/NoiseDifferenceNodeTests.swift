import Testing
import ZFlowGraph
import ZFlowNodes
import ZFlowTensor
import ZFlowTestSupport

/// The NoiseDifference node on a latent batch (a plugin's node may give one): each sample's
/// logits are standardized alone, so they are bit for bit the logits of that sample run alone.
@Suite struct NoiseDifferenceNodeTests {
    private func logits(_ latent: Tensor, text: Tensor) throws -> Tensor {
        let node = try #require(standardRegistry().nodeType(named: "NoiseDifference"))
        let outputs = try node.execute(NodeInputs(
            nodeName: "zeroshot",
            values: ["latent": latent, "text": text, "weights": repositoryPath("models/tiny/sd-v1-tiny.safetensors"),
                     "timesteps": [400], "seeds": [0]],
            requestedOutputs: ["logits"]))
        return try #require(outputs["logits"] as? Tensor)
    }

    @Test func eachSampleIsStandardizedAlone() throws {
        let latents = [seededRandom([1, 4, 8, 8], seed: 31), seededRandom([1, 4, 8, 8], seed: 32, in: -3...3)]
        let text = seededRandom([8, 24], seed: 33)  // the tiny CLIP's width
        let batch = try logits(try concat(latents, axis: 0), text: text)
        #expect(batch.shape == [2, 1, 64, 64])
        for (index, latent) in latents.enumerated() {
            #expect(bitwiseEqual(batch.slice(index..<index + 1), try logits(latent, text: text)), "sample \(index)")
        }
    }
}
