import Foundation
import ZFlowIO
import ZFlowTensor

/// A problem with a weight file, naming the full key path.
public enum WeightError: Error, CustomStringConvertible, Equatable {
    case missing(key: String, origin: String)
    case shapeMismatch(key: String, expected: [Int], found: [Int], origin: String)
    case unused(keys: [String], origin: String)

    public var description: String {
        switch self {
        case let .missing(key, origin):
            return "\(origin): missing tensor '\(key)'"
        case let .shapeMismatch(key, expected, found, origin):
            return "\(origin): tensor '\(key)' has shape \(found), expected \(expected)"
        case let .unused(keys, origin):
            let shown = keys.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            let more = keys.count > 10 ? " and \(keys.count - 10) more" : ""
            return "\(origin): \(keys.count) unexpected tensor(s) not used by the model: \(shown)\(more)"
        }
    }
}

/// Strict, scoped access to a `TensorSource`: layers ask for their own keys
/// relative to a prefix; every key taken is recorded so that `verifyAllUsed`
/// can report keys the model did not consume.
///
/// `rename` maps a model-side full key (diffusers naming) to the key stored in
/// the file (e.g. CompVis naming); it is data supplied by a layout table.
public final class WeightReader: @unchecked Sendable {
    private let source: TensorSource
    private let prefix: String
    private let rename: @Sendable (String) -> String
    private let ledger: Ledger

    public init(_ source: TensorSource, prefix: String = "", rename: @escaping @Sendable (String) -> String = { $0 }) {
        self.source = source
        self.prefix = prefix
        self.rename = rename
        ledger = Ledger()
    }

    private init(source: TensorSource, prefix: String, rename: @escaping @Sendable (String) -> String, ledger: Ledger) {
        self.source = source
        self.prefix = prefix
        self.rename = rename
        self.ledger = ledger
    }

    /// A reader for the sub-module `name` (keys `prefix.name.*`), sharing this reader's ledger.
    public func scoped(_ name: String) -> WeightReader {
        WeightReader(source: source, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", rename: rename, ledger: ledger)
    }

    /// The full model-side key of `name` in this scope.
    public func fullKey(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    /// Whether the file has `name` in this scope (for optional parameters such as biases).
    public func contains(_ name: String) -> Bool { source.shape(of: rename(fullKey(name))) != nil }

    /// The tensor `name` in this scope, checked against `shape` (its stored shape
    /// must hold the same number of values, e.g. a [O, I, 1, 1] conv read as [O, I]).
    public func callAsFunction(_ name: String, shape: [Int]) throws -> Tensor {
        let storedKey = rename(fullKey(name))
        guard let stored = source.shape(of: storedKey) else {
            throw WeightError.missing(key: storedKey, origin: source.origin)
        }
        guard stored == shape || (Tensor.elementCount(stored) == Tensor.elementCount(shape)
                                  && stored.filter { $0 != 1 } == shape.filter { $0 != 1 }) else {
            throw WeightError.shapeMismatch(key: storedKey, expected: shape, found: stored, origin: source.origin)
        }
        ledger.record(storedKey)
        return try source.tensor(storedKey).reshaped(shape)
    }

    /// Marks stored keys as deliberately ignored (e.g. buffers the model recomputes).
    public func ignore(where predicate: (String) -> Bool) {
        for key in source.keys where predicate(key) { ledger.record(key) }
    }

    /// Throws `WeightError.unused` listing every stored key under `storedPrefix` that no layer took.
    public func verifyAllUsed(storedPrefix: String = "") throws {
        let unused = source.keys.filter { $0.hasPrefix(storedPrefix) && !ledger.contains($0) }
        if !unused.isEmpty { throw WeightError.unused(keys: unused, origin: source.origin) }
    }
}

/// The set of stored keys taken so far, shared by a reader and its scopes.
private final class Ledger: @unchecked Sendable {
    private var taken = Set<String>()
    private let lock = NSLock()
    func record(_ key: String) { lock.withLock { _ = taken.insert(key) } }
    func contains(_ key: String) -> Bool { lock.withLock { taken.contains(key) } }
}
