import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowGraph
import ZFlowTrain

/// The steps of a run, from its first (or the step of the checkpoint it resumes) to its last.
/// Every draw is a function of `--seed` and the step (or epoch), so a resumed run continues the
/// uninterrupted run's streams exactly. Per step, the log line (and a due validation) is
/// written before the checkpoint: the checkpoint is what a resume trusts, and it drops log lines
/// written after it.
struct TrainingLoop {
    let config: TrainingConfiguration
    let plan: ZNetTrainingPlan
    let model: TrainedZNet
    let folder: TrainingRunFolder
    let upstream: FrozenUpstream
    let validator: Validator?
    let progress: @Sendable (TrainingEvent) -> Void

    /// Per-epoch cost of the frozen upstream.
    private struct EpochTally {
        var epoch: Int
        var steps = 0
        var start = DispatchTime.now()
        /// Time spent validating during the epoch, which its seconds leave out.
        var validationSeconds = 0.0
        var executed: [String: Int] = [:]
        var cached = 0

        mutating func add(_ nodes: [NodeReport]) {
            for node in nodes {
                if node.status == .executed { executed[node.typeName, default: 0] += 1 }
                if node.status.isCached { cached += 1 }
            }
        }

        func record(lastStep: Int) -> TrainingEpoch {
            TrainingEpoch(epoch: epoch, steps: steps, lastStep: lastStep,
                          seconds: Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 - validationSeconds,
                          executed: executed, cached: cached)
        }
    }

