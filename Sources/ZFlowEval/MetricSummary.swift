// Matches CLIPSeg's `FixedIntervalMetrics.value` with each sample its own class (PhraseCut-style):
// IoU = tp / (1 + tp + fp + fn) on dataset sums (IoU_FG) and per sample, then averaged (mIoU);
// AP = Simpson's rule over the de-duplicated (recall, precision) pairs with
// precision = tp / (1 + tp + fp), recall = tp / (1 + tp + fn), where tp + fp > 0.
// Deliberate difference: pairs with equal recall are ordered by precision (CLIPSeg leaves them in
// Python set order, which is arbitrary); see docs/parity/eval.md.

/// One point of the precision-recall curve.
public struct CurvePoint: Sendable, Equatable, Codable {
    public var recall: Double
    public var precision: Double
}

/// The metrics of a set of samples, as CLIPSeg reports them.
public struct MetricSummary: Sendable, Equatable, Codable {
    public var samples: Int
    /// Area under the precision-recall curve; nil when no pixel is ever predicted positive.
    public var ap: Double?
    /// IoU_FG and mIoU at every threshold of `EvaluationThresholds.values`.
    public var foregroundIoU: [Double]
    public var meanIoU: [Double]
    public var precisionRecall: [CurvePoint]
    /// tp, fp, fn, tn summed over the samples, per threshold.
    public var summed: SampleCounts

    public var foregroundIoUAt03: Double { foregroundIoU[Self.index03] }
    public var foregroundIoUAt05: Double { foregroundIoU[Self.index05] }
    public var meanIoUAt03: Double { meanIoU[Self.index03] }
    public var meanIoUAt05: Double { meanIoU[Self.index05] }
    /// The best value and the (first) threshold reaching it.
    public var bestForegroundIoU: (value: Double, threshold: Double) { Self.best(foregroundIoU) }
    public var bestMeanIoU: (value: Double, threshold: Double) { Self.best(meanIoU) }

    static let index03 = EvaluationThresholds.index03
    static let index05 = EvaluationThresholds.index05

    /// Summarizes `samples`, in the order given (only mIoU's float sum depends on it).
    public init(_ samples: [SampleCounts]) throws {
        guard !samples.isEmpty else { throw MetricsError("no samples to summarize") }
        let n = EvaluationThresholds.count
        func total(_ key: KeyPath<SampleCounts, [Int]>) -> [Int] {
            (0..<n).map { j in samples.reduce(0) { $0 + $1[keyPath: key][j] } }
        }
        summed = try SampleCounts(tp: total(\.tp), fp: total(\.fp), fn: total(\.fn), tn: total(\.tn))
        self.samples = samples.count
        foregroundIoU = (0..<n).map { [summed] j in Self.iou(summed, j) }
        meanIoU = (0..<n).map { j in samples.reduce(0.0) { $0 + Self.iou($1, j) } / Double(samples.count) }
        precisionRecall = Self.curve(summed)
        ap = precisionRecall.isEmpty ? nil
            : Simpson.integrate(precisionRecall.map(\.precision), x: precisionRecall.map(\.recall))
    }

    static func iou(_ counts: SampleCounts, _ j: Int) -> Double { counts.iou(thresholdIndex: j) }

    /// The de-duplicated (recall, precision) pairs of the thresholds where something is predicted.
    static func curve(_ summed: SampleCounts) -> [CurvePoint] {
        var points: [CurvePoint] = []
        for j in 0..<EvaluationThresholds.count where summed.tp[j] + summed.fp[j] > 0 {
            let tp = Double(summed.tp[j])
            let point = CurvePoint(recall: tp / (1 + tp + Double(summed.fn[j])),
                                   precision: tp / (1 + tp + Double(summed.fp[j])))
            if !points.contains(point) { points.append(point) }
        }
        return points.sorted { ($0.recall, $0.precision) < ($1.recall, $1.precision) }
    }

    private static func best(_ values: [Double]) -> (value: Double, threshold: Double) {
        var index = 0
        for (j, value) in values.enumerated() where value > values[index] { index = j }
        return (values[index], EvaluationThresholds.values[index])
    }
}
