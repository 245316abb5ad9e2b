import Foundation
import ZFlowIO
import ZFlowTensor

/// Strict, scoped access to a `TensorSource`: layers ask for their own keys
/// relative to a prefix; every key taken is recorded in a ledger the scopes share.
///
/// Model loaders build through `load`, which reports every missing, mis-shaped and
/// unused tensor of the file in one error and never returns a model built from an
/// incompatible file. A tensor read outside `load` throws at the first problem.
///
/// `rename` maps a model-side full key (diffusers naming) to the key stored in
/// the file (e.g. CompVis naming); it is data supplied by a layout table.
///
/// `onDemandFrom`, when set, hands out matrices and kernels (rank 2 and more) of that many values
/// and more as `TensorSource.tensorOnDemand` makes them: in memory only while a layer computes
/// with them (`Conv2d` and `Linear` wrap their products in `Tensor.whileResident`). Vectors
/// (biases, norm weights) and smaller tensors are read as usual. A model built so must read its
/// large matrices only through `Conv2d` and `Linear` (SD's UNet does; CLIP's token embedding
/// would not).
public final class WeightReader: @unchecked Sendable {
    /// 256 KiB of f32: SD's norm weights and biases stay below, its products' weights above.
    public static let onDemandMinimumElements = 1 << 16

    private let source: TensorSource
    private let prefix: String
    private let rename: @Sendable (String) -> String
    private let onDemandFrom: Int?
    private let ledger: Ledger

    public init(_ source: TensorSource, prefix: String = "", rename: @escaping @Sendable (String) -> String = { $0 },
                onDemandFrom: Int? = nil) {
        self.source = source
        self.prefix = prefix
        self.rename = rename
        self.onDemandFrom = onDemandFrom
        ledger = Ledger()
    }

    private init(source: TensorSource, prefix: String, rename: @escaping @Sendable (String) -> String, onDemandFrom: Int?,
                 ledger: Ledger) {
        self.source = source
        self.prefix = prefix
        self.rename = rename
        self.onDemandFrom = onDemandFrom
        self.ledger = ledger
    }

    /// A reader for the sub-module `name` (keys `prefix.name.*`), sharing this reader's ledger.
    public func scoped(_ name: String) -> WeightReader {
        WeightReader(source: source, prefix: prefix.isEmpty ? name : "\(prefix).\(name)", rename: rename, onDemandFrom: onDemandFrom,
                     ledger: ledger)
    }

    /// The full model-side key of `name` in this scope.
    public func fullKey(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    /// Whether the file has `name` in this scope (for optional parameters such as biases).
    public func contains(_ name: String) -> Bool { source.shape(of: rename(fullKey(name))) != nil }

    /// The tensor `name` in this scope, checked against `shape` (its stored shape
    /// must hold the same number of values, e.g. a [O, I, 1, 1] conv read as [O, I]).
    /// Inside `load`, a missing or mis-shaped tensor is recorded and read as zeros of
    /// `shape`; outside, it throws `WeightError.missing` or `.shapeMismatch`.
    public func callAsFunction(_ name: String, shape: [Int]) throws -> Tensor {
        let storedKey = rename(fullKey(name))
        guard let stored = source.shape(of: storedKey) else {
            return try placeholder(shape, for: .missing(key: storedKey, origin: source.origin))
        }
        // Taken even when mis-shaped, so that it is reported as that and not also as unused.
        ledger.record(storedKey)
        guard stored == shape || (elementCount(stored) != nil && elementCount(stored) == elementCount(shape)
                                  && stored.filter { $0 != 1 } == shape.filter { $0 != 1 }) else {
            return try placeholder(shape, for: .shapeMismatch(key: storedKey, expected: shape, found: stored,
                                                              origin: source.origin))
        }
        let read = shape.count >= 2 && (elementCount(shape) ?? 0) >= (onDemandFrom ?? .max)
            ? try source.tensorOnDemand(storedKey) : try source.tensor(storedKey)
        let tensor = try read.reshaped(shape)
        ledger.keep(tensor, storedKey: storedKey, modelKey: fullKey(name))
        return tensor
    }

    /// The tensors this reader and its scopes handed out, keyed by `key(modelKey)` (diffusers
    /// naming) or, when `key` is nil, by stored key. They are the tensors the model computes with
    /// (no copy), so a `GradientTape` finds them; in the shapes the model reads them.
    public func takenTensors(keyedBy key: ((String) -> String)? = nil) -> [String: Tensor] {
        ledger.kept(keyedBy: key)
    }

    /// Marks stored keys as deliberately ignored (e.g. buffers the model recomputes).
    public func ignore(where predicate: (String) -> Bool) {
        for key in source.keys where predicate(key) { ledger.record(key) }
    }

    /// Builds a model with `build` from this reader and checks the file against it in one pass.
    ///
    /// While `build` runs, a missing or mis-shaped tensor is recorded and read as zeros of the
    /// expected shape, so that loading goes on and finds the other problems. Then every stored
    /// key under `storedPrefix` that no layer took and that was not ignored (call `ignore` before
    /// or inside `build`) is unused. Any problem throws one `WeightError.incompatible` listing
    /// them all, so a model is returned only when it holds the file's tensors, never a
    /// placeholder. When `build` throws after a problem was recorded, the recorded problems are
    /// thrown instead (a placeholder may be the cause), without unused keys: loading stopped early.
    /// `load` does not nest.
    public func load<Model>(storedPrefix: String = "", _ build: (WeightReader) throws -> Model) throws -> Model {
        ledger.beginCollecting()
        let model: Model
        do {
            model = try build(self)
        } catch {
            let problems = ledger.endCollecting()
            guard problems.missing.isEmpty && problems.misshapen.isEmpty else {
                throw WeightError.incompatible(missing: problems.missing, misshapen: problems.misshapen, unused: [],
                                               origin: source.origin)
            }
            throw error
        }
        let problems = ledger.endCollecting()
        let unused = source.keys.filter { $0.hasPrefix(storedPrefix) && !ledger.contains($0) }
        guard problems.missing.isEmpty && problems.misshapen.isEmpty && unused.isEmpty else {
            throw WeightError.incompatible(missing: problems.missing, misshapen: problems.misshapen, unused: unused,
                                           origin: source.origin)
        }
        return model
    }

    /// Inside `load`, records `problem` and returns zeros of `shape`; outside, throws `problem`.
    /// A placeholder larger than the file's largest tensor is never allocated: `load` stops there
    /// (a model asking for it was configured for another file).
    private func placeholder(_ shape: [Int], for problem: WeightError) throws -> Tensor {
        guard ledger.recordIfCollecting(problem) else { throw problem }
        guard let count = elementCount(shape), count <= ledger.largestStoredCount(source) else { throw problem }
        return ledger.zeros(shape)
    }
}

/// The number of values of `shape`, or nil when a dimension is negative or the product overflows.
private func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        count = product
    }
    return count
}

