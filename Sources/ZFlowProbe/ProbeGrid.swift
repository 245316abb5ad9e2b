import ZFlowBatch

/// The cells of a probe: every requested SD tap at every timestep, each trained on every noise seed.
public struct ProbeGrid: Codable, Equatable, Sendable {
    public var taps: [Int]
    public var timesteps: [Int]
    public var seeds: [Int]

    public static let defaultTaps = Array(1...16)
    public static let defaultTimesteps = Array(stride(from: 100, through: 900, by: 100))

    public init(taps: [Int], timesteps: [Int], seeds: [Int]) throws {
        for (name, values) in [("--taps", taps), ("--timesteps", timesteps), ("--seeds", seeds)] {
            guard !values.isEmpty else { throw BatchError("\(name): no values") }
            guard Set(values).count == values.count else { throw BatchError("\(name): a value is repeated in \(values)") }
        }
        self.taps = taps
        self.timesteps = timesteps
        self.seeds = seeds
    }

    /// Parses `1-16`, `6,7,8` or `1-4,9` (ranges inclusive), as `--taps`, `--timesteps` and `--seeds` take them.
    public static func parseList(_ text: String, option: String) throws -> [Int] {
        var values: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            if bounds.count == 1, let value = Int(bounds[0]) {
                values.append(value)
            } else if bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), low <= high {
                values += Array(low...high)
            } else {
                throw BatchError("\(option) \(text): '\(part)' is not a whole number or a range LOW-HIGH "
                    + "(write e.g. \(option) 1-16 or \(option) 100,200,300)")
            }
        }
        return values
    }
}

/// One cell of the grid: a decoder reading `tap` at timestep `t`.
public struct ProbeCell: Hashable, Sendable, CustomStringConvertible {
    public var tap: Int
    public var t: Int
    /// The prefix of this cell's parameter keys.
    var key: String { "tap\(tap).t\(t)" }
    public var description: String { "tap \(tap), t \(t)" }
}
