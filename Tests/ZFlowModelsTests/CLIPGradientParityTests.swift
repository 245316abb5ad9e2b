import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

/// The CLIP text encoder on a `GradientTape` against transformers' CLIPTextModel autograd (Float64):
/// the tiny SD's text encoder (models/tiny/sd-v1-tiny.safetensors, its CompVis keys), two prompts of
/// different lengths padded as SD pads them, run as one batch; loss = sum(last_hidden_state * R).
/// Every parameter's gradient within 1e-5 of max |ref| (Fixtures/grads/clip_text.safetensors,
/// tools/fixtures/clip_grads.py; docs/parity.md "Gradients (whole models)").
@Suite struct CLIPGradientParityTests {
    static let tokenKey = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"

    @Test func everyParameterMatchesTransformersAutograd() throws {
        let fixture = try ModelGradientFixture("clip_text")
        // Read as the CLIPTextEncode node reads it (the sidecar gives the heads the shapes do not hold).
        let encoder = try StableDiffusionWeights(url: LDZNetFixtures.tinyModels.appendingPathComponent("sd-v1-tiny.safetensors"))
            .textEncoderModel()

        // The prompts tokenize to the ids transformers' tokenizer gave.
        let prompts = try JSONDecoder().decode([String].self, from: Data(try #require(fixture.file.metadata["prompts"]).utf8))
        let tokenizer = try CLIPTokenizer.bundled()
        let ids = try prompts.map { try tokenizer.tokenize($0).ids }
        let fixtureIDs = try fixture.input("ids").scalars
        #expect(ids.flatMap { $0 }.map(Float.init) == fixtureIDs)
        #expect(Set(ids.map { $0.firstIndex(of: CLIPTokenizer.endOfTextID) }).count == 2, "the prompts should differ in length")

        let r = try fixture.input("r")
        let tape = GradientTape()
        let loss = try tape.record { try sum(mul(encoder(batch: ids).lastHiddenState, r)) }
        #expect(abs(loss.buffer[0] - fixture.loss) <= 1e-5 * abs(fixture.loss), "loss \(loss.buffer[0]) vs \(fixture.loss)")
        var gradients = try tape.gradient(of: loss, withRespectTo: encoder.parameters)

        // The fixture holds the token embedding's gradient for the rows the prompts use; the others are zero.
        let rows = try fixture.input("token_rows").scalars.map { Int($0) }
        let token = try #require(gradients[Self.tokenKey])
        try #require(token.shape == [encoder.config.vocabSize, encoder.config.hiddenSize])
        let width = token.shape[1], used = Set(rows)
        let stray = (0..<token.shape[0]).filter { !used.contains($0) && token.buffer[($0 * width)..<($0 * width + width)].contains { $0 != 0 } }
        #expect(stray.isEmpty, "token embedding rows no prompt uses have a gradient: \(stray.prefix(8))")
        gradients[Self.tokenKey] = try embedding(rows, table: token)

        // k_proj.bias's gradient is zero in exact arithmetic (a constant added to a row of scores
        // leaves its softmax as it is; the fixture leaves it out): what remains here is rounding,
        // bounded by the scale of the key weight's gradient.
        let keyBiases = gradients.keys.filter { $0.hasSuffix("k_proj.bias") }.sorted()
        #expect(keyBiases.count == encoder.config.numHiddenLayers)
        for key in keyBiases {
            let weightKey = key.replacingOccurrences(of: ".bias", with: ".weight")
            let scale = try #require(fixture.gradients[weightKey]).scalars.map(abs).max() ?? 0
            let peak = gradients.removeValue(forKey: key)!.scalars.map(abs).max() ?? 0
            #expect(peak <= 1e-5 * scale, "\(key): \(peak), zero in exact arithmetic, above 1e-5 of \(weightKey)'s max \(scale)")
            print("\(key): max |g| \(peak / scale) of \(weightKey)'s max |ref| (0 in exact arithmetic)")
        }
        let worst = try fixture.expectMatches(gradients, tolerance: 1e-5)
        print("clip text: loss \(loss.buffer[0]) (PyTorch \(fixture.loss)); \(gradients.count) gradients + 2 k_proj.bias, "
              + "worst \(worst.worst) of max |ref| (\(worst.key))")
    }
}
