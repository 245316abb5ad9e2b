// The generator's only source of randomness. Integer arithmetic only, so a seed gives the same
// numbers on every machine and Swift version (unlike `SystemRandomNumberGenerator`, or the
// standard library's `random(in:using:)`, whose algorithm is not specified).

/// SplitMix64 (Steele, Lea and Flood 2014), as in Java's `SplittableRandom`.
public struct SplitMix64: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The stream of scene `index` of a dataset: seeded with the `index`-th output of
    /// `SplitMix64(seed: seed)`, so each scene is the same whatever the dataset's count.
    public init(seed: UInt64, stream index: Int) {
        var master = SplitMix64(seed: seed &+ UInt64(index) &* Self.gamma)
        self.init(seed: master.next())
    }

    private static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    public mutating func next() -> UInt64 {
        state &+= Self.gamma
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `range`, without modulo bias: outputs below 2^64 mod span are drawn again.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        let threshold = (0 &- span) % span
        var value = next()
        while value < threshold { value = next() }
        return range.lowerBound + Int(value % span)
    }

    /// True with probability `numerator / denominator`.
    public mutating func chance(_ numerator: Int, in denominator: Int) -> Bool {
        int(in: 0...(denominator - 1)) < numerator
    }

    /// One element of a non-empty collection.
    public mutating func pick<C: RandomAccessCollection>(_ elements: C) -> C.Element where C.Index == Int {
        elements[elements.startIndex + int(in: 0...(elements.count - 1))]
    }
}
