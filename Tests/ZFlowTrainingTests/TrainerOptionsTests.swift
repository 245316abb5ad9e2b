import Foundation
import Testing
import ZFlowBatch
import ZFlowGraph
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain
import ZFlowTraining

/// `zflow train`'s options: epochs and the memo cache, --train, --init, --clip-grad, --schedule, --val.
@Suite struct TrainerOptionsTests {
    /// From the second epoch (augment none: the same image, phrase, template, t and seed) the
    /// memo cache serves VAE, CLIP and the SD taps: counted from the engine's node reports.
    @Test func theSecondEpochRunsNoFrozenModel() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 2, size: 64, samples: 2)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (graph, settings, registry) = try ZNetTrainerTests.graph()
        var configuration = TrainingConfiguration(graph: graph, dataset: dataset, output: folder.appendingPathComponent("run"))
        configuration.settings = settings
        configuration.epochs = 2
        let outcome = try await ZNetTrainer(engine: Engine(registry: registry, cache: Engine.CacheOptions(directory: nil)))
            .run(configuration)
        #expect(outcome.steps.map(\.epoch) == [1, 1, 2, 2])
        #expect(outcome.steps.map(\.sample) == dataset.samples.map(\.id) + dataset.samples.map(\.id))
        let epochs = try String(contentsOf: TrainingRunFolder(configuration.output).epochLog, encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(TrainingEpoch.self, from: Data($0.utf8)) }
        #expect(epochs == outcome.epochs && epochs.count == 2)
        let frozen = ["VAEEncode", "CLIPTextEncode", "UNetFeatures"]
        for type in frozen { #expect((epochs[0].executed[type] ?? 0) > 0, "epoch 1 runs \(type): \(epochs[0].executed)") }
        for type in frozen { #expect(epochs[1].executed[type] == nil, "epoch 2 ran \(type): \(epochs[1].executed)") }
        #expect(epochs[1].cached > 0)
    }

    /// --train narrows what trains: other keys keep their values, the EMA covers the trained ones.
    @Test func trainPatternsChooseTheTrainedKeys() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 64, samples: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({
            $0.trainPatterns = ["model.diffusion_model.final.**", "**.attentionpool2D.**"]
            $0.hyperparameters.optimizer = .sgd
            $0.hyperparameters.learningRate = 1
        }, dataset: dataset, output: run)
        let original = try TensorTree(source: openTensorSource(ZNetTrainerTests.ldznet), prefix: "model.diffusion_model.")
        let trained = try SafeTensorsFile(contentsOf: TrainingRunFolder(run).lastCheckpoint)
        let patterns = try ["model.diffusion_model.final.**", "**.attentionpool2D.**"].map(KeyPattern.init)
        var moved = 0
        for key in original.keys {
            let changed = try trained.tensor(key).scalars != original[key]!.scalars
            if patterns.contains(where: { $0.matches(key) }) { moved += changed ? 1 : 0 } else { #expect(!changed, "\(key) is frozen but moved") }
        }
        #expect(moved > 0)
        let stored = Set(trained.keys.filter { $0.hasPrefix("optimizer.state.") })
        #expect(stored.isEmpty, "SGD without momentum keeps no state")
        await #expect {
            try await ZNetTrainerTests.train({ $0.trainPatterns = ["first_stage_model.**"] }, dataset: dataset,
                                             output: folder.appendingPathComponent("other"))
        } throws: { "\($0)".contains("--train: key pattern 'first_stage_model.**' matches none of the") }
    }

    /// --init random and sd start where ParameterInitialisation says, --init PATH from the copy
    /// --init-copy names (seen after a step at lr 0).
    @Test func initialisationStartsWhereItSays() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 64, samples: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try openTensorSource(ZNetTrainerTests.ldznet)
        let file = try TensorTree(source: source, prefix: "model.diffusion_model.")
        let shapes = file.tensors.mapValues(\.shape)
        // The bundled tiny LD-ZNet's EMA differs from its training copy in every tensor.
        var ema = TensorTree()
        for key in file.keys {
            ema[key] = try source.tensor("model_ema." + key.dropFirst("model.".count).replacingOccurrences(of: ".", with: ""))
                .reshaped(shapes[key]!)
        }
        #expect(file.keys.allSatisfy { file[$0]!.scalars != ema[$0]!.scalars })
        let sd = ZNetTrainerTests.root.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors")
        let (unet, config) = try StableDiffusionWeights(url: sd).unet()
        let expected: [(TrainingConfiguration.Initialisation, TensorTree)] = [
            (.random, try ParameterInitialisation.random(shapes: shapes, seed: 9)),
            (.stableDiffusion, try ParameterInitialisation.zNetFromStableDiffusion(unet, config: config, zNetShapes: shapes, seed: 9)),
            (.checkpoint(ZNetTrainerTests.ldznet.path), file),
            (.checkpoint(ZNetTrainerTests.ldznet.path, copy: .ema), ema),
        ]
        for (index, (initialisation, tree)) in expected.enumerated() {
            let run = folder.appendingPathComponent("run\(index)")
            try await ZNetTrainerTests.train({
                $0.initialisation = initialisation
                $0.seed = 9
                $0.hyperparameters.optimizer = .sgd
                $0.hyperparameters.learningRate = 0
            }, dataset: dataset, output: run)
            let trained = try SafeTensorsFile(contentsOf: TrainingRunFolder(run).lastCheckpoint)
            for key in tree.keys {
                #expect(try trained.tensor(key).scalars == tree[key]!.scalars, "\(initialisation): \(key)")
            }
        }
    }

    /// --clip-grad scales the step to the max norm; the log's grad-norm is the norm before.
    @Test func clippingBoundsTheStep() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 64, samples: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({
            $0.hyperparameters.optimizer = .sgd
            $0.hyperparameters.learningRate = 1
            $0.hyperparameters.clipGradient = 1e-3
        }, dataset: dataset, output: run)
        let original = try TensorTree(source: openTensorSource(ZNetTrainerTests.ldznet), prefix: "model.diffusion_model.")
        let trained = try SafeTensorsFile(contentsOf: TrainingRunFolder(run).lastCheckpoint)
        var squares = 0.0
        for key in original.keys {
            for (a, b) in zip(try trained.tensor(key).scalars, original[key]!.scalars) { squares += Double(a - b) * Double(a - b) }
        }
        let logged = try #require(try ZNetTrainerTests.loggedSteps(run).first)
        #expect(logged.gradNorm > 1e-3, "the unclipped norm is logged")
        #expect(abs(squares.squareRoot() - 1e-3) < 1e-5, "the step's norm is \(squares.squareRoot())")
    }

    /// The schedule's learning rate per step (diffusers' cosine with warm-up) is logged.
    @Test func scheduleSetsEachStepsRate() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 2, size: 64, samples: 2)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        try await ZNetTrainerTests.train({
            $0.steps = 4
            $0.hyperparameters.optimizer = .adam
            $0.hyperparameters.learningRate = 0.01
            $0.hyperparameters.schedule = .cosine
            $0.hyperparameters.warmup = 2
        }, dataset: dataset, output: run)
        let schedule = LearningRateSchedule.cosine(warmupSteps: 2, totalSteps: 4)
        #expect(try ZNetTrainerTests.loggedSteps(run).map(\.lr) == (0..<4).map { 0.01 * schedule.multiplier(at: $0) })
        #expect(try SafeTensorsFile(contentsOf: TrainingRunFolder(run).lastCheckpoint).metadata["zflow.optimizer"] == "adam")
    }

    /// --val runs the eval protocol at every --val-every steps and after the last.
    @Test func validationIsScoredWhenDue() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 2, size: 64, samples: 2)
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = folder.appendingPathComponent("run")
        var outcome: TrainingOutcome?
        let (graph, settings, registry) = try ZNetTrainerTests.graph()
        for weights in TrainingConfiguration.Validation.Weights.allCases {
            var configuration = TrainingConfiguration(graph: graph, dataset: dataset, output: run)
            configuration.settings = settings
            configuration.steps = 3
            configuration.overwrite = true
            configuration.validation = .init(dataset: dataset, every: 2)
            configuration.validation?.weights = weights
            let result = try await ZNetTrainer(engine: Engine(registry: registry, cache: .disabled)).run(configuration)
            #expect(result.validations.map(\.step) == [2, 3])
            #expect(result.validations.allSatisfy { $0.samples == 2 && $0.weights == weights.rawValue })
            outcome = result
        }
        let lines = try String(contentsOf: TrainingRunFolder(run).validationLog, encoding: .utf8).split(separator: "\n")
        #expect(try lines.map { try JSONDecoder().decode(ValidationRecord.self, from: Data($0.utf8)) } == outcome?.validations)
    }
}
