import Foundation
import ZFlowBatch
import ZFlowGraph

public enum ProbeProgress: Sendable {
    case unetLoaded(UNetWeightsHeld)
    case features(FeatureProgress)
    case step(ProbeStepProgress)
}

public struct ProbeOutcome: Sendable {
    /// Store files computed by this run, and those found in the store (resume, or other shards).
    public var computed: Int
    public var reused: Int
    /// nil for a shard: shards only fill the store.
    public var results: ProbeResults?
}

/// `zflow probe`: checks everything, binds the folder, fills the feature store (this shard's
/// part), then, for the whole run, trains every cell and scores it; writes RUN/probe.json.
public final class ProbeRunner: Sendable {
    public let engine: Engine

    public init(engine: Engine) {
        self.engine = engine
    }

    public func run(_ config: ProbeConfiguration,
                    progress: (ProbeProgress) throws -> Void = { _ in }) async throws -> ProbeOutcome {
        for name in [config.imageParam, config.phraseParam] {
            guard config.graph.param(named: name) != nil else {
                throw BatchError("\(config.graph.source.name) has no parameter '\(name)' to bind the dataset to "
                    + "(it has: \(config.graph.params.map(\.name).joined(separator: ", ")); see --image-param/--phrase-param)")
            }
            guard config.settings[name] == nil else { throw BatchError("--set \(name): this parameter is bound by the dataset") }
        }
        guard config.training.epochs >= 1 else { throw BatchError("--epochs must be at least 1, got \(config.training.epochs)") }
        guard config.training.hidden >= ProbeDecoder.groups, config.training.hidden % ProbeDecoder.groups == 0 else {
            throw BatchError("--hidden \(config.training.hidden): must be a positive multiple of \(ProbeDecoder.groups) (GroupNorm groups)")
        }
        let plan = try ProbeFeaturePlan(graph: config.graph, node: config.featuresNode,
                                        values: config.graph.parameterValues(config.settings))
        for name in [plan.timestepParam] + (plan.seedParam.map { [$0] } ?? []) where config.settings[name] != nil {
            throw BatchError("--set \(name): zflow probe sets this parameter (--timesteps, --seeds)")
        }
        let grid = try ProbeGrid(taps: config.taps, timesteps: config.timesteps, seeds: config.seeds ?? [plan.graphSeed])
        try plan.check(grid, graph: config.graph, settings: config.settings)
        let identity = try ProbeRunFolder.identity(config, plan: plan, grid: grid)
        let store = FeatureStore(run: config.output, digest: identity.digest)
        try ProbeRunFolder.bind(config.output, identity: identity, store: store, shard: config.shard, overwrite: config.overwrite)

        let (computed, reused) = try await FeaturePass(engine: engine, plan: plan, store: store, grid: grid)
            .run(config, progress: progress)
        guard config.shard.count == 1 else { return ProbeOutcome(computed: computed, reused: reused, results: nil) }
        let results = try ProbeTrainer(store: store, grid: grid, training: config.training)
            .run(train: config.train, val: config.val) { try progress(.step($0)) }
        try RunFiles.write(results, to: ProbeRunFolder.probeResults(config.output))
        return ProbeOutcome(computed: computed, reused: reused, results: results)
    }
}
