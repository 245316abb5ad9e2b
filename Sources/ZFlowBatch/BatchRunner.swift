import Foundation
import ZFlowEval
import ZFlowGraph

// Runs a graph over (grid point x dataset sample) on ONE engine, so that the memory and disk
// caches serve every stage whose inputs did not change: samples are the outer loop, grid
// points the inner one, so an image's upstream stages are computed once for all points.
// Each finished pair is appended to the shard's samples file at once; a rerun skips pairs
// already recorded (resume). Nothing runs before the settings, the grid values and the sinks'
// output paths are checked, and the output folder is bound to this run's identity.

public struct BatchConfiguration: Sendable {
    public var graph: CheckedGraph
    /// The `--plugin` libraries the registry was built with (part of the run's identity).
    public var plugins: [String] = []
    public var dataset: DatasetManifest?
    public var imageParam = "image"
    public var phraseParam = "prompt"
    /// `NODE` or `NODE.PORT` of the logits; required with a dataset.
    public var logits: String? = "logits"
    /// `--set` values (already parsed by the params' types).
    public var settings: [String: Constant] = [:]
    public var grid: SweepGrid
    public var shard: Shard = .whole
    /// Also run the graph's sinks (SaveMask...) for every sample.
    public var runSinks = false
    public var concurrency = ProcessInfo.processInfo.activeProcessorCount
    /// Overlay thumbnails for samples at positions below this, for the report.
    public var examples = 4
    public var output: URL
    /// Start the output folder over instead of resuming it (required when the run differs).
    public var overwrite = false
    /// Record a sample that fails as failed and go on, instead of stopping.
    public var keepGoing = false

    public init(graph: CheckedGraph, dataset: DatasetManifest?, grid: SweepGrid, output: URL) {
        self.graph = graph
        self.dataset = dataset
        self.grid = grid
        self.output = output
    }
}

/// What the runner reports after each (point, sample).
public struct BatchProgress: Sendable {
    public var done: Int
    public var total: Int
    public var skipped: Int
    public var elapsed: Double
    public var last: SampleRecord

    /// Seconds left at the pace of this run's computed items.
    public var eta: Double? {
        let computed = done - skipped
        return computed > 0 ? elapsed / Double(computed) * Double(total - done) : nil
    }
}

public struct BatchOutcome: Sendable {
    /// Records of this shard (resumed and new), in run order.
    public var records: [SampleRecord]
    public var computed: Int
    public var resumed: Int
    /// Records of failed samples (with `keepGoing`): left out of the metrics.
    public var failed: Int { records.filter { $0.error != nil }.count }
    /// Written only by a whole (unsharded) run; shards are combined by `BatchResults.merge`.
    public var summary: RunSummary?
    public var rows: [ResultRow]?
}

public final class BatchRunner: Sendable {
    public let engine: Engine

    public init(engine: Engine) {
        self.engine = engine
    }

    public func run(_ config: BatchConfiguration,
                    progress: @escaping @Sendable (BatchProgress) -> Void = { _ in }) async throws -> BatchOutcome {
        let logits = try resolveLogits(config)
        try config.grid.checkConstraints(config.graph, settings: config.settings)
        // Without a dataset, the grid points themselves are split among shards.
        let samples: [DatasetSample?] = config.dataset.map { manifest in
            manifest.samples.filter { config.shard.contains(position: $0.index) }
        } ?? [nil]
        let points = config.dataset == nil
            ? config.grid.points.filter { config.shard.contains(position: $0.index) } : config.grid.points
        let runsSinks = config.runSinks || config.dataset == nil
        let sinkOutputs = runsSinks
            ? try SinkOutputs(config, runs: config.grid.points.count * (config.dataset?.samples.count ?? 1)) : nil
        let description = try describe(config)
        let previous = try RunFolder.bind(config.output, description: description, shard: config.shard,
                                          overwrite: config.overwrite)
        let run = description.identity.digest
        var done = Set(previous.map { PairKey(point: $0.point, index: $0.index) })
        let writer = try RecordWriter(RunFiles.samples(config.output, shard: config.shard))

        let total = samples.count * points.count
        var records = previous, computed = 0
        let start = DispatchTime.now()
        func finish(_ record: SampleRecord) throws {
            try writer.append(record)
            done.insert(PairKey(point: record.point, index: record.index))
            records.append(record)
            computed += 1
            progress(BatchProgress(done: previous.count + computed, total: total, skipped: previous.count,
                                   elapsed: Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9,
                                   last: record))
        }
        for sample in samples {
            let pending = points.filter { !done.contains(PairKey(point: $0.index, index: sample?.index ?? 0)) }
            if pending.isEmpty { continue }
            let truth: GroundTruthMask?
            do { truth = try sample.map(groundTruth) } catch {
                guard config.keepGoing else { throw error }
                for point in pending { try finish(.failed(run: run, point: point.index, sample: sample, error: error)) }
                continue
            }
            if let sample, let truth, sample.index < config.examples {
                // Best effort: the image param may name something else than a photo (e.g. stored logits).
                try? ExampleOverlays.write(photo: sample.image, mask: truth.foreground, width: truth.width,
                                           height: truth.height, color: ExampleOverlays.truthColor,
                                           to: ExampleOverlays.file(config.output, point: nil, id: sample.id))
            }
            for point in pending {
                do {
                    var parameters = try sinkOutputs?.parameters(point: point.index, sample: sample) ?? [:]
                    parameters.merge(config.settings.merging(point.values) { $1 }) { output, _ in output }
                    try finish(try await runPoint(config, run: run, point: point, sample: sample, truth: truth,
                                                  parameters: parameters, logits: logits))
                } catch {
                    guard config.keepGoing else { throw error }
                    try finish(.failed(run: run, point: point.index, sample: sample, error: error))
                }
            }
        }
        var outcome = BatchOutcome(records: records, computed: computed, resumed: previous.count)
        if config.shard.count == 1 {
            (outcome.summary, outcome.rows) = try BatchResults.finalize(config.output, description: description, records: records)
        }
        return outcome
    }

