import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph

/// `zflow train --grid`: every point of the grid is a `zflow train` run of its own, in its own
/// folder under the grid's (TrainingGridFiles), trained by one `ZNetTrainer`: one engine, so
/// points that differ only in what trains (the seed, or a fusion: what ZNet does, not its
/// inputs) take VAE, CLIP and the SD taps from the memo cache the first point filled. After
/// its last step a point's validation on `--val` (the eval protocol, EMA weights) is stored as
/// its eval.json. A point with a current eval.json is finished and skipped; an interrupted one
/// resumes from its last checkpoint (the single run's `--resume`); `shard` trains only the
/// points at positions p with p % n == i.
public struct TrainingGridRunner: Sendable {
    public enum Event: Sendable {
        /// A point starts training (or continues from its checkpoint at `resuming`).
        case point(TrainingGrid.Point, resuming: Bool)
        case training(TrainingGrid.Point, TrainingEvent)
    }

    public struct Outcome: Sendable {
        /// Folders of the points trained by this call.
        public var trained: [String] = []
        /// Folders of the points already finished.
        public var finished: [String] = []
        /// Folders of other shards' points not finished yet.
        public var pending: [String] = []
    }

    public let trainer: ZNetTrainer

    public init(trainer: ZNetTrainer) {
        self.trainer = trainer
    }

    public func run(_ base: TrainingConfiguration, grid: TrainingGrid, shard: Shard = .whole,
                    progress: @escaping @Sendable (Event) -> Void = { _ in }) async throws -> Outcome {
        try check(base, grid: grid)
        let identity = try RunIdentity(graph: base.graph, plugins: base.plugins, dataset: base.dataset, settings: base.settings,
                                       grid: grid.axes, options: gridOptions(base, grid))
        let owned = try bind(base, identity: identity)
        try RunFiles.write(grid.description, to: TrainingGridFiles.description(base.output))
        var outcome = Outcome()
        for point in grid.points {
            var config = base
            config.output = base.output.appendingPathComponent(point.folder)
            config.settings.merge(point.settings) { $1 }
            config.seed = point.seed ?? base.seed
            let run = try config.runIdentity()
            let evaluation = TrainingGridFiles.evaluation(config.output)
            let ours = shard.contains(position: point.index)
            // --overwrite trains this shard's points again; other shards' stay as they are.
            if !(base.overwrite && ours), let stored = try? RunFiles.read(PointEvaluation.self, from: evaluation),
               stored.run == run.digest, stored.grid == identity.digest {
                outcome.finished.append(point.folder)
                continue
            }
            guard ours else {
                outcome.pending.append(point.folder)
                continue
            }
            config.resume = !base.overwrite && Self.canResume(config, identity: run)
            // A folder of this grid holding a stale run of the point (of fewer steps, or stopped
            // before its first checkpoint) starts over; the grid's own check guards other folders.
            config.overwrite = base.overwrite || (owned && !config.resume)
            try? FileManager.default.removeItem(at: evaluation)
            progress(.point(point, resuming: config.resume))
            let trained = try await trainer.run(config) { progress(.training(point, $0)) }
            let final = try Self.finalValidation(config, trained)
            try RunFiles.write(PointEvaluation(run: run.digest, grid: identity.digest, step: final.step, weights: final.weights,
                                               samples: final.samples, metrics: final.metrics), to: evaluation)
            outcome.trained.append(point.folder)
        }
        return outcome
    }

    /// What a grid needs beyond a single run's checks, before any point trains.
    private func check(_ base: TrainingConfiguration, grid: TrainingGrid) throws {
        guard let validation = base.validation else {
            throw BatchError("--grid evaluates every point on a validation set after its last step: give --val MANIFEST")
        }
        guard validation.weights == .ema else {
            throw BatchError("--grid compares the points' EMA weights (the eval protocol); --val-weights training is for single runs")
        }
        var perStep = [base.imageParam, base.phraseParam]
        if base.augmentation == .reference { perStep += ReferenceBinding.names }
        for axis in grid.sweep.axes {
            if perStep.contains(axis.name) {
                throw BatchError("--grid \(axis.name): zflow train binds this parameter per sample"
                    + (base.augmentation == .reference ? " (the dataset and --augment reference)" : " (the dataset)"))
            }
            if base.settings[axis.name] != nil { throw BatchError("--grid \(axis.name) and --set \(axis.name): give one of them") }
        }
        try grid.sweep.checkConstraints(base.graph, settings: base.settings)
        try checkEveryVariantLoads(base, grid: grid)
    }

