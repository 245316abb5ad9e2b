/// The decoded contents of a PyTorch checkpoint, for inspection: the
/// non-tensor entries (epoch, hyper-parameters, ...) and where tensors are.
public indirect enum CheckpointValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// A byte string, by length.
    case bytes(count: Int)
    /// A list, tuple or set.
    case list([CheckpointValue])
    /// A dict or OrderedDict in stored order; keys that are not strings are shown as text.
    case dict([CheckpointEntry])
    case tensor(CheckpointTensor)
    /// Anything else, described: a class reference, an undecoded object, a big integer.
    case other(String)

    /// The value under a dict key, if this is a dict holding it.
    public subscript(key: String) -> CheckpointValue? {
        guard case let .dict(entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }
}

public struct CheckpointEntry: Sendable, Equatable {
    public let key: String
    public let value: CheckpointValue
}

/// A tensor's description inside a checkpoint; its values are read through `TorchCheckpoint.tensor(_:)`.
public struct CheckpointTensor: Sendable, Equatable {
    public var shape: [Int] { record.shape }
    /// The stored element type, e.g. "F32", "F16", "BF16".
    public var dtype: String { record.type.rawValue }
    let record: PickleTensor
}

extension CheckpointValue {
    static let maxDepth = 100
    static let maxNodes = 2_000_000

    /// Converts a parsed pickle into a tree, refusing cycles and nesting deeper
    /// than `maxDepth`, and stopping after `maxNodes` values (shared structure
    /// could otherwise expand exponentially).
    static func converting(_ value: PickleValue) throws -> CheckpointValue {
        var budget = maxNodes
        return try converting(value, depth: 0, budget: &budget)
    }

    private static func converting(_ value: PickleValue, depth: Int, budget: inout Int) throws -> CheckpointValue {
        guard depth < maxDepth else { throw PickleError(offset: nil, message: "objects nested deeper than \(maxDepth) (or a cycle)") }
        budget -= 1
        guard budget >= 0 else { throw PickleError(offset: nil, message: "more than \(maxNodes) values (shared structure?)") }
        switch value {
        case .none: return .none
        case let .bool(flag): return .bool(flag)
        case let .int(number): return .int(number)
        case let .bigInt(count): return .other("integer of \(count) bytes")
        case let .float(number): return .float(number)
        case let .string(text): return .string(text)
        case let .bytes(bytes): return .bytes(count: bytes.count)
        case let .tuple(tuple): return .list(try tuple.items.map { try converting($0, depth: depth + 1, budget: &budget) })
        case let .list(list): return .list(try list.items.map { try converting($0, depth: depth + 1, budget: &budget) })
        case let .dict(dict):
            return .dict(try dict.entries.map {
                CheckpointEntry(key: keyText($0.key), value: try converting($0.value, depth: depth + 1, budget: &budget))
            })
        case let .global(global): return .other("class \(global)")
        case let .storage(storage): return .other("storage \(storage.key)")
        case let .tensor(tensor): return .tensor(CheckpointTensor(record: tensor))
        case let .opaque(name): return .other("\(name) object")
        }
    }

    private static func keyText(_ key: PickleValue) -> String {
        switch key {
        case let .string(text): text
        case let .int(number): String(number)
        case let .bool(flag): flag ? "True" : "False"
        case .none: "None"
        case let .float(number): String(number)
        case let .global(global): global.description
        default: "<\(key.kind)>"
        }
    }
}
