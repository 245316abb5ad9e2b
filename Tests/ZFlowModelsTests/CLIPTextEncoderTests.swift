import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// The tiny random CLIPTextModel of tools/fixtures/clip.py in its three layouts.
private func tinyURL(_ name: String) throws -> URL {
    try #require(Bundle.module.url(forResource: "Fixtures/clip/tiny/\(name)", withExtension: nil))
}

private let tinyConfig = CLIPTextConfig(
    vocabSize: 1024, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
    numAttentionHeads: 4, maxPositionEmbeddings: 77, hiddenAct: "quick_gelu", layerNormEps: 1e-5)

/// Compares with a tolerance scaled to the reference's magnitude.
private func expectClose(_ actual: Tensor, _ expected: Tensor, _ name: String) {
    let peak = expected.buffer.map(abs).max() ?? 1
    let report = compare(actual, expected, atol: 1e-5 * max(peak, 1), rtol: 1e-5, name: name)
    print(report)
    #expect(report.passes, "\(report)")
}

/// Writes `tensors` to a temporary safetensors file and opens it.
private func temporarySource(_ tensors: [String: Tensor]) throws -> SafeTensorsFile {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("clip-\(UUID().uuidString).safetensors")
    try writeSafeTensors(tensors, to: url)
    return try SafeTensorsFile(contentsOf: url)
}

private func allTensors(_ source: TensorSource) throws -> [String: Tensor] {
    try Dictionary(uniqueKeysWithValues: source.keys.map { ($0, try source.tensor($0)) })
}

@Suite struct CLIPTextEncoderTests {
    static let cases = ["short", "random", "full"]

    static func encoders() throws -> [(String, CLIPTextEncoder)] {
        [
            ("transformers folder", try CLIPTextEncoder(folder: tinyURL("text_encoder"))),
            ("pipeline root", try CLIPTextEncoder(folder: tinyURL("text_encoder").deletingLastPathComponent())),
            ("transformers sharded folder", try CLIPTextEncoder(folder: tinyURL("sharded/text_encoder"))),
            ("sharded pipeline root (StableDiffusionWeights)", try shardedThroughTheLayout()),
            ("CompVis f16", try CLIPTextEncoder(config: tinyConfig, weights: SafeTensorsFile(contentsOf: tinyURL("compvis.safetensors")))),
            ("CompVis .ckpt", try CLIPTextEncoder(config: tinyConfig, weights: openTensorSource(tinyURL("compvis.ckpt")))),
            ("CompVis old f16", try CLIPTextEncoder(config: tinyConfig, weights: SafeTensorsFile(contentsOf: tinyURL("compvis_old.safetensors")))),
        ]
    }

