// Matches CLIPSeg's `FixedIntervalMetrics.threshold_values`: `np.linspace(0, 1, 51)[1:-1]`,
// compared with float32 probabilities as float32 (torch casts the Python scalar).

public enum EvaluationThresholds {
    /// 0.02, 0.04, ..., 0.98 as numpy computes them (`i * (1 / 50)`).
    public static let values: [Double] = (1..<50).map { Double($0) * (1.0 / 50.0) }
    /// The same, rounded to float32 for the strict `p > threshold` test.
    public static let float32Values: [Float] = values.map { Float($0) }

    public static var count: Int { values.count }
    /// Where 0.3 (the headline threshold) and 0.5 are.
    public static let index03 = 14
    public static let index05 = 24

    /// The index of a threshold written to two decimals (0.3 -> 14), nil off the grid.
    public static func index(of threshold: Double) -> Int? {
        values.firstIndex { abs($0 - threshold) < 1e-9 }
    }
}