    /// Each variant's ZNet builds from its weights file with its fusion (a fusion axis needs a
    /// file holding every fusion's tensors, or strategies that make their own), so that a grid
    /// stops before its first point rather than at the first variant it cannot train. Only the
    /// model is built (f32 weights stay memory-mapped); nothing is copied for training.
    private func checkEveryVariantLoads(_ base: TrainingConfiguration, grid: TrainingGrid) throws {
        var checked: Set<[String]> = []
        for variant in grid.sweep.points {
            let values = try base.graph.parameterValues(base.settings.merging(variant.values) { $1 })
            let plan = try ZNetTrainingPlan(graph: base.graph, logits: base.logits, values: values)
            guard checked.insert([plan.weights, plan.fusion]).inserted else { continue }
            do {
                _ = try ZNetStart.filled(URL(fileURLWithPath: plan.weights), fusion: plan.fusion, seed: base.seed).checkpoint
                    .loadZNet(fusion: plan.fusion)
            } catch {
                let point = variant.texts.map { "\($0.name)=\($0.text)" }.joined(separator: " ")
                throw BatchError("--grid \(point): ZNet weights \(plan.weights) with fusion '\(plan.fusion)': \(error)")
            }
        }
    }

    /// The options of every point, with the seed an axis when it is one.
    private func gridOptions(_ base: TrainingConfiguration, _ grid: TrainingGrid) -> [String: String] {
        var options = base.identityOptions
        if grid.hasSeedAxis { options[TrainingGridDescription.seedAxis] = nil }
        return options
    }

    /// Binds the grid's folder to `identity` (as a single run's folder is bound): another grid
    /// is refused with what differs unless `--overwrite`; `--resume` needs this grid there
    /// (only --steps or --epochs may grow). Whether the folder already held this grid.
    private func bind(_ base: TrainingConfiguration, identity: RunIdentity) throws -> Bool {
        let url = base.output, file = RunFiles.description(url)
        let existed = FileManager.default.fileExists(atPath: file.path)
        if base.resume {
            guard existed, TrainingGridFiles.isGrid(url) else {
                throw BatchError("--resume: \(url.relativePath) holds no training grid (no run.json and grid.json) to continue")
            }
            try RunFiles.read(RunIdentity.self, from: file).requireResumable(by: identity, in: url, kind: "training grid")
        } else if !base.overwrite {
            try identity.requireSameRun(in: url, kind: "training grid")
        }
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try RunFiles.write(identity, to: file)
        return existed && !base.overwrite
    }

    /// Whether the point's folder holds its run (at most --steps or --epochs differ) with a
    /// checkpoint to continue from.
    private static func canResume(_ config: TrainingConfiguration, identity: RunIdentity) -> Bool {
        guard let stored = try? RunFiles.read(RunIdentity.self, from: RunFiles.description(config.output)),
              FileManager.default.fileExists(atPath: TrainingRunFolder(config.output, format: config.checkpointFormat).lastCheckpoint.path)
        else { return false }
        return stored.resumeDifferences(to: identity).isEmpty
    }

    /// The validation after the point's last step: this call's, or (for a run that had
    /// finished its steps when it was stopped) the last line of its val.jsonl.
    private static func finalValidation(_ config: TrainingConfiguration, _ outcome: TrainingOutcome) throws -> ValidationRecord {
        let last = config.totalSteps
        if let record = outcome.validations.last, record.step == last { return record }
        let log = TrainingRunFolder(config.output).validationLog
        let lines = (try? String(contentsOf: log, encoding: .utf8))?.split(separator: "\n") ?? []
        guard let line = lines.last, let record = try? JSONDecoder().decode(ValidationRecord.self, from: Data(line.utf8)),
              record.step == last else {
            throw BatchError("\(config.output.relativePath): no validation after step \(last) in \(log.lastPathComponent)")
        }
        return record
    }
}
