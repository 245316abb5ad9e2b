import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTestSupport

/// Configs and sidecars that lie about sizes are errors naming the key, never allocations or
/// crashes (issue 10, fault 5).
@Suite struct LyingConfigTests {
    static let absurd = [1_000_000_000, -1, 0, 1 << 40, Int.max, Int.min]

    /// The tiny SD file with its sidecar, one value of section `section` replaced by `value`.
    static func tinySD(_ section: String, _ key: String, _ value: Any) throws -> URL {
        let file = LDZNetFixtures.tinyModels.appendingPathComponent("sd-v1-tiny.safetensors")
        var sidecar = try JSONSerialization.jsonObject(with: Data(contentsOf: file.deletingPathExtension()
            .appendingPathExtension("json"))) as! [String: Any]
        var object = sidecar[section] as! [String: Any]
        object[key] = value
        sidecar[section] = object
        let text = String(decoding: try JSONSerialization.data(withJSONObject: sidecar), as: UTF8.self)
        return try ArchitectureInferenceTests.copy(file, sidecar: text)
    }

    static func load(_ url: URL) throws { _ = try ArchitectureInferenceTests.sdModels(url) }

    @Test(arguments: [
        ("unet", "block_out_channels"), ("unet", "layers_per_block"), ("unet", "cross_attention_dim"),
        ("unet", "in_channels"), ("unet", "out_channels"), ("unet", "attention_head_dim"), ("unet", "norm_num_groups"),
        ("unet", "transformer_layers_per_block"), ("vae", "block_out_channels"), ("vae", "layers_per_block"),
        ("vae", "latent_channels"), ("vae", "norm_num_groups"), ("text_encoder", "num_hidden_layers"),
        ("text_encoder", "hidden_size"), ("text_encoder", "vocab_size"), ("text_encoder", "num_attention_heads"),
        ("text_encoder", "intermediate_size"), ("text_encoder", "max_position_embeddings"),
    ])
    func absurdSidecarValuesAreNamedErrors(section: String, key: String) throws {
        for value in Self.absurd {
            let declared: Any = key == "block_out_channels" ? [value, 16, 32, 32] : value
            let url = try Self.tinySD(section, key, declared)
            defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
            #expect(throws: (any Error).self, "\(section).\(key) = \(value)") { try Self.load(url) }
            do { try Self.load(url) } catch {
                #expect("\(error)".contains(key), "\(section).\(key) = \(value): \(error)")
            }
        }
    }

    /// The issue's case: a diffusers `vae/config.json` asking for 10^9 channels.
    @Test func aDiffusersConfigAskingForABillionChannels() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-lying-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: SDTiny.diffusers, to: folder)
        let configURL = folder.appendingPathComponent("vae/config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        var channels = config["block_out_channels"] as! [Int]
        channels[1] = 1_000_000_000
        config["block_out_channels"] = channels
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        do {
            _ = try StableDiffusionWeights(url: folder).vae()
            Issue.record("a lying config loaded")
        } catch let error as ConfigMismatchError {
            #expect(error.key == "block_out_channels[1]" && error.value == "1000000000" && error.config == configURL.path)
            guard case let .dimension(tensor, shape, axis, _) = error.evidence else {
                Issue.record("\(error)")
                return
            }
            #expect(tensor == "encoder.down_blocks.1.resnets.0.conv1.weight" && axis == 0)
            var implied = shape.map(String.init)
            implied[0] = "1000000000"
            #expect(error.description.contains("has shape \(shape), the config implies [\(implied.joined(separator: ", "))]"))
        }
    }

    @Test func aLyingPoolGridSizeNamesTheEmbedding() throws {
        let file = LDZNetFixtures.tinyModels.appendingPathComponent("ldznet-tiny.safetensors")
        let url = try ArchitectureInferenceTests.copy(file, sidecar: #"""
            {"unet": {"norm_num_groups": 8}, "pool_grid_sizes": {"7": 1099511627776}}
            """#)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect { try LDZNetCheckpoint(url: url).loadZNet(fusion: "cross_attention") } throws: {
            "\($0)".contains("'pool_grid_sizes.7' = 1099511627776")
                && "\($0)".contains("model_ema.diffusion_modelmiddle_block1attentionpool2Dpositional_embedding")
        }
    }

    /// A model built straight from a reader with a lying config is refused at the first tensor
    /// larger than any the file stores, without allocating it.
    @Test func noPlaceholderOutgrowsTheFile() throws {
        var config = UNetConfig.sdV1
        config.blockOutChannels = [1_000_000_000, 1_000_000_000, 1_000_000_000, 1_000_000_000]
        config.normNumGroups = 8
        let source = try SafeTensorsFile(contentsOf: LDZNetFixtures.sdUNet)
        let reader = WeightReader(source, rename: compVisUNetTable(config).storedKey)
        #expect(throws: WeightError.self) { try reader.load { try UNet2DConditionModel($0, config: config) } }
    }

    /// Seeded mutations of the tiny models' config values: every load ends in a model or an
    /// error, never a crash, and a model that loads runs on a small input.
    @Test func configFuzz() throws {
        var generator = SeededGenerator(seed: 10)
        let sections = ["unet", "vae", "text_encoder"]
        let file = LDZNetFixtures.tinyModels.appendingPathComponent("sd-v1-tiny.safetensors")
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: file.deletingPathExtension()
            .appendingPathExtension("json"))) as! [String: Any]
        let hostile: [Any] = [0, -1, 1, 2, 3, 4, 7, 8, 16, 24, 1_000_000_000, 1 << 40, Int.max, 1.5, "x", NSNull(), [Int]()]
        for _ in 0..<120 {
            let section = sections[Int(generator.next() % 3)]
            var object = original[section] as! [String: Any]
            let keys = object.keys.sorted()
            let key = keys[Int(generator.next() % UInt64(keys.count))]
            var value = hostile[Int(generator.next() % UInt64(hostile.count))]
            if var list = object[key] as? [Int], !list.isEmpty, generator.next() % 2 == 0 {
                list[Int(generator.next() % UInt64(list.count))] = value as? Int ?? 1
                value = list
            }
            object[key] = value
            var sidecar = original
            sidecar[section] = object
            let url = try ArchitectureInferenceTests.copy(
                file, sidecar: String(decoding: try JSONSerialization.data(withJSONObject: sidecar), as: UTF8.self))
            defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
            do {
                let (unet, vae, clip) = try ArchitectureInferenceTests.sdModels(url)
                let context = try clip([49406, 320, 2368, 49407]).lastHiddenState
                _ = try unet(Tensor(zeros: [1, 4, 8, 8]), timestep: 10, context: context)
                _ = try vae(Tensor(zeros: [1, 3, 16, 16]))
            } catch {
                #expect(!"\(error)".isEmpty)
            }
        }
    }
}
