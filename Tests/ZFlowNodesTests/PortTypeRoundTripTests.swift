import Foundation
import Testing
import ZFlowGraph
import ZFlowIO
@testable import ZFlowNodes
import ZFlowTensor

/// Every tensor-valued port type goes through SaveTensor -> LoadTensor(as:) bit for bit, in real
/// graphs on the tiny models, and through the disk cache LoadTensor's output is kept in.
@Suite(.serialized) struct PortTypeRoundTripTests {
    /// The tiny pipeline on a small photo; each tensor-valued type is the output of some node.
    private let pipeline = """
        photo    = LoadImage(path: "\(repositoryPath("examples/images/chelsea.png"))")
        prepared = PrepareImage(image: photo, area: 128)
        z        = VAEEncode(image: prepared, weights: "\(repositoryPath("models/tiny/sd-v1-tiny.safetensors"))")
        text     = CLIPTextEncode(text: "a cat", weights: "\(repositoryPath("models/tiny/sd-v1-tiny.safetensors"))")
        zt       = AddNoise(latent: z, t: 400, seed: 3)
        taps     = UNetFeatures(latent: zt, text: text, t: 400, weights: "\(repositoryPath("models/tiny/sd-v1-tiny.safetensors"))")
        pooled   = AttentionPool(features: taps, weights: "\(repositoryPath("models/tiny/ldznet-tiny.safetensors"))")
        logits   = ZNet(latent: z, text: text, features: pooled, weights: "\(repositoryPath("models/tiny/ldznet-tiny.safetensors"))")
        mask     = Threshold(logits: logits, value: 0.5, like: prepared)
        tensor   = LoadTensor(path: "\(repositoryPath("Tests/ZFlowModelsTests/Fixtures/ldznet/pipeline_tiny.safetensors"))", name: "context")

        """

    /// The nodes of `pipeline` whose outputs have each type (Features: raw and pooled taps).
    private let producers: [PortType: [String]] = [
        .image: ["prepared"], .latent: ["z"], .textEmbedding: ["text"], .features: ["taps.features", "pooled"],
        .logits: ["logits"], .mask: ["mask"], .tensor: ["tensor"],
    ]

    @Test func everyNamedTypeHasACodecAndTheNonTensorOnesAreScalars() {
        let registry = standardRegistry()
        for type in PortType.namedTypes.values {
            #expect(registry.codec(for: type) != nil, "no codec for \(type)")
        }
        let others = Set(PortType.namedTypes.values.filter { !$0.isTensorLike })
        #expect(others == [.int, .float, .bool, .string, .path], "a new type: give it a producer here or a literal codec")
    }

    @Test func everyTensorValuedTypeRoundTripsThroughSaveTensorAndLoadTensorBitExactly() async throws {
        let types = PortType.namedTypes.values.filter(\.isTensorLike).sorted { $0.description < $1.description }
        #expect(types.count == 7)
        for type in types {
            let nodes = try #require(producers[type], "no graph produces a \(type): add one to handle the type")
            for node in nodes { try await roundTrip(node, as: type) }
        }
    }

    private func roundTrip(_ node: String, as type: PortType) async throws {
        let file = temporaryPath(".safetensors"), cache = temporaryPath("-cache")
        defer { for url in [file, cache] { try? FileManager.default.removeItem(at: url) } }
        let (saved, original) = try await runGraph(pipeline + """
            SaveTensor(value: \(node), path: "\(file.path)", name: "v")
            """, outputs: [node])
        #expect(saved.failures.isEmpty, "\(type) from \(node): \(saved.failures)")
        let value = try #require(original[node])

        let load = """
            loaded = LoadTensor(path: "\(file.path)", name: "v", as: \(type))
            SaveTensor(value: loaded, path: "\(file.path).again", name: "v")
            """
        defer { try? FileManager.default.removeItem(atPath: file.path + ".again") }
        for run in ["computed", "from the disk cache"] {
            let engine = Engine(registry: standardRegistry(), cache: .init(directory: cache))
            let (report, values) = try await runGraph(load, outputs: ["loaded"], engine: engine)
            #expect(report.failures.isEmpty, "\(type) from \(node), \(run): \(report.failures)")
            let status = report.nodes.first { $0.name == "loaded" }?.status
            #expect(status == (run == "computed" ? .executed : .diskHit), "\(type) from \(node), \(run)")
            let loaded = try #require(values["loaded"])
            #expect(bits(of: loaded) == bits(of: value), "\(type) from \(node), \(run)")
        }
        let again = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: file.path + ".again"))
        let first = try SafeTensorsFile(contentsOf: file)
        #expect(again.keys == first.keys && again.metadata == first.metadata)
        for key in first.keys { #expect(try bits(of: again.tensor(key)) == bits(of: first.tensor(key)), "\(key)") }
    }

    /// A value as comparable text: kind, shapes, sizes and the bit patterns of every number.
    private func bits(of value: any Sendable) -> String {
        func tensor(_ tensor: Tensor) -> String { "\(tensor.shape):\(tensor.scalars.map(\.bitPattern))" }
        switch value {
        case let value as Tensor:
            return "tensor " + tensor(value)
        case let image as ImageValue:
            return "image \(image.image.width)x\(image.image.height) of \(image.originalWidth)x\(image.originalHeight): \(image.image.pixels)"
        case let features as FeatureSet:
            return "features \(features.stage) " + features.tapNumbers.map { "\($0)=\(tensor(features.taps[$0]!))" }.joined(separator: " ")
        default:
            return "unexpected \(type(of: value))"
        }
    }
}
