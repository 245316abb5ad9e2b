// Matches CLIPSeg's `FixedIntervalMetrics.add` for one sample: per threshold, the pixels
// with `p > threshold` are positive; tp, fp, fn, tn are counted against the mask.

/// Confusion counts of one sample at every `EvaluationThresholds` value.
public struct SampleCounts: Sendable, Equatable, Codable {
    public var tp: [Int]
    public var fp: [Int]
    public var fn: [Int]
    public var tn: [Int]

    public init(tp: [Int], fp: [Int], fn: [Int], tn: [Int]) throws {
        let n = EvaluationThresholds.count
        guard tp.count == n, fp.count == n, fn.count == n, tn.count == n else {
            throw MetricsError("counts need \(n) values per threshold, got tp \(tp.count), fp \(fp.count), "
                + "fn \(fn.count), tn \(tn.count)")
        }
        self.tp = tp
        self.fp = fp
        self.fn = fn
        self.tn = tn
    }

    /// Counts `probabilities` (sigmoid outputs) against `mask` (true = foreground), pixel by pixel.
    public init(probabilities: some Collection<Float>, mask: some Collection<Bool>) throws {
        guard probabilities.count == mask.count else {
            throw MetricsError("prediction has \(probabilities.count) pixels but the mask has \(mask.count)")
        }
        let thresholds = EvaluationThresholds.float32Values
        // Histogram by how many thresholds each pixel passes, then accumulate from the top.
        var foreground = [Int](repeating: 0, count: thresholds.count + 1)
        var background = foreground
        for (p, isForeground) in zip(probabilities, mask) {
            let passed = Self.thresholdsPassed(p, thresholds)
            if isForeground { foreground[passed] += 1 } else { background[passed] += 1 }
        }
        let totalForeground = foreground.reduce(0, +), totalBackground = background.reduce(0, +)
        var tp = [Int](repeating: 0, count: thresholds.count), fp = tp
        var foregroundAbove = 0, backgroundAbove = 0
        for j in stride(from: thresholds.count - 1, through: 0, by: -1) {
            // Pixels passing threshold j pass at least j + 1 thresholds.
            foregroundAbove += foreground[j + 1]
            backgroundAbove += background[j + 1]
            tp[j] = foregroundAbove
            fp[j] = backgroundAbove
        }
        self.tp = tp
        self.fp = fp
        self.fn = tp.map { totalForeground - $0 }
        self.tn = fp.map { totalBackground - $0 }
    }

    /// tp / (1 + tp + fp + fn) at threshold `j` (CLIPSeg's IoU, +1 included).
    public func iou(thresholdIndex j: Int) -> Double {
        Double(tp[j]) / Double(1 + tp[j] + fp[j] + fn[j])
    }

    /// The number of thresholds strictly below `p` (thresholds ascend; NaN passes none, as in torch).
    private static func thresholdsPassed(_ p: Float, _ thresholds: [Float]) -> Int {
        var low = 0, high = thresholds.count
        while low < high {
            let middle = (low + high) / 2
            if p > thresholds[middle] { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

public struct MetricsError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
