/// Values a restricted unpickler builds. Lists and dicts are shared,
/// mutable boxes, as in Python: the memo and later APPENDS/SETITEMS see the
/// same object.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit in 64 bits (kept only to be shown).
    case bigInt(byteCount: Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    /// A reference to a module attribute: inert unless called.
    case global(PickleGlobal)
    /// A storage named by a persistent id: `('storage', type, key, location, numel)`.
    case storage(PickleStorage)
    case tensor(PickleTensor)
    /// An instance of a data-only class that is recognized but not decoded (e.g. a numpy scalar).
    case opaque(String)

    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case let .global(global): "global \(global)"
        case .storage: "storage"
        case .tensor: "tensor"
        case let .opaque(name): "\(name) object"
        }
    }
}

/// An immutable tuple that knows how deeply tuples nest inside it, so a
/// hostile chain of `TUPLE1` opcodes is refused before it can exhaust the
/// stack when it is released.
struct PickleTuple {
    let items: [PickleValue]
    let depth: Int

    init(_ items: [PickleValue]) {
        self.items = items
        depth = 1 + items.reduce(0) { deepest, item in
            if case let .tuple(inner) = item { return max(deepest, inner.depth) }
            return deepest
        }
    }
}

final class PickleList {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

final class PickleDict {
    var entries: [(key: PickleValue, value: PickleValue)] = []
}

struct PickleGlobal: Hashable, Sendable, CustomStringConvertible {
    let module: String
    let name: String
    /// The module as written when it differs (protocol 2 pickles use Python 2 names).
    let pickledModule: String

    /// Python 2 module names protocol-2 pickles use, mapped as Python 3's `_compat_pickle` does.
    private static let python2Modules = ["__builtin__": "builtins", "copy_reg": "copyreg", "commands": "subprocess"]

    init(pickledModule: String, name: String) {
        self.pickledModule = pickledModule
        module = PickleGlobal.python2Modules[pickledModule] ?? pickledModule
        self.name = name
    }

    var description: String {
        module == pickledModule ? "\(module).\(name)" : "\(module).\(name) (written as \(pickledModule).\(name))"
    }

    /// The dotted name used by the allow-lists.
    var qualifiedName: String { "\(module).\(name)" }
}

struct PickleStorage: Equatable, Sendable {
    let key: String
    /// nil for an untyped (byte) storage, whose type comes from the tensor.
    let type: StoredElementType?
    let typeName: String
    /// Elements of `type` (bytes for untyped storages).
    let count: Int
}

struct PickleTensor: Equatable, Sendable {
    let storage: PickleStorage
    let type: StoredElementType
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}