    func run(_ optimizer: some Optimizer) async throws -> TrainingOutcome {
        var optimizer = optimizer
        var ema = try ExponentialMovingAverage(of: model.parameters, decay: config.hyperparameters.emaDecay)
        let total = config.totalSteps
        var first = 1
        if config.resume {
            do {
                if let stored = try TrainingCheckpoint.resume(model.parameters, optimizer: &optimizer, from: folder.lastCheckpoint) {
                    ema = stored
                }
            } catch {
                throw BatchError("--resume: \(folder.lastCheckpoint.relativePath): \(error)")
            }
            let done = optimizer.state.stepCount
            guard done <= total else {
                throw BatchError("--resume: \(folder.url.relativePath) is at step \(done), past the \(total) steps asked for")
            }
            try folder.truncate(after: done)
            first = done + 1
        }
        let crops = CropFiles(folder: folder.crops)
        defer { crops.removeAll() }
        var outcome = TrainingOutcome(resumedFrom: first - 1, steps: [], epochs: [], validations: [])
        let count = config.dataset.samples.count, perEpoch = config.stepsPerEpoch
        var order: [Int] = [], tally: EpochTally?
        for step in first...max(first, total) where step <= total {
            let start = DispatchTime.now()
            let epoch = (step - 1) / perEpoch + 1, slot = (step - 1) % perEpoch
            if tally?.epoch != epoch {
                tally = EpochTally(epoch: epoch)
                order = config.augmentation == .reference
                    ? ReferenceAugmentation.order(count: count, seed: config.seed, epoch: epoch) : Array(0..<count)
            }
            var batch: [TrainedZNet.Example] = [], draws: [ReferenceDraw] = [], ids: [String] = []
            for position in (slot * config.batch)..<min((slot + 1) * config.batch, count) {
                let sample = config.dataset.samples[order[position]]
                let (example, draw) = try await self.example(sample, step: step, number: (epoch - 1) * count + position + 1,
                                                             crops: crops, tally: &tally)
                batch.append(example)
                if let draw { draws.append(draw) }
                ids.append(sample.id)
            }
            let place = batch.count == 1 ? batch[0].place : "step \(step), samples " + ids.map { "'\($0)'" }.joined(separator: ", ")
            let rate = optimizer.currentLearningRate
            let (loss, norm) = try model.step(batch, place: place, optimizer: &optimizer,
                                              hyperparameters: config.hyperparameters)
            try ema.update(from: model.parameters)

            let record = TrainingStep(step: step, epoch: epoch, sample: ids.joined(separator: ","), loss: loss, gradNorm: norm,
                                      lr: rate, augment: draws.isEmpty ? nil : draws,
                                      seconds: Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            try TrainingRunFolder.append(record, to: folder.log)
            outcome.steps.append(record)
            progress(.step(record))
            tally?.steps += 1
            if slot == perEpoch - 1 || step == total, let finished = tally?.record(lastStep: step) {
                try TrainingRunFolder.append(finished, to: folder.epochLog)
                outcome.epochs.append(finished)
                progress(.epoch(finished))
            }
            if let validator, validator.isDue(step: step, lastStep: total) {
                let begun = DispatchTime.now()
                defer { tally?.validationSeconds += Double(DispatchTime.now().uptimeNanoseconds - begun.uptimeNanoseconds) / 1e9 }
                let weights = validator.settings.weights == .ema ? try model.forward(over: emaTree(ema)) : model.forward
                let validation = try await validator.run(step: step, model: weights)
                try TrainingRunFolder.append(validation, to: folder.validationLog)
                outcome.validations.append(validation)
                progress(.validation(validation))
            }
            if step % config.checkpointEvery == 0 || step == total {
                for file in [folder.stepCheckpoint(step), folder.lastCheckpoint] {
                    try TrainingCheckpoint.write(model.parameters, optimizer: optimizer, ema: ema, to: file)
                    try writeSidecar(of: plan.weights, besides: file)
                }
            }
        }
        return outcome
    }

    /// One sample of step `step`, the `number`-th of the run (counted over epochs in their
    /// orders): its mask, and with `--augment reference` its crop and the graph params drawn for
    /// it, and ZNet's frozen inputs for it.
    private func example(_ sample: DatasetSample, step: Int, number: Int, crops: CropFiles,
                         tally: inout EpochTally?) async throws -> (TrainedZNet.Example, ReferenceDraw?) {
        let place = "step \(step), sample '\(sample.id)' (line \(sample.line))"
        let whole: TargetMask
        do { whole = TargetMask(try GroundTruthMask(contentsOf: sample.mask)) } catch {
            throw BatchError("\(place): mask \(sample.mask.path): \(error)")
        }
        var truth = whole, image = sample.image, bound: [String: Constant] = [:], draw: ReferenceDraw?
        if config.augmentation == .reference {
            let drawn = ReferenceAugmentation.draw(seed: config.seed, sample: number, mask: whole, timesteps: config.timesteps)
            truth = whole.cropped(drawn.crop)
            do { image = try crops.file(for: sample, crop: drawn.crop, maskSize: (whole.width, whole.height)) } catch {
                throw BatchError("\(place): \(error)")
            }
            bound = ReferenceBinding.values(drawn)
            draw = drawn
        }
        let (inputs, nodes) = try await upstream.inputs(image: image, phrase: sample.phrase, bound: bound, place: place)
        tally?.add(nodes)
        return (TrainedZNet.Example(inputs: inputs, truth: truth, place: place), draw)
    }

    /// The parameters with the EMA in place of every averaged one.
    private func emaTree(_ ema: ExponentialMovingAverage) -> TensorTree {
        var tree = model.parameters.tree
        for key in ema.shadow.keys { tree[key] = ema.shadow[key] }
        return tree
    }

    /// The weights file's sidecar `<file>.json` (the architecture the shapes do not hold) goes
    /// beside each checkpoint, so that the checkpoint loads wherever the weights did; with a
    /// trained text encoder, its config is added under "text_encoder" (as an SD file's sidecar
    /// holds it), so that CLIPTextEncode loads it from the checkpoint too.
    private func writeSidecar(of weights: String, besides checkpoint: URL) throws {
        func sidecar(_ url: URL) -> URL { url.deletingPathExtension().appendingPathExtension("json") }
        let source = sidecar(URL(fileURLWithPath: weights)), target = sidecar(checkpoint)
        let exists = FileManager.default.fileExists(atPath: source.path)
        guard exists || model.textConfig != nil else { return }
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
        guard let textConfig = model.textConfig else { return try FileManager.default.copyItem(at: source, to: target) }
        var json: [String: Any] = [:]
        if exists {
            guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any] else {
                throw BatchError("\(source.path): a sidecar must hold a JSON object")
            }
            json = object
        }
        json["text_encoder"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(textConfig))
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: target, options: .atomic)
    }
}
