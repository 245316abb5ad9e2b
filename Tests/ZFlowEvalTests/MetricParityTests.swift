import Foundation
import Testing
import ZFlowEval
import ZFlowIO

// Parity with tools/reference_metrics.py (CLIPSeg's FixedIntervalMetrics in numpy) on the
// fixtures of tools/fixtures/metrics.py: counts exactly, metrics to 1e-6.

private struct MetricFixtures {
    let tensors: SafeTensorsFile
    let expected: [String: [String: Any]]

    init() throws {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        tensors = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("metrics.safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("metrics.json")))
        expected = try #require(json as? [String: [String: Any]])
    }

    func counts(_ name: String) throws -> [SampleCounts] {
        let samples = try #require(expected[name]?["samples"] as? Int)
        return try (0..<samples).map { i in
            let probabilities = try tensors.tensor("\(name)/\(i)/probabilities")
            let mask = try tensors.tensor("\(name)/\(i)/mask")
            return try SampleCounts(probabilities: probabilities.buffer, mask: mask.buffer.map { $0 != 0 })
        }
    }

    func doubles(_ name: String, _ key: String) throws -> [Double] {
        try #require(expected[name]?[key] as? [Double], "\(name).\(key)")
    }

    func double(_ name: String, _ key: String) throws -> Double {
        try #require(expected[name]?[key] as? Double, "\(name).\(key)")
    }
}

private let cases = ["uniform", "informative", "edges", "saturated", "few_points"]
private let tolerance = 1e-6

private func worst(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

@Test(arguments: cases)
func perSampleCountsMatchReference(name: String) throws {
    let fixtures = try MetricFixtures()
    let counts = try fixtures.counts(name)
    let expected = try #require(fixtures.expected[name]?["per_sample"] as? [[String: [Int]]])
    #expect(counts.count == expected.count)
    for (i, (sample, reference)) in zip(counts, expected).enumerated() {
        #expect(sample.tp == reference["tp"], "\(name) sample \(i) tp")
        #expect(sample.fp == reference["fp"], "\(name) sample \(i) fp")
        #expect(sample.fn == reference["fn"], "\(name) sample \(i) fn")
        #expect(sample.tn == reference["tn"], "\(name) sample \(i) tn")
    }
}

@Test(arguments: cases)
func summaryMatchesReference(name: String) throws {
    let fixtures = try MetricFixtures()
    let summary = try MetricSummary(try fixtures.counts(name))
    let errors = [
        "fgiou": worst(summary.foregroundIoU, try fixtures.doubles(name, "fgiou")),
        "miou": worst(summary.meanIoU, try fixtures.doubles(name, "miou")),
        "recall": worst(summary.precisionRecall.map(\.recall), try fixtures.doubles(name, "pr_recall")),
        "precision": worst(summary.precisionRecall.map(\.precision), try fixtures.doubles(name, "pr_precision")),
        "ap": abs((summary.ap ?? .nan) - (try fixtures.double(name, "ap"))),
        "fgiou@0.3": abs(summary.foregroundIoUAt03 - (try fixtures.double(name, "fgiou_0.3"))),
        "miou@0.5": abs(summary.meanIoUAt05 - (try fixtures.double(name, "miou_0.5"))),
        "best fgiou": abs(summary.bestForegroundIoU.value - (try fixtures.double(name, "fgiou_best"))),
        "best fgiou t": abs(summary.bestForegroundIoU.threshold - (try fixtures.double(name, "fgiou_best_t"))),
        "best miou t": abs(summary.bestMeanIoU.threshold - (try fixtures.double(name, "miou_best_t"))),
    ]
    #expect(summary.precisionRecall.count == (try fixtures.doubles(name, "pr_recall")).count)
    print("metrics parity \(name): worst error \(errors.values.max() ?? 0), AP \(summary.ap ?? .nan)")
    for (metric, error) in errors.sorted(by: { $0.key < $1.key }) {
        #expect(error <= tolerance, "\(name) \(metric): |swift - numpy| = \(error)")
    }
}

@Test func shardedAccumulatorsMergeToTheSameSummary() throws {
    let fixtures = try MetricFixtures()
    let counts = try fixtures.counts("informative")
    var whole = MetricAccumulator()
    var parts = [MetricAccumulator(), MetricAccumulator(), MetricAccumulator()]
    for (index, sample) in counts.enumerated() {
        try whole.add(sample, at: index)
        try parts[index % 3].add(sample, at: index)
    }
    var merged = MetricAccumulator()
    for part in parts.reversed() { try merged.merge(part) }
    #expect(try merged.summary() == whole.summary())
    #expect(throws: MetricsError.self) { try merged.merge(parts[0]) }
}

@Test func thresholdsAreNumpyLinspace() {
    #expect(EvaluationThresholds.count == 49)
    #expect(EvaluationThresholds.values.first == 0.02 && EvaluationThresholds.values.last == 0.98)
    #expect(EvaluationThresholds.index(of: 0.3) == 14 && EvaluationThresholds.index(of: 0.5) == 24)
    #expect(EvaluationThresholds.values[14] == 0.3 && EvaluationThresholds.values[24] == 0.5)
}

@Test func predictionExactlyOnAThresholdIsNegative() throws {
    let on = EvaluationThresholds.float32Values[14]
    let counts = try SampleCounts(probabilities: [on, on.nextUp], mask: [true, true])
    #expect(counts.tp[14] == 1 && counts.fn[14] == 1)
    #expect(counts.tp[13] == 2)
}

@Test func nothingPredictedHasNoAP() throws {
    let counts = try SampleCounts(probabilities: [0, 0.01, 0.02], mask: [true, false, true])
    let summary = try MetricSummary([counts])
    #expect(summary.ap == nil && summary.precisionRecall.isEmpty)
    #expect(throws: MetricsError.self) { try SampleCounts(probabilities: [0.5], mask: [true, false]) }
}

@Test func simpsonMatchesScipyDocExamples() {
    let x = (0..<10).map(Double.init)
    #expect(Simpson.integrate(x, x: x) == 40.5)
    #expect(abs(Simpson.integrate(x.map { $0 * $0 * $0 }, x: x) - 1640.5) < 1e-9)
    // Odd count, uneven spacing: exact for parabolas.
    let uneven = [0.0, 0.1, 0.5, 0.6, 1.3]
    #expect(abs(Simpson.integrate(uneven.map { $0 * $0 }, x: uneven) - 1.3 * 1.3 * 1.3 / 3) < 1e-12)
}
