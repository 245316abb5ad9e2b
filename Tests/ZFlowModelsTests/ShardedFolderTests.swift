import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

/// The sharded copies written by tools/fixtures/sharded.py (diffusers' and transformers' own
/// `save_pretrained(max_shard_size:)`) against the single files they were made from: the same
/// tensors bit for bit, so the same model outputs bit for bit. (Their outputs against diffusers /
/// transformers: VAEParityTests and CLIPTextEncoderTests.)
@Suite struct ShardedFolderTests {
    static let vaeIndex = "diffusion_pytorch_model.safetensors.index.fp16.json"

    static func clipURL(_ name: String) throws -> URL {
        try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/clip/tiny/\(name)")
    }

    /// Same keys, stored types, shapes and bits.
    func expectSameTensors(_ sharded: ShardedTensorSource, _ single: SafeTensorsFile) throws {
        #expect(sharded.keys == single.keys)
        var values = 0
        for key in single.keys {
            #expect(sharded.storedType(of: key) == single.storedType(of: key), "\(key)")
            let (a, b) = (try sharded.tensor(key), try single.tensor(key))
            #expect(a.shape == b.shape && a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern), "\(key)")
            values += b.count
        }
        print("\(sharded.origin): \(sharded.keys.count) tensors (\(values) values) in \(sharded.shardNames.count) shards, bitwise equal to \(single.origin)")
    }

    func expectBitwiseEqual(_ a: Tensor, _ b: Tensor, _ name: String) {
        #expect(a.shape == b.shape && a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern), "\(name)")
    }

    @Test func theShardedVAEHoldsTheSingleFilesTensors() throws {
        let sharded = try ShardedTensorSource(indexAt: SDTiny.diffusersSharded.appendingPathComponent("vae/\(Self.vaeIndex)"))
        #expect(sharded.shardNames == (1...3).map { "diffusion_pytorch_model.fp16-0000\($0)-of-00003.safetensors" })
        try expectSameTensors(sharded, SafeTensorsFile(contentsOf: SDTiny.diffusers.appendingPathComponent(
            "vae/diffusion_pytorch_model.fp16.safetensors")))
    }

    @Test func theShardedTextEncoderHoldsTheSingleFilesTensors() throws {
        let sharded = try ShardedTensorSource(indexAt: Self.clipURL("sharded/text_encoder/model.safetensors.index.json"))
        #expect(sharded.shardNames == (1...3).map { "model-0000\($0)-of-00003.safetensors" })
        try expectSameTensors(sharded, SafeTensorsFile(contentsOf: Self.clipURL("text_encoder/model.safetensors")))
    }

    @Test func theShardedVAEEncodesBitForBitAsTheSingleFile() throws {
        func encoder(_ url: URL) throws -> VAEEncoder {
            let (weights, config) = try StableDiffusionWeights(url: url).vae()
            return try VAEEncoder(weights: weights, config: config)
        }
        let image = try SDTiny.io().tensor("image")
        let sharded = try encoder(SDTiny.diffusersSharded)(image)
        let single = try encoder(SDTiny.diffusers)(image)
        expectBitwiseEqual(sharded.mean, single.mean, "VAE mean")
        expectBitwiseEqual(sharded.logvar, single.logvar, "VAE logvar")
    }

