import Foundation
import Testing
import ZFlowGraph
import ZFlowIO
import ZFlowNodes
import ZFlowTensor

/// `LoadTensor(as:)` on files written elsewhere (no ZFlow metadata): a leading batch 1 is accepted
/// for every form, and values an image cannot hold are refused by key and position.
@Suite struct LoadTensorFormTests {
    private func tensor(_ shape: [Int], scale: Float = 0.01) -> Tensor {
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, scalars: (0..<count).map { Float($0 % 101) * scale })
    }

    /// Writes `tensors` as a PyTorch script would (no metadata), loads `key` as `type`.
    private func load(_ tensors: [String: Tensor], key: String, as type: String) async throws -> (RunReport, (any Sendable)?) {
        let file = temporaryPath(".safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        try writeSafeTensors(tensors, to: file)
        let (report, values) = try await runGraph("""
            loaded = LoadTensor(path: "\(file.path)", name: "\(key)", as: \(type))
            """, outputs: ["loaded"])
        return (report, values["loaded"])
    }

    @Test func aLeadingBatchOfOneIsDroppedWhereTheFormHasNone() async throws {
        let cases: [(type: String, stored: [Int], loaded: [Int])] = [
            ("TextEmbedding", [1, 7, 8], [7, 8]), ("TextEmbedding", [7, 8], [7, 8]),
            ("Latent", [1, 4, 2, 3], [1, 4, 2, 3]), ("Logits", [1, 1, 5, 6], [1, 1, 5, 6]),
            ("Mask", [1, 1, 5, 6], [1, 1, 5, 6]), ("Tensor", [1, 3, 2], [1, 3, 2]),
        ]
        for (type, stored, expected) in cases {
            let original = tensor(stored)
            let (report, value) = try await load(["t": original], key: "t", as: type)
            #expect(report.failures.isEmpty, "\(type) \(stored): \(report.failures)")
            let loaded = try #require(value as? Tensor, "\(type) \(stored)")
            #expect(loaded.shape == expected && loaded.scalars == original.scalars, "\(type) \(stored)")
        }
    }

    @Test func anImageComesFromAnHWCTensorOfUnitRangeValuesWithOrWithoutBatch() async throws {
        let pixels: [UInt8] = [0, 1, 2, 127, 128, 255, 10, 20, 30, 40, 50, 60]
        let values = pixels.map { Float($0) / 255 }
        for shape in [[2, 2, 3], [1, 2, 2, 3]] {
            let (report, value) = try await load(["img": Tensor(shape: shape, scalars: values)], key: "img", as: "Image")
            #expect(report.failures.isEmpty, "\(report.failures)")
            let image = try #require(value as? ImageValue)
            #expect(image.image.width == 2 && image.image.height == 2 && image.image.pixels == pixels)
            #expect(image.originalWidth == 2 && image.originalHeight == 2, "without metadata the image is its own original")
        }
    }

    @Test func imageValuesOutsideTheUnitRangeAreRefusedByPosition() async throws {
        var values = [Float](repeating: 0.5, count: 12)
        values[7] = 1.5
        let (report, _) = try await load(["img": Tensor(shape: [2, 2, 3], scalars: values)], key: "img", as: "Image")
        let message = try #require(report.failures.first).message
        #expect(message.hasSuffix("holds 1.5 at [1, 0, 1]; an image's values are in [0, 1]") && message.contains("tensor 'img' in "),
                "\(message)")
    }

    @Test func featuresComeFromTapKeysTheirStageFromTheShapes() async throws {
        let raw = ["f.tap6": tensor([1, 4, 2, 2]), "f.tap7": tensor([1, 8, 1, 1]), "other": tensor([3])]
        let (rawReport, rawValue) = try await load(raw, key: "f", as: "Features")
        #expect(rawReport.failures.isEmpty, "\(rawReport.failures)")
        let rawSet = try #require(rawValue as? FeatureSet)
        #expect(rawSet.stage == .raw && rawSet.tapNumbers == [6, 7] && rawSet.taps[7]?.scalars == raw["f.tap7"]?.scalars)

        let (pooledReport, pooledValue) = try await load(["f.tap6": tensor([1, 5, 4]), "f.tap8": tensor([2, 8])], key: "f", as: "Features")
        #expect(pooledReport.failures.isEmpty, "\(pooledReport.failures)")
        let pooled = try #require(pooledValue as? FeatureSet)
        #expect(pooled.stage == .pooled && pooled.taps[6]?.shape == [5, 4] && pooled.taps[8]?.shape == [2, 8])

        let (mixed, _) = try await load(["f.tap6": tensor([1, 4, 2, 2]), "f.tap8": tensor([2, 8])], key: "f", as: "Features")
        #expect(mixed.failures.first?.message.contains("mix raw [1, C, h, w] and pooled [N, C] tensors") == true, "\(mixed.failures)")
        let (none, _) = try await load(["g.tap6": tensor([2, 8])], key: "f", as: "Features")
        #expect(none.failures.first?.message.contains("has no tensors 'f.tapN' (it has: g.tap6)") == true, "\(none.failures)")
    }

    /// Before, check accepted `SaveTensor(value: image)` and the run failed; features were refused.
    @Test func checkAcceptsSaveTensorOfEveryTensorValuedTypeAndLoadTensorAsEvery() throws {
        let registry = standardRegistry()
        let schema = try #require(registry.nodeType(named: "SaveTensor")?.schema.input(named: "value"))
        let loadable = try #require(registry.nodeType(named: "LoadTensor")?.schema.input(named: "as")?.constraint)
        for type in PortType.namedTypes.values.filter(\.isTensorLike) {
            #expect(schema.type.accepts(type), "SaveTensor refuses \(type)")
            #expect(loadable.admits(.string(type.description)), "LoadTensor cannot give \(type)")
        }
        _ = try Checker.check(SourceFile(name: "features.zflow", text: """
            image = LoadTensor(path: "x.safetensors", as: Image)
            small = PrepareImage(image: image, area: 128)
            taps  = LoadTensor(path: "x.safetensors", name: "f", as: Features)
            SaveTensor(value: small, path: "image.safetensors")
            SaveTensor(value: taps, path: "taps.safetensors")
            """), registry: registry)
    }
}