    private func groundTruth(_ sample: DatasetSample) throws -> GroundTruthMask {
        do { return try GroundTruthMask(contentsOf: sample.mask) } catch {
            throw BatchError("sample '\(sample.id)' (line \(sample.line)): mask \(sample.mask.path): \(error)")
        }
    }

    private struct PairKey: Hashable {
        var point: Int
        var index: Int
    }

    private func runPoint(_ config: BatchConfiguration, run: String, point: GridPoint, sample: DatasetSample?,
                          truth: GroundTruthMask?, parameters: [String: Constant],
                          logits: OutputReference?) async throws -> SampleRecord {
        var parameters = parameters
        if let sample {
            parameters[config.imageParam] = .string(sample.image.path)
            parameters[config.phraseParam] = .string(sample.phrase)
        }
        // Counted from the events: the nodes that really ran, and the cache hits.
        let tally = NodeTally()
        let report = try await engine.run(
            config.graph, parameters: parameters, outputs: logits.map { [$0] } ?? [],
            options: Engine.RunOptions(concurrency: config.concurrency, runSinks: config.runSinks || sample == nil),
            events: { tally.count($0) })
        let place = sample.map { "sample '\($0.id)' (line \($0.line))" } ?? "the graph"
        guard report.succeeded else {
            throw BatchError("point \(point.index) \(place): "
                + report.failures.map(\.description).joined(separator: "\n"), isNodeFailure: true)
        }
        var record = SampleRecord(run: run, point: point.index, index: sample?.index ?? 0, id: sample?.id ?? "-",
                                  phrase: sample?.phrase ?? "", counts: nil, iou: nil, seconds: report.wallSeconds,
                                  executed: tally.executed, cached: tally.cached, error: nil)
        if let sample, let truth, let logits {
            guard let value = report.outputs[logits] else { throw BatchError("\(place): \(logits) produced no value") }
            let probabilities: [Float]
            do {
                probabilities = try PredictionScoring.probabilities(value, height: truth.height, width: truth.width).scalars
            } catch {
                throw BatchError("point \(point.index) \(place): \(logits): \(error)")
            }
            let counts = try SampleCounts(probabilities: probabilities, mask: truth.foreground)
            record.counts = counts
            record.iou = counts.iou(thresholdIndex: EvaluationThresholds.index03)
            if sample.index < config.examples {
                try? ExampleOverlays.write(photo: sample.image, mask: probabilities.map { $0 > ExampleOverlays.predictionThreshold },
                                          width: truth.width, height: truth.height, color: .red,
                                          to: ExampleOverlays.file(config.output, point: point.index, id: sample.id))
            }
        }
        return record
    }

    private final class NodeTally: @unchecked Sendable {
        private let lock = NSLock()
        private var counts = (executed: 0, cached: 0)
        var executed: Int { lock.withLock { counts.executed } }
        var cached: Int { lock.withLock { counts.cached } }

        func count(_ event: RunEvent) {
            lock.withLock {
                switch event {
                case .cached: counts.cached += 1
                case .finished(let node) where node.status == .executed: counts.executed += 1
                default: break
                }
            }
        }
    }

    private func resolveLogits(_ config: BatchConfiguration) throws -> OutputReference? {
        guard config.dataset != nil else { return nil }
        for name in [config.imageParam, config.phraseParam] where config.graph.param(named: name) == nil {
            throw BatchError("\(config.graph.source.name) has no parameter '\(name)' to bind the dataset to "
                + "(it has: \(config.graph.params.map(\.name).joined(separator: ", ")); see --image-param/--phrase-param)")
        }
        for axis in config.grid.axes where [config.imageParam, config.phraseParam].contains(axis.name) {
            throw BatchError("--grid \(axis.name): this parameter is bound by the dataset")
        }
        for name in config.settings.keys.sorted() where [config.imageParam, config.phraseParam].contains(name) {
            throw BatchError("--set \(name): this parameter is bound by the dataset")
        }
        guard let name = config.logits else { throw BatchError("an evaluation needs --logits NODE[.PORT]") }
        do { return try config.graph.output(name) } catch { throw BatchError("--logits \(name): \(error)") }
    }

    private func describe(_ config: BatchConfiguration) throws -> RunDescription {
        // The bindings of a dataset change what is scored; without one they are unused.
        let options = config.dataset == nil ? [:]
            : ["logits": config.logits ?? "", "image-param": config.imageParam, "phrase-param": config.phraseParam]
        let identity = try RunIdentity(graph: config.graph, plugins: config.plugins, dataset: config.dataset,
                                       settings: config.settings, grid: config.grid.axes, options: options)
        return RunDescription(identity: identity, points: config.grid.points.map { point in
            .init(index: point.index, params: Dictionary(uniqueKeysWithValues: point.texts.map { ($0.name, $0.text) }))
        })
    }
}

extension SampleRecord {
    /// A sample that could not be run or scored (`--keep-going`): no counts, its error kept.
    static func failed(run: String, point: Int, sample: DatasetSample?, error: Error) -> SampleRecord {
        SampleRecord(run: run, point: point, index: sample?.index ?? 0, id: sample?.id ?? "-", phrase: sample?.phrase ?? "",
                     counts: nil, iou: nil, seconds: 0, executed: 0, cached: 0, error: "\(error)")
    }
}
