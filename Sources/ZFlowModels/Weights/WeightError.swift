/// A problem with a weight file, naming full stored key paths and the file.
public enum WeightError: Error, CustomStringConvertible, Equatable {
    /// A tensor read outside `WeightReader.load` is not stored.
    case missing(key: String, origin: String)
    /// A tensor read outside `WeightReader.load` is stored with another shape.
    case shapeMismatch(key: String, expected: [Int], found: [Int], origin: String)
    /// Everything `WeightReader.load` found wrong with the file for a model, at once: the
    /// tensors the model needs that are not stored, those stored with another shape, and the
    /// stored ones it did not use (empty when loading stopped early on another error).
    case incompatible(missing: [String], misshapen: [MisshapenTensor], unused: [String], origin: String)

    /// How many entries of each list a message shows before "and N more".
    static let shownPerList = 10

    public var description: String {
        switch self {
        case let .missing(key, origin):
            return "\(origin): missing tensor '\(key)'"
        case let .shapeMismatch(key, expected, found, origin):
            return "\(origin): tensor " + MisshapenTensor(key: key, expected: expected, found: found).description
        case let .incompatible(missing, misshapen, unused, origin):
            let parts = [
                Self.list(missing, "missing tensor(s)") { "'\($0)'" },
                Self.list(misshapen, "tensor(s) of another shape") { $0.description },
                Self.list(unused, "unexpected tensor(s) not used by the model") { "'\($0)'" },
            ].compactMap { $0 }
            return "\(origin) does not fit the model: " + parts.joined(separator: "; ")
        }
    }

    /// `3 missing tensor(s): 'a', 'b', 'c'` with at most `shownPerList` items; nil when empty.
    private static func list<Item>(_ items: [Item], _ what: String, _ show: (Item) -> String) -> String? {
        guard !items.isEmpty else { return nil }
        let shown = items.prefix(shownPerList).map(show).joined(separator: ", ")
        let more = items.count > shownPerList ? " and \(items.count - shownPerList) more" : ""
        return "\(items.count) \(what): \(shown)\(more)"
    }
}

/// A stored tensor whose shape is not the one the model expects.
public struct MisshapenTensor: Equatable, Sendable, CustomStringConvertible {
    public let key: String
    public let expected: [Int]
    public let found: [Int]

    public init(key: String, expected: [Int], found: [Int]) {
        self.key = key
        self.expected = expected
        self.found = found
    }

    /// `'key' has shape [found], expected [expected]`.
    public var description: String { "'\(key)' has shape \(found), expected \(expected)" }
}
