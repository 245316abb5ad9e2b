import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowIO
import ZFlowModels
import ZFlowNodes
import ZFlowTensor
import ZFlowTrain
import ZFlowTraining

/// `--train 'cond_stage_model.**'`: the CLIP text encoder of the CLIPTextEncode node that feeds ZNet
/// trains with it (graphs/ldznet.zflow, the bundled tiny models, synthetic scenes).
@Suite struct TextEncoderTrainingTests {
    static let patterns = TrainingConfiguration.defaultTrainPatterns + ["cond_stage_model.**"]
    static let sd = ZNetTrainerTests.root.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors")
    static let textPrefix = "cond_stage_model.transformer.text_model."

    /// The tiny SD's text encoder config (its sidecar gives the heads).
    static var config: CLIPTextConfig { get throws { try StableDiffusionWeights(url: sd).textEncoderModel().config } }

    /// The tiny SD's text encoder as stored, and the ids of `phrase` in graphs/ldznet.zflow's template.
    static func storedTextEncoder(_ phrase: String) throws -> (original: TensorTree, model: CLIPTextEncoder, ids: [Int]) {
        let original = try TensorTree(source: openTensorSource(sd), prefix: textPrefix)
        let ids = try CLIPTokenizer.bundled().tokenize("a photo of a \(phrase).").ids
        return (original, try CLIPTextEncoder(config: config, weights: original), ids)
    }

