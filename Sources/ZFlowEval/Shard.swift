// A deterministic split of a dataset or a sweep into n parts: part i takes the items whose
// position p has p % n == i. Positions come from the manifest (or the grid), never from timing.

public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public static let whole = Shard(uncheckedIndex: 0, count: 1)

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `i/n` with 0 <= i < n (0-based, as Slurm array and Kubernetes completion indices are).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
              (0..<count).contains(index) else {
            throw MetricsError("--shard expects i/n with 0 <= i < n, got '\(text)'")
        }
        self.init(uncheckedIndex: index, count: count)
    }

    public func contains(position: Int) -> Bool { position % count == index }

    public var description: String { "\(index)/\(count)" }
}