    @Test func theShardedTextEncoderEncodesBitForBitAsTheSingleFile() throws {
        let sharded = try CLIPTextEncoder(folder: Self.clipURL("sharded/text_encoder"))
        let single = try CLIPTextEncoder(folder: Self.clipURL("text_encoder"))
        let ids = [1022] + (0..<75).map { ($0 * 37) % 1022 } + [1023]
        let (a, b) = (try sharded(ids, penultimate: true), try single(ids, penultimate: true))
        expectBitwiseEqual(a.lastHiddenState, b.lastHiddenState, "last_hidden_state")
        expectBitwiseEqual(try #require(a.penultimate), try #require(b.penultimate), "hidden_states[-2]")
    }

    /// A scratch copy of the sharded `vae/` (shards as symlinks, as in a Hugging Face cache) with the index under `indexName`.
    func scratchVAE(indexName: String, edit: (inout [String: Any]) throws -> Void = { _ in }) throws -> URL {
        let source = try SDTiny.diffusersSharded.appendingPathComponent("vae")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-sharded-\(UUID())")
        let folder = root.appendingPathComponent("vae")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".safetensors") {
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(name),
                                                       withDestinationURL: source.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        var index = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent(Self.vaeIndex))) as? [String: Any])
        try edit(&index)
        try JSONSerialization.data(withJSONObject: index).write(to: folder.appendingPathComponent(indexName))
        return root
    }

    /// Every index name of a diffusers folder is found: as diffusers and transformers write it,
    /// older diffusers' fp16 name, and the name some third-party tools write.
    @Test(arguments: ["diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors.index.fp16.json",
                      "diffusion_pytorch_model.safetensors.fp16.index.json", "diffusion_pytorch_model.fp16.safetensors.index.json"])
    func everyIndexNameIsFound(_ indexName: String) throws {
        let root = try scratchVAE(indexName: indexName)
        defer { try? FileManager.default.removeItem(at: root) }
        let (weights, config) = try StableDiffusionWeights(url: root).vae()
        let source = try #require(weights.source as? ShardedTensorSource)
        #expect(source.origin == root.appendingPathComponent("vae/\(indexName)").path)
        #expect(source.keys.count == 200)
        _ = try VAEEncoder(weights: weights, config: config)
    }

    @Test func aSingleFileIsPreferredToAnIndex() throws {
        let root = try scratchVAE(indexName: Self.vaeIndex)
        defer { try? FileManager.default.removeItem(at: root) }
        let single = try SDTiny.diffusers.appendingPathComponent("vae/diffusion_pytorch_model.fp16.safetensors")
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("vae/diffusion_pytorch_model.fp16.safetensors"),
                                                   withDestinationURL: single)
        let (weights, _) = try StableDiffusionWeights(url: root).vae()
        #expect(weights.source is SafeTensorsFile)
        #expect(weights.source.origin.hasSuffix("vae/diffusion_pytorch_model.fp16.safetensors"))
    }

    /// The strict loader sees the sharded source as one file: its problems name the index.
    @Test func modelErrorsNameTheIndex() throws {
        let extra = "encoder.mid_block.attentions.1.to_q.weight"
        let root = try scratchVAE(indexName: Self.vaeIndex) { index in
            var map = try #require(index["weight_map"] as? [String: String])
            map[extra] = "extra.safetensors"
            index["weight_map"] = map
        }
        defer { try? FileManager.default.removeItem(at: root) }
        try writeSafeTensors([extra: Tensor(zeros: [2])], to: root.appendingPathComponent("vae/extra.safetensors"))
        let (weights, config) = try StableDiffusionWeights(url: root).vae()
        #expect(throws: WeightError.incompatible(missing: [], misshapen: [], unused: [extra],
                                                 origin: root.appendingPathComponent("vae/\(Self.vaeIndex)").path)) {
            try VAEEncoder(weights: weights, config: config)
        }
    }

    /// An index that does not match its shards is refused when the component is opened, naming the index.
    @Test func aWrongIndexIsRefusedWhenOpened() throws {
        let key = "encoder.conv_in.bias"
        let root = try scratchVAE(indexName: Self.vaeIndex) { index in
            var map = try #require(index["weight_map"] as? [String: String])
            map[key] = map[key] == "diffusion_pytorch_model.fp16-00003-of-00003.safetensors"
                ? "diffusion_pytorch_model.fp16-00001-of-00003.safetensors" : "diffusion_pytorch_model.fp16-00003-of-00003.safetensors"
            index["weight_map"] = map
        }
        defer { try? FileManager.default.removeItem(at: root) }
        let indexPath = root.appendingPathComponent("vae/\(Self.vaeIndex)").path
        #expect {
            try StableDiffusionWeights(url: root).vae()
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(indexPath) && text.contains("tensor '\(key)': listed in shard") && text.contains("but absent from it (it is in")
        }
    }
}
