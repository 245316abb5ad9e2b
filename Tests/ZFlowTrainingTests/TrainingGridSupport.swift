import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowIO
import ZFlowNodes
import ZFlowTrain
import ZFlowTraining

/// A small training grid on the bundled tiny models: graphs/ldznet.zflow with its ZNet fusion
/// made a param, a weights file holding both the cross_attention and the concat tensors (so that
/// every built-in fusion loads from it), two synthetic samples for training and validation, at
/// `area=64` (8x8 latents), two steps per point.
struct GridFixture {
    let folder: URL
    let graph: CheckedGraph
    let registry: NodeRegistry
    let dataset: DatasetManifest
    let settings: [String: Constant]

    init() throws {
        (folder, dataset) = try ZNetTrainerTests.scenes(count: 2, size: 64, samples: 2)
        let models = ZNetTrainerTests.root.appendingPathComponent("models/tiny")
        let weights = folder.appendingPathComponent("ldznet-all-fusions.safetensors")
        try Self.writeWeightsOfEveryFusion(cross: models.appendingPathComponent("ldznet-tiny.safetensors"),
                                           concat: models.appendingPathComponent("ldznet-concat-tiny.safetensors"), to: weights)
        try FileManager.default.copyItem(at: models.appendingPathComponent("ldznet-tiny.json"),
                                         to: weights.deletingPathExtension().appendingPathExtension("json"))
        let text = try String(contentsOf: ZNetTrainerTests.root.appendingPathComponent("graphs/ldznet.zflow"), encoding: .utf8)
            .replacingOccurrences(of: "param seed: Int = 0\n", with: "param seed: Int = 0\nparam fusion: String = \"cross_attention\"\n")
            .replacingOccurrences(of: "fusion: \"cross_attention\")", with: "fusion: fusion)")
        let file = folder.appendingPathComponent("ldznet-fusion.zflow")
        try text.write(to: file, atomically: true, encoding: .utf8)
        registry = NodeRegistry()
        registerStandardNodes(into: registry)
        graph = try Checker.check(fileAt: file.path, registry: registry)
        settings = ["sd": .string(models.appendingPathComponent("sd-v1-tiny.safetensors").path), "ldznet": .string(weights.path),
                    "area": .int(64)]
    }

    /// The training copy of the cross_attention file with the concat file's `concat_proj` tensors.
    private static func writeWeightsOfEveryFusion(cross: URL, concat: URL, to url: URL) throws {
        let prefix = "model.diffusion_model."
        var tensors = try TensorTree(source: openTensorSource(cross), prefix: prefix).tensors
        let concatCopy = try TensorTree(source: openTensorSource(concat), prefix: prefix).tensors
        for (key, tensor) in concatCopy where key.contains(".concat_proj.") { tensors[key] = tensor }
        try writeSafeTensors(tensors, to: url)
    }

    /// The options every point shares: `--init random` (so that seeds differ), 2 steps of SGD,
    /// validation on the training samples.
    func configuration(output: String) -> TrainingConfiguration {
        var configuration = TrainingConfiguration(graph: graph, dataset: dataset, output: folder.appendingPathComponent(output))
        configuration.settings = settings
        configuration.steps = 2
        configuration.initialisation = .random
        configuration.hyperparameters.optimizer = .sgd
        configuration.hyperparameters.learningRate = 0.1
        configuration.hyperparameters.emaDecay = 0.9
        configuration.validation = TrainingConfiguration.Validation(dataset: dataset)
        return configuration
    }

    /// A runner on a fresh engine whose memo cache lives in memory only (a new process).
    func runner() -> TrainingGridRunner {
        TrainingGridRunner(trainer: ZNetTrainer(engine: Engine(registry: registry, cache: Engine.CacheOptions(directory: nil))))
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}
