import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowModels

/// `--val`: the eval protocol (`zflow eval`'s scoring: sigmoid of the logits resized bicubic to
/// the mask, CLIPSeg's counts and summary) on the validation manifest, with ZNet as it stands.
/// The upstream runs as the graph says (no augmentation), so from the second validation on the
/// memo cache serves it.
struct Validator {
    let settings: TrainingConfiguration.Validation
    let upstream: FrozenUpstream

    /// Validates at `step` every `--val-every` steps and after the last.
    func isDue(step: Int, lastStep: Int) -> Bool {
        step == lastStep || settings.every.map { step % $0 == 0 } ?? false
    }

    func run(step: Int, model: TrainedForward) async throws -> ValidationRecord {
        var accumulator = MetricAccumulator()
        for sample in settings.dataset.samples {
            let place = "validation at step \(step), sample '\(sample.id)' (\(settings.dataset.url.relativePath) line \(sample.line))"
            let (inputs, _) = try await upstream.inputs(image: sample.image, phrase: sample.phrase, place: place)
            let truth: GroundTruthMask
            do { truth = try GroundTruthMask(contentsOf: sample.mask) } catch {
                throw BatchError("\(place): mask \(sample.mask.path): \(error)")
            }
            do {
                let logits = try model.logits(inputs)
                let probabilities = try PredictionScoring.probabilities(logits, height: truth.height, width: truth.width).scalars
                try accumulator.add(SampleCounts(probabilities: probabilities, mask: truth.foreground), at: sample.index)
            } catch {
                throw BatchError("\(place): \(error)", isNodeFailure: true)
            }
        }
        let summary = try accumulator.summary()
        return ValidationRecord(step: step, weights: settings.weights.rawValue, samples: summary.samples, metrics: Headline(summary))
    }
}
