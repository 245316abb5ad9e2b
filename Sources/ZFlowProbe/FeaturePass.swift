import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowModels
import ZFlowTensor

/// What the feature pass reports after each store file.
public struct FeatureProgress: Sendable {
    public var split: FeatureSplit
    public var sample: String
    public var t: Int
    public var seed: Int
    /// False when the file was already in the store (resume).
    public var computed: Bool
    public var done: Int
    public var total: Int
}

/// How the feature pass holds the SD UNet's weight tensors, reported when it loads the UNet.
public struct UNetWeightsHeld: Sendable, Equatable {
    /// Tensors in memory only while their layer computes (`ProbeConfiguration.unetInMemory`).
    public var onDemand: Int
    public var total: Int
}

/// Fills the feature store: per sample of this shard (train, then val, in manifest order), per
/// seed and t, the engine computes UNetFeatures' inputs (VAE and CLIP are memoized, so they run
/// once per sample), the SD UNet runs once with every requested tap, and the file is written.
/// A file already in the store is not computed again.
struct FeaturePass {
    let engine: Engine
    let plan: ProbeFeaturePlan
    let store: FeatureStore
    let grid: ProbeGrid

    func run(_ config: ProbeConfiguration, progress: (ProbeProgress) throws -> Void) async throws -> (computed: Int, reused: Int) {
        let work = FeatureSplit.allCases.flatMap { split in
            config.manifest(split).samples.filter { config.shard.contains(position: $0.index) }.map { (split, $0) }
        }
        let total = work.count * grid.seeds.count * grid.timesteps.count
        var computed = 0, reused = 0
        var unet: UNet2DConditionModel?
        for (split, sample) in work {
            var mask: Tensor?
            for seed in grid.seeds {
                for t in grid.timesteps {
                    let url = store.file(split, sample: sample.index, t: t, seed: seed)
                    let exists = FileManager.default.fileExists(atPath: url.path)
                    if !exists {
                        let model = try unet ?? loadUNet(config, progress: progress)
                        unet = model
                        let truth = try mask ?? maskTensor(sample, split: split)
                        mask = truth
                        let (latent, text) = try await engineInputs(config, sample: sample, split: split, t: t, seed: seed)
                        let taps = try model(latent, timestep: Float(t), context: text, taps: Set(grid.taps), wantEps: false).taps
                        try store.write(FeatureFile(taps: taps, text: text, mask: truth, id: sample.id), to: url, t: t, seed: seed)
                        computed += 1
                    } else {
                        reused += 1
                    }
                    try progress(.features(FeatureProgress(split: split, sample: sample.id, t: t, seed: seed, computed: !exists,
                                                           done: computed + reused, total: total)))
                }
            }
        }
        return (computed, reused)
    }

    /// The SD UNet, its large weights held on demand (widened to f32 only while their layer
    /// computes) unless `unetInMemory`; reports how many are.
    private func loadUNet(_ probe: ProbeConfiguration, progress: (ProbeProgress) throws -> Void) throws -> UNet2DConditionModel {
        let model: UNet2DConditionModel
        do {
            let (weights, config) = try StableDiffusionWeights(url: URL(fileURLWithPath: plan.weights)).unet()
            model = try UNet2DConditionModel(weights: probe.unetInMemory ? weights : weights.onDemand(from: probe.onDemandMinimumElements),
                                             config: config)
        } catch {
            throw BatchError("UNetFeatures node '\(plan.featuresName)': SD weights \(plan.weights): \(error)")
        }
        if let bad = grid.taps.first(where: { $0 > model.tapCount }) {
            throw plan.diagnostic("--taps: tap \(bad) does not exist: the UNet of \(plan.weights) has taps 1...\(model.tapCount)")
        }
        let storages = TensorStorage.reachable(from: model)
        try progress(.unetLoaded(UNetWeightsHeld(onDemand: storages.filter(\.isOnDemand).count, total: storages.count)))
        return model
    }

    /// The mask as BCE targets at its own size: [1, 1, H, W], 1 foreground, 0 background.
    private func maskTensor(_ sample: DatasetSample, split: FeatureSplit) throws -> Tensor {
        let truth: GroundTruthMask
        do { truth = try GroundTruthMask(contentsOf: sample.mask) } catch {
            throw BatchError("\(split.rawValue) sample '\(sample.id)' (line \(sample.line)): mask \(sample.mask.path): \(error)")
        }
        return Tensor(shape: [1, 1, truth.height, truth.width], scalars: truth.foreground.map { $0 ? 1 : 0 })
    }

    private func engineInputs(_ config: ProbeConfiguration, sample: DatasetSample, split: FeatureSplit, t: Int,
                              seed: Int) async throws -> (latent: Tensor, text: Tensor) {
        var parameters = config.settings
        parameters[config.imageParam] = .string(sample.image.path)
        parameters[config.phraseParam] = .string(sample.phrase)
        parameters[plan.timestepParam] = .int(t)
        if let seedParam = plan.seedParam { parameters[seedParam] = .int(seed) }
        let report = try await engine.run(config.graph, parameters: parameters, outputs: plan.engineOutputs,
                                          options: Engine.RunOptions(concurrency: config.concurrency, runSinks: false))
        let place = "\(split.rawValue) sample '\(sample.id)' (line \(sample.line)), t \(t), seed \(seed)"
        guard report.succeeded else {
            throw BatchError("\(place): " + report.failures.map(\.description).joined(separator: "\n"), isNodeFailure: true)
        }
        func tensor(_ reference: OutputReference) throws -> Tensor {
            guard let value = report.outputs[reference] as? Tensor else {
                throw BatchError("\(place): \(reference) gave no tensor for UNetFeatures node '\(plan.featuresName)'")
            }
            return value
        }
        return (try tensor(plan.latent), try tensor(plan.text))
    }
}