/// What a reader and its scopes share: the stored keys taken so far and, inside
/// `WeightReader.load`, the problems found.
private final class Ledger: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = Set<String>()
    private var isCollecting = false
    private var missing: [String] = []
    private var misshapen: [MisshapenTensor] = []
    /// Zeros shared by all placeholders (tensors are values: no op writes into an input's storage).
    private var zeroStorage = TensorStorage(uninitializedCount: 0)
    private var largestStored: Int?

    /// The tensors read, by stored key, with their model-side keys.
    private var tensors: [String: (modelKey: String, tensor: Tensor)] = [:]

    func record(_ key: String) { lock.withLock { _ = taken.insert(key) } }

    func keep(_ tensor: Tensor, storedKey: String, modelKey: String) {
        lock.withLock { tensors[storedKey] = (modelKey, tensor) }
    }

    func kept(keyedBy key: ((String) -> String)?) -> [String: Tensor] {
        let all = lock.withLock { tensors }
        return Dictionary(uniqueKeysWithValues: all.map { (key?($0.value.modelKey) ?? $0.key, $0.value.tensor) })
    }
    func contains(_ key: String) -> Bool { lock.withLock { taken.contains(key) } }

    func beginCollecting() {
        lock.withLock {
            precondition(!isCollecting, "WeightReader.load does not nest")
            isCollecting = true
        }
    }

    /// Ends collecting and returns the problems found since `beginCollecting`.
    func endCollecting() -> (missing: [String], misshapen: [MisshapenTensor]) {
        lock.withLock {
            defer { isCollecting = false; missing = []; misshapen = [] }
            return (missing, misshapen)
        }
    }

    /// Records a missing or mis-shaped tensor when collecting; false otherwise.
    func recordIfCollecting(_ problem: WeightError) -> Bool {
        lock.withLock {
            guard isCollecting else { return false }
            switch problem {
            case let .missing(key, _): missing.append(key)
            case let .shapeMismatch(key, expected, found, _):
                misshapen.append(MisshapenTensor(key: key, expected: expected, found: found))
            case .incompatible: return false
            }
            return true
        }
    }

    /// The element count of the largest tensor `source` stores (computed once).
    func largestStoredCount(_ source: TensorSource) -> Int {
        if let largest = lock.withLock({ largestStored }) { return largest }
        let largest = source.keys.compactMap { source.shape(of: $0).flatMap(elementCount) }.max() ?? 0
        lock.withLock { largestStored = largest }
        return largest
    }

    /// A zero tensor of `shape`, on storage shared with the other placeholders.
    func zeros(_ shape: [Int]) -> Tensor {
        lock.withLock {
            let count = Tensor.elementCount(shape)
            if zeroStorage.count < count { zeroStorage = Tensor(zeros: [count]).storage }
            return Tensor(shape: shape, storage: zeroStorage)
        }
    }
}
