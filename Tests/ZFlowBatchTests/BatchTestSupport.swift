import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowNodes
import ZFlowTensor

// A registry with the standard nodes plus `StubHead`, which turns one UNet tap into
// [1, 1, h, w] logits (channel mean, sign flipped for fusion "concat"), so that the tests
// exercise real upstream stages with the tiny model.

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

let stubHead = ClosureNode(NodeSchema(
    name: "StubHead", doc: "Test stand-in for the LD-ZNet head: the channel mean of the first tap.",
    inputs: [InputSpec("features", .features, doc: "UNet taps"),
             InputSpec("fusion", .string, doc: "cross_attention or concat (concat flips the sign)")],
    outputs: [OutputSpec("logits", .logits, doc: "[1, 1, h, w]")])
) { inputs in
    let features = try inputs.value("features", as: FeatureSet.self)
    guard let tap = features.tapNumbers.first, let tensor = features.taps[tap] else { throw NodeError("no taps") }
    let channels = tensor.shape[1], plane = tensor.shape[2] * tensor.shape[3]
    let sign: Float = try inputs.string("fusion") == "concat" ? -1 : 1
    let out = Tensor(uninitialized: [1, 1, tensor.shape[2], tensor.shape[3]])
    for i in 0..<plane {
        var sum: Float = 0
        for c in 0..<channels { sum += tensor.pointer[c * plane + i] }
        out.mutablePointer[i] = sign * 4 * sum / Float(channels)
    }
    return NodeOutputs(["logits": out])
}

func testRegistry() throws -> NodeRegistry {
    let registry = NodeRegistry()
    registerStandardNodes(into: registry)
    try registry.register(stubHead)
    return registry
}

func stubGraph(_ registry: NodeRegistry) throws -> CheckedGraph {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/stub-ldznet", withExtension: "zflow"))
    return try Checker.check(SourceFile(name: url.path, text: String(contentsOf: url, encoding: .utf8)), registry: registry)
}

/// A manifest with the given lines of examples/dataset/manifest.jsonl, written to a temporary folder.
func subsetManifest(_ ids: [String], in folder: URL) throws -> DatasetManifest {
    let source = repositoryRoot.appendingPathComponent("examples/dataset/manifest.jsonl")
    let full = try DatasetManifest(contentsOf: source)
    let lines = try ids.map { id in
        let sample = try #require(full.samples.first { $0.id == id }, "no sample \(id)")
        let object = ["id": sample.id, "image": sample.image.path, "phrase": sample.phrase, "mask": sample.mask.path]
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
    }
    let url = folder.appendingPathComponent("manifest.jsonl")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    return try DatasetManifest(contentsOf: url)
}

func temporaryFolder(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("zflow-batch-\(name)-\(UUID().uuidString)")
}

func configuration(_ graph: CheckedGraph, manifest: DatasetManifest?, grid: [String], output: URL) throws -> BatchConfiguration {
    var config = BatchConfiguration(graph: graph, dataset: manifest,
                                    grid: try SweepGrid(grid, graph: graph), output: output)
    config.settings = ["sd": .string(repositoryRoot.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors").path)]
    config.concurrency = 2
    return config
}

func memoryEngine(_ registry: NodeRegistry, cache: Bool = true) -> Engine {
    Engine(registry: registry, cache: cache ? Engine.CacheOptions(directory: nil) : .disabled)
}
