import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowModels

/// How each cell's decoder trains (AdamW with torch's semantics, one sample per step).
public struct ProbeTraining: Codable, Equatable, Sendable {
    /// Passes over the training files.
    public var epochs = 1
    public var learningRate = 1e-3
    public var weightDecay = 1e-2
    /// Channels of the decoder's hidden layer (a multiple of `ProbeDecoder.groups`).
    public var hidden = 32
    /// Seeds the decoders' initial weights.
    public var seed = 0

    public init() {}
}

public struct ProbeConfiguration: Sendable {
    public var graph: CheckedGraph
    public var train: DatasetManifest
    public var val: DatasetManifest
    public var output: URL
    public var plugins: [String] = []
    /// `--set` values (already parsed by the params' types).
    public var settings: [String: Constant] = [:]
    public var imageParam = "image"
    public var phraseParam = "prompt"
    /// `--features NODE`; nil for the graph's only UNetFeatures node.
    public var featuresNode: String?
    public var taps = ProbeGrid.defaultTaps
    public var timesteps = ProbeGrid.defaultTimesteps
    /// nil: the seed the graph's AddNoise node uses.
    public var seeds: [Int]?
    public var training = ProbeTraining()
    /// A shard computes only its part of the feature store; the run without `--shard` trains.
    public var shard: Shard = .whole
    public var overwrite = false
    /// Whether the feature pass holds the SD UNet's weights in memory as f32 for the whole pass.
    /// By default each layer's weights are widened (or paged in) only while the layer computes and
    /// given back after it: at full size (16 taps x 2 timesteps) peak RSS falls from 4.0 GB to
    /// 0.7 GB, each UNet run taking about 0.65 s longer (docs/training.md, "Memory"). The features
    /// are the same bit for bit.
    public var unetInMemory = false
    /// Without `unetInMemory`, the UNet's weight tensors of at least this many values are the ones
    /// held on demand (SD's convolution and linear weights; the norms' are kept). Tests lower it
    /// to reach the tiny UNet's.
    public var onDemandMinimumElements = WeightReader.onDemandMinimumElements
    public var concurrency = ProcessInfo.processInfo.activeProcessorCount

    public init(graph: CheckedGraph, train: DatasetManifest, val: DatasetManifest, output: URL) {
        self.graph = graph
        self.train = train
        self.val = val
        self.output = output
    }

    func manifest(_ split: FeatureSplit) -> DatasetManifest { split == .train ? train : val }
}
