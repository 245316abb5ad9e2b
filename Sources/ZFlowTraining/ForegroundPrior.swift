import Foundation
import ZFlowBatch
import ZFlowEval

/// The logit a constant prediction would best take on a dataset: what `--head-init upsampler`
/// starts the head's last bias at (`ZNet.upsamplingHead`).
enum ForegroundPrior {
    /// With f the foreground fraction of the masks' pixels (each mask whole, every sample once)
    /// and w BCE's pos_weight, the weighted BCE of a constant p is -(w f log p + (1 - f) log(1 - p)),
    /// least at p = w f / (w f + 1 - f), whose logit is log(w f / (1 - f)).
    static func logit(of dataset: DatasetManifest, positiveWeight: Float?) throws -> Float {
        var foreground = 0, pixels = 0
        for sample in dataset.samples {
            let mask: GroundTruthMask
            do { mask = try GroundTruthMask(contentsOf: sample.mask) } catch {
                throw BatchError("--head-init upsampler: sample '\(sample.id)' (line \(sample.line)): mask \(sample.mask.path): \(error)")
            }
            foreground += mask.foreground.lazy.filter { $0 }.count
            pixels += mask.foreground.count
        }
        guard foreground > 0, foreground < pixels else {
            throw BatchError("--head-init upsampler: the masks of \(dataset.url.path) are all "
                + (foreground == 0 ? "background" : "foreground") + ", so there is no foreground prior to start from")
        }
        let fraction = Double(foreground) / Double(pixels)
        return Float(log(Double(positiveWeight ?? 1) * fraction / (1 - fraction)))
    }
}
