import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowTensor
import ZFlowTrain

/// What training and validation report after each store file.
public struct ProbeStepProgress: Sendable {
    public enum Phase: String, Sendable { case training, validation }
    public var phase: Phase
    public var epoch: Int
    public var done: Int
    public var total: Int
    /// The mean loss over the file's cells (training only).
    public var loss: Double?
}

/// Trains every cell's decoder in one pass over the store per epoch, as DDAE's `linear.py --grid`
/// does: each (sample, seed, t) file is read once and every tap's decoder at that t takes one
/// AdamW step on it. Only that file and the decoders (with their optimizer state) are in memory.
struct ProbeTrainer {
    let store: FeatureStore
    let grid: ProbeGrid
    let training: ProbeTraining

    private final class Cell {
        let decoder: ProbeDecoder
        var optimizer: Adam
        var lossSum = 0.0
        var steps = 0

        init(decoder: ProbeDecoder, optimizer: Adam) {
            self.decoder = decoder
            self.optimizer = optimizer
        }
    }

    func run(train: DatasetManifest, val: DatasetManifest, progress: (ProbeStepProgress) throws -> Void) throws -> ProbeResults {
        var cells: [ProbeCell: Cell] = [:]
        let files = grid.seeds.flatMap { seed in grid.timesteps.map { (seed, $0) } }
        let total = train.samples.count * files.count
        for epoch in 1...training.epochs {
            for cell in cells.values { (cell.lossSum, cell.steps) = (0, 0) }
            var done = 0
            for sample in train.samples {
                for (seed, t) in files {
                    let features = try store.read(store.file(.train, sample: sample.index, t: t, seed: seed), taps: grid.taps)
                    var fileLoss = 0.0
                    for tap in grid.taps {
                        let key = ProbeCell(tap: tap, t: t), feature = features.taps[tap]!
                        let cell = try cells[key] ?? makeCell(key, channels: feature.shape[1], textWidth: features.text.shape.last ?? 0)
                        cells[key] = cell
                        let (loss, gradients) = try cell.decoder.lossAndGradients(feature, text: features.text, mask: features.mask)
                        guard loss.isFinite else {
                            throw BatchError("\(key), train sample '\(sample.id)' (line \(sample.line)), seed \(seed): the loss is \(loss)",
                                             isNodeFailure: true)
                        }
                        try cell.optimizer.step(cell.decoder.parameters, gradients: gradients)
                        cell.lossSum += Double(loss)
                        cell.steps += 1
                        fileLoss += Double(loss)
                    }
                    done += 1
                    try progress(ProbeStepProgress(phase: .training, epoch: epoch, done: done, total: total,
                                                   loss: fileLoss / Double(grid.taps.count)))
                }
            }
        }
        let summaries = try validate(val, cells: cells.mapValues(\.decoder), progress: progress)
        return ProbeResults(grid: grid, training: training, trainSamples: train.samples.count, valSamples: val.samples.count,
                            cells: grid.taps.flatMap { tap in grid.timesteps.map { t in
                                let key = ProbeCell(tap: tap, t: t), summary = summaries[key]!, cell = cells[key]!
                                return ProbeResults.Cell(tap: tap, t: t, ap: summary.ap, foregroundIoU03: summary.foregroundIoUAt03,
                                                         meanIoU03: summary.meanIoUAt03,
                                                         trainLoss: cell.lossSum / Double(max(cell.steps, 1)))
                            } })
    }

    private func makeCell(_ key: ProbeCell, channels: Int, textWidth: Int) throws -> Cell {
        let decoder = try ProbeDecoder(prefix: key.key, channels: channels, textWidth: textWidth, hidden: training.hidden,
                                       seed: UInt64(training.seed))
        return Cell(decoder: decoder, optimizer: try Adam.adamW(learningRate: training.learningRate, weightDecay: training.weightDecay))
    }

    /// Scores every cell on the val files: the decoder's logits are resized bicubically to the
    /// mask and passed through the sigmoid (eval's `PredictionScoring`), then counted at eval's
    /// thresholds; a cell's samples are (val sample, seed) pairs, summarized in manifest order.
    private func validate(_ val: DatasetManifest, cells: [ProbeCell: ProbeDecoder],
                          progress: (ProbeStepProgress) throws -> Void) throws -> [ProbeCell: MetricSummary] {
        var accumulators: [ProbeCell: MetricAccumulator] = [:]
        let total = val.samples.count * grid.seeds.count * grid.timesteps.count
        var done = 0
        for sample in val.samples {
            for (seedIndex, seed) in grid.seeds.enumerated() {
                for t in grid.timesteps {
                    let features = try store.read(store.file(.val, sample: sample.index, t: t, seed: seed), taps: grid.taps)
                    let mask = features.mask.scalars.map { $0 > 0.5 }
                    for tap in grid.taps {
                        let key = ProbeCell(tap: tap, t: t)
                        let logits = try cells[key]!.logits(features.taps[tap]!, text: features.text)
                        let probabilities = try PredictionScoring.probabilities(logits, height: features.mask.shape[2],
                                                                                width: features.mask.shape[3])
                        try accumulators[key, default: MetricAccumulator()].add(
                            try SampleCounts(probabilities: probabilities.scalars, mask: mask),
                            at: sample.index * grid.seeds.count + seedIndex)
                    }
                    done += 1
                    try progress(ProbeStepProgress(phase: .validation, epoch: training.epochs, done: done, total: total, loss: nil))
                }
            }
        }
        return try accumulators.mapValues { try $0.summary() }
    }
}
