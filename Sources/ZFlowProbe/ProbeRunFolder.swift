import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph

// A probe's folder belongs to one feature store, identified by content (RunIdentity): the graph's
// text, the plugins, both manifests, `--set`, the bindings, the UNetFeatures node, taps,
// timesteps and seeds. The decoders' options are not part of it: retraining with other options
// reuses the store and rewrites probe.json, which records them.

enum ProbeRunFolder {
    static func probeResults(_ run: URL) -> URL { run.appendingPathComponent("probe.json") }

    static func identity(_ config: ProbeConfiguration, plan: ProbeFeaturePlan, grid: ProbeGrid) throws -> RunIdentity {
        let list = { (values: [Int]) in values.map(String.init).joined(separator: ",") }
        return try RunIdentity(graph: config.graph, plugins: config.plugins, dataset: config.train, settings: config.settings,
                               grid: [], options: ["command": "probe", "val": "\(config.val.samples.count) samples, digest "
                                                      + SHA256.hex(config.val.text),
                                                   "image-param": config.imageParam, "phrase-param": config.phraseParam,
                                                   "features": plan.featuresName, "taps": list(grid.taps),
                                                   "timesteps": list(grid.timesteps), "seeds": list(grid.seeds)])
    }

    /// Binds `run` to `identity`: a folder of another run is refused with what differs unless
    /// `overwrite`, which deletes the whole store (with a shard: that shard's files only).
    static func bind(_ run: URL, identity: RunIdentity, store: FeatureStore, shard: Shard, overwrite: Bool) throws {
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let file = RunFiles.description(run)
        if overwrite {
            try store.clear(shard: shard)
            for stale in [probeResults(run), ProbeReport.heatmapFile(run)] { try? FileManager.default.removeItem(at: stale) }
        } else {
            try identity.requireSameRun(in: run, kind: "probe")
        }
        try RunFiles.write(identity, to: file)
        try store.prepare(shard: shard)
    }
}
