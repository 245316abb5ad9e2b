// Collects per-sample counts by the sample's position in the dataset, so that shards
// accumulated apart and merged summarize exactly as one run over the whole dataset.

public struct MetricAccumulator: Sendable {
    private(set) public var samples: [Int: SampleCounts] = [:]

    public init() {}

    /// Adds the sample at dataset position `index`; throws if it is already there.
    public mutating func add(_ counts: SampleCounts, at index: Int) throws {
        guard samples[index] == nil else { throw MetricsError("sample #\(index) was added twice") }
        samples[index] = counts
    }

    /// The union of two accumulators over disjoint samples.
    public mutating func merge(_ other: MetricAccumulator) throws {
        for (index, counts) in other.samples { try add(counts, at: index) }
    }

    /// The summary over the samples in dataset order.
    public func summary() throws -> MetricSummary {
        try MetricSummary(samples.keys.sorted().compactMap { samples[$0] })
    }
}