    /// The sharded text_encoder/ of tools/fixtures/sharded.py as the graph nodes load it.
    static func shardedThroughTheLayout() throws -> CLIPTextEncoder {
        let (weights, configFile) = try StableDiffusionWeights(url: tinyURL("sharded")).textEncoder()
        #expect(weights.source is ShardedTensorSource)
        return try CLIPTextEncoder(config: CLIPTextConfig.read(#require(configFile)), weights: weights.source)
    }

    @Test func configIsReadFromConfigJSON() throws {
        #expect(try CLIPTextConfig.read(tinyURL("text_encoder/config.json")) == tinyConfig)
        // Absent keys take transformers' CLIPTextConfig defaults; a CLIPConfig's text_config is used.
        let partial = try JSONDecoder().decode(CLIPTextConfig.self, from: Data(#"{"hidden_size": 768}"#.utf8))
        #expect(partial.hiddenSize == 768 && partial.numAttentionHeads == 8 && partial.intermediateSize == 2048)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("clip-config-\(UUID().uuidString).json")
        try Data(#"{"text_config": {"hidden_size": 1024, "num_attention_heads": 16, "hidden_act": "gelu"}}"#.utf8).write(to: url)
        let nested = try CLIPTextConfig.read(url)
        #expect(nested.hiddenSize == 1024 && nested.numAttentionHeads == 16 && nested.hiddenAct == "gelu")
        try Data(#"{"hidden_act": "relu"}"#.utf8).write(to: url)
        #expect(throws: CLIPConfigError.self) { try CLIPTextConfig.read(url) }
    }

    @Test func everyLayoutMatchesTransformers() throws {
        let expected = try SafeTensorsFile(contentsOf: tinyURL("expected.safetensors"))
        for (layout, encoder) in try Self.encoders() {
            for name in Self.cases {
                let ids = try expected.tensor("\(name).ids").scalars.map { Int($0) }
                let output = try encoder(ids, penultimate: true)
                expectClose(output.lastHiddenState, try expected.tensor("\(name).last_hidden_state"), "\(layout) \(name) last_hidden_state")
                let penultimate = try #require(output.penultimate)
                expectClose(penultimate, try expected.tensor("\(name).penultimate"), "\(layout) \(name) hidden_states[-2]")
            }
        }
    }

    @Test func shorterSequencesAndBadIds() throws {
        let encoder = try CLIPTextEncoder(folder: tinyURL("text_encoder"))
        let output = try encoder([1022, 5, 1023])
        #expect(output.lastHiddenState.shape == [3, 32] && output.penultimate == nil)
        #expect(throws: ShapeError.self) { try encoder([1022, 1024]) }
        #expect(throws: ShapeError.self) { try encoder(Array(repeating: 1, count: 78)) }
    }

    @Test func missingKeyIsNamed() throws {
        var tensors = try allTensors(SafeTensorsFile(contentsOf: tinyURL("compvis.safetensors")))
        let key = "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc2.bias"
        tensors[key] = nil
        #expect {
            try CLIPTextEncoder(config: tinyConfig, weights: temporarySource(tensors))
        } throws: { error in
            guard case let .incompatible(missing, misshapen, unused, _) = error as? WeightError else { return false }
            return missing == [key] && misshapen.isEmpty && unused.isEmpty
        }
    }

    @Test func unusedKeyIsNamed() throws {
        var tensors = try allTensors(SafeTensorsFile(contentsOf: tinyURL("text_encoder/model.safetensors")))
        tensors["text_model.encoder.layers.2.mlp.fc1.bias"] = Tensor(zeros: [64])
        #expect {
            try CLIPTextEncoder(config: tinyConfig, weights: temporarySource(tensors))
        } throws: { error in
            guard case let .incompatible(missing, misshapen, unused, _) = error as? WeightError else { return false }
            return missing.isEmpty && misshapen.isEmpty && unused == ["text_model.encoder.layers.2.mlp.fc1.bias"]
        }
    }

    @Test func misshapenKeyIsNamed() throws {
        var tensors = try allTensors(SafeTensorsFile(contentsOf: tinyURL("compvis_old.safetensors")))
        let key = "cond_stage_model.transformer.encoder.layers.0.self_attn.q_proj.weight"
        tensors[key] = Tensor(zeros: [32, 16])
        #expect {
            try CLIPTextEncoder(config: tinyConfig, weights: temporarySource(tensors))
        } throws: { error in
            guard case let .incompatible(missing, misshapen, unused, _) = error as? WeightError else { return false }
            return missing.isEmpty && unused.isEmpty
                && misshapen == [MisshapenTensor(key: key, expected: [32, 32], found: [32, 16])]
        }
    }

    @Test func transformers5LayoutWithoutTextModelLevel() throws {
        let stored = try allTensors(SafeTensorsFile(contentsOf: tinyURL("text_encoder/model.safetensors")))
        let flat = Dictionary(uniqueKeysWithValues: stored.map { (String($0.key.dropFirst("text_model.".count)), $0.value) })
        let encoder = try CLIPTextEncoder(config: tinyConfig, weights: temporarySource(flat))
        let expected = try SafeTensorsFile(contentsOf: tinyURL("expected.safetensors"))
        let ids = try expected.tensor("short.ids").scalars.map { Int($0) }
        expectClose(try encoder(ids).lastHiddenState, try expected.tensor("short.last_hidden_state"), "transformers 5 short")
    }

    @Test func fileWithoutCLIPIsRejected() throws {
        #expect(throws: CLIPWeightLayoutError.self) {
            try CLIPTextEncoder(weights: temporarySource(["model.diffusion_model.out.2.bias": Tensor(zeros: [4])]))
        }
    }
}
