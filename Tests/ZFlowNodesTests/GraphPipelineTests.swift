import Foundation
import Testing
import ZFlowGraph
import ZFlowIO
import ZFlowNodes
import ZFlowTensor
import ZFlowTestSupport

private func path(_ relative: String) -> String { repositoryPath(relative) }

/// The PyTorch reference of the whole tiny pipeline (tools/make_tiny_models.py): chelsea.png,
/// "a cat" in the default template, t = 400, seed 0.
private func reference(_ key: String) throws -> Tensor {
    try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path("Tests/ZFlowModelsTests/Fixtures/ldznet/pipeline_tiny.safetensors")))
        .tensor(key)
}

/// Runs a bundled graph on the bundled tiny models, with outputs into a temporary folder.
private func run(_ graphName: String, outputs names: [String], settings extra: [String: String] = [:],
                 engine: Engine? = nil) async throws -> (RunReport, [String: any Sendable]) {
    let registry = standardRegistry()
    let graph = try Checker.check(fileAt: path("graphs/\(graphName).zflow"), registry: registry)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-nodes-\(UUID().uuidString)")
    var settings = ["image": path("examples/images/chelsea.png"), "prompt": "a cat",
                    "sd": path("models/tiny/sd-v1-tiny.safetensors"),
                    "mask_path": folder.appendingPathComponent("mask.png").path,
                    "overlay_path": folder.appendingPathComponent("overlay.png").path]
    if graph.param(named: "ldznet") != nil {
        settings["ldznet"] = path(graphName == "ldznet-concat" ? "models/tiny/ldznet-concat-tiny.safetensors"
                                                               : "models/tiny/ldznet-tiny.safetensors")
    }
    // The PyTorch reference pipeline resizes to 384 x 384 pixels, as the released LD-ZNet does.
    if graph.param(named: "area") != nil { settings["area"] = "384" }
    settings.merge(extra) { $1 }
    let references = try names.map { try graph.output($0) }
    let report = try await (engine ?? Engine(registry: registry, cache: .disabled))
        .run(graph, parameters: try graph.parameterValues(settings: settings), outputs: references)
    #expect(report.failures.isEmpty, "\(report.failures)")
    var values: [String: any Sendable] = [:]
    for (name, reference) in zip(names, references) { values[name] = report.outputs[reference] }
    return (report, values)
}

@Suite(.serialized) struct GraphPipelineTests {
    @Test func ldznetGraphMatchesThePyTorchPipeline() async throws {
        let (_, values) = try await run("ldznet", outputs: ["z", "text", "logits", "mask"])
        for (name, key, atol) in [("z", "z", Float(1e-4)), ("text", "context", 1e-4), ("logits", "logits", 1e-3)] {
            let actual = try #require(values[name] as? Tensor)
            let report = compare(actual, try reference(key), atol: atol, rtol: 1e-4, name: name)
            print(report)
            #expect(report.passes, "\(report)")
        }
        let mask = try #require(values["mask"] as? Tensor)
        #expect(mask.shape == [1, 1, 300, 451], "the mask takes the original photo's size")
        #expect(Set(mask.scalars).isSubset(of: [0, 1]))
    }

    @Test func zeroShotGraphGivesStandardizedLogitsAtImageSize() async throws {
        let (_, values) = try await run("zeroshot", outputs: ["logits"])
        let logits = try #require(values["logits"] as? Tensor)
        #expect(logits.shape == [1, 1, 256, 448])
        #expect(abs(logits.scalars.reduce(0, +) / Float(logits.count)) < 1e-3, "standardized to zero mean")
    }

    @Test func fusionVariantsRunAndDiffer() async throws {
        let (_, crossAttention) = try await run("ldznet", outputs: ["logits"])
        let (_, concat) = try await run("ldznet-concat", outputs: ["logits"])
        let (_, plain) = try await run("znet", outputs: ["logits"])
        let a = try #require(crossAttention["logits"] as? Tensor)
        let b = try #require(concat["logits"] as? Tensor)
        let c = try #require(plain["logits"] as? Tensor)
        #expect(a.shape == b.shape && b.shape == c.shape)
        #expect(!compare(a, b, atol: 1e-3, rtol: 0).passes && !compare(a, c, atol: 1e-3, rtol: 0).passes)
    }

    @Test func changingTheTimestepReusesTheVAEAndCLIPResults() async throws {
        let registry = standardRegistry()
        let engine = Engine(registry: registry, cache: .init(directory: nil))
        _ = try await run("ldznet", outputs: ["logits"], engine: engine)
        let (report, _) = try await run("ldznet", outputs: ["logits"], settings: ["t": "300"], engine: engine)
        let executed = Set(report.nodes.filter { $0.status == .executed }.map(\.name))
        #expect(!executed.contains("z") && !executed.contains("text") && !executed.contains("prepared"))
        #expect(executed.isSuperset(of: ["zt", "sd_taps", "pooled", "logits"]))
    }
}