    /// The contract's SGD case for the text encoder too: one step with lr 1, momentum 0 and weight
    /// decay 0 changes every ZNet and CLIP parameter by exactly minus its gradient, computed here
    /// on one tape through CLIP (on the prompt in the graph's template) and ZNet.
    @Test func sgdStepIsMinusTheGradientThroughTheTextEncoder() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 384)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({
            $0.trainPatterns = Self.patterns
            $0.hyperparameters.optimizer = .sgd
            $0.hyperparameters.learningRate = 1
            $0.hyperparameters.weightDecay = 0
        }, dataset: dataset, output: run)

        let sample = dataset.samples[0]
        let (z, _, taps) = try await ZNetTrainerTests.znetInputs(sample)
        let truth = try GroundTruthMask(contentsOf: sample.mask)
        let (originalZNet, znet) = try ZNetTrainerTests.storedZNet()
        let (originalText, clip, ids) = try Self.storedTextEncoder(sample.phrase)
        var original = originalZNet
        for key in originalText.keys { original[key] = originalText[key] }
        #expect(originalText.count == 36)
        let tape = GradientTape()
        let loss = try tape.record {
            let logits = try znet(z, context: clip(ids).lastHiddenState, sdFeatures: taps)
            return try bceWithLogits(logits, target: Tensor(shape: logits.shape, scalars: truth.foreground.map { $0 ? 1 : 0 }))
        }
        let gradients = try tape.gradient(of: loss, withRespectTo: original.tensors)
        #expect(originalText.keys.allSatisfy { gradients[$0] != nil }, "every CLIP tensor should get a gradient")

        let checkpoint = TrainingRunFolder(run).lastCheckpoint
        try ZNetTrainerTests.expectMinusGradientStep(from: original, to: checkpoint, gradients: gradients)
        let keys = Set(try SafeTensorsFile(contentsOf: checkpoint).keys)
        for key in originalText.keys {
            #expect(keys.contains(ExponentialMovingAverage.emaKey(for: key)), "no EMA of \(key)")
        }
        #expect(keys.contains("model_ema.cond_stage_modeltransformertext_modelfinal_layer_normweight"))
        let log = try String(contentsOf: TrainingRunFolder(run).log, encoding: .utf8)
        #expect(log.contains("\"loss\":\(loss.buffer[0])"), "\(log)")
    }

    /// A run training the text encoder too (its tensors, their EMA and AdamW's moments in the
    /// checkpoints; the templates --augment reference draws in its prompts) resumes bit for bit.
    @Test func resumedRunEqualsTheUninterruptedOne() async throws {
        try await ResumeTests.expectResumedRunEqualsTheUninterruptedOne(batch: 2, patterns: Self.patterns)
    }

    /// A graph whose ZNet reads its text from a CLIPTextEncode node with the run's checkpoint as
    /// weights (the SD taps keep the SD text encoder, as in training) gives the logits of the EMA
    /// models, rebuilt here from the checkpoint's EMA tensors; the EMA and training copies of CLIP
    /// differ, and both moved away from SD's.
    @Test func graphOnTheCheckpointGivesTheEMAModelsLogits() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 2, size: 64)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({
            $0.trainPatterns = Self.patterns
            $0.steps = 3
            $0.hyperparameters.emaDecay = 0.9
            $0.hyperparameters.learningRate = 1e-3
        }, dataset: dataset, output: run)
        let checkpoint = TrainingRunFolder(run).lastCheckpoint
        let file = try SafeTensorsFile(contentsOf: checkpoint)

        let sample = dataset.samples[1]
        let (original, _, ids) = try Self.storedTextEncoder(sample.phrase)
        var ema = TensorTree(), movedTraining = 0, movedEMA = 0, emaDiffers = 0
        for key in original.keys {
            let average = try file.tensor(ExponentialMovingAverage.emaKey(for: key)), training = try file.tensor(key)
            ema[key] = average
            if training.scalars != original[key]!.scalars { movedTraining += 1 }
            if average.scalars != original[key]!.scalars { movedEMA += 1 }
            if average.scalars != training.scalars { emaDiffers += 1 }
        }
        #expect(movedTraining > original.count / 2 && movedEMA > original.count / 2 && emaDiffers > original.count / 2,
                "moved: training \(movedTraining), EMA \(movedEMA); EMA differs from training in \(emaDiffers) of \(original.count)")
        let emaText = try CLIPTextEncoder(config: Self.config, weights: ema)
        let emaZNet = try LDZNetCheckpoint(url: checkpoint).loadZNet(fusion: "cross_attention").znet

        let (graph, settings, registry) = try Self.graphReadingTheTextFrom("ldznet")
        var parameters = settings
        parameters["image"] = .string(sample.image.path)
        parameters["prompt"] = .string(sample.phrase)
        parameters["ldznet"] = .string(checkpoint.path)
        let outputs = try ["logits", "z", "sd_taps.features"].map { try graph.output($0) }
        let report = try await Engine(registry: registry, cache: .disabled).run(graph, parameters: parameters, outputs: outputs,
                                                                                options: .init(runSinks: false))
        try #require(report.succeeded, "\(report.failures)")
        let logits = try #require(report.outputs[outputs[0]] as? Tensor)
        let z = try #require(report.outputs[outputs[1]] as? Tensor)
        let taps = try #require(report.outputs[outputs[2]] as? FeatureSet).taps
        let expected = try emaZNet(z, context: emaText(ids).lastHiddenState, sdFeatures: taps)
        #expect(ZNetTrainerTests.relativeError(logits, expected) <= 1e-6)
        let frozenText = try await ZNetTrainerTests.znetInputs(sample).text
        #expect(ZNetTrainerTests.relativeError(logits, try emaZNet(z, context: frozenText, sdFeatures: taps)) > 1e-4,
                "the trained text encoder should change the logits")
    }

    /// graphs/ldznet.zflow with ZNet's text from a second CLIPTextEncode node reading param `weights`.
    static func graphReadingTheTextFrom(_ weights: String) throws -> (CheckedGraph, [String: Constant], NodeRegistry) {
        let (_, settings, registry) = try ZNetTrainerTests.graph()
        var text = try String(contentsOf: ZNetTrainerTests.root.appendingPathComponent("graphs/ldznet.zflow"), encoding: .utf8)
        text = text.replacingOccurrences(of: "text     = CLIPTextEncode(text: prompt, weights: sd, template: template)\n",
                                         with: "text     = CLIPTextEncode(text: prompt, weights: sd, template: template)\n"
                                            + "trained  = CLIPTextEncode(text: prompt, weights: \(weights), template: template)\n")
        text = text.replacingOccurrences(of: "ZNet(latent: z, text: text,", with: "ZNet(latent: z, text: trained,")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ldznet-\(UUID().uuidString).zflow")
        try Data(text.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let graph = try Checker.check(fileAt: url.path, registry: registry)
        #expect(graph.nodes.contains { $0.name == "trained" })
        return (graph, settings, registry)
    }

    /// The text encoder trains in the CLIPTextEncode node that feeds ZNet, from its own weights
    /// file: a text made by another node is refused, naming it.
    @Test func textFromAnotherNodeIsRefused() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 64)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (_, settings, registry) = try ZNetTrainerTests.graph()
        var text = try String(contentsOf: ZNetTrainerTests.root.appendingPathComponent("graphs/ldznet.zflow"), encoding: .utf8)
        text = text.replacingOccurrences(of: "ZNet(latent: z, text: text,", with: "ZNet(latent: z, text: loaded,")
        text += "loaded = LoadTensor(path: sd, name: \"t\", as: \"TextEmbedding\")\n"
        let url = folder.appendingPathComponent("g.zflow")
        try Data(text.utf8).write(to: url)
        var configuration = TrainingConfiguration(graph: try Checker.check(fileAt: url.path, registry: registry), dataset: dataset,
                                                  output: folder.appendingPathComponent("run"))
        configuration.settings = settings
        configuration.trainPatterns = Self.patterns
        do {
            _ = try await ZNetTrainer(engine: Engine(registry: registry, cache: .disabled)).run(configuration)
            Issue.record("a text from LoadTensor was accepted")
        } catch let error as BatchError {
            #expect(!error.isNodeFailure)
            #expect(error.message.hasPrefix("--train cond_stage_model.**: the text encoder trains in the CLIPTextEncode node that "
                + "makes ZNet node 'logits''s text; its text comes from LoadTensor node 'loaded' (line "), "\(error.message)")
        }
    }
}
