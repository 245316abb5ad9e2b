import Foundation

/// A contiguous run of Float32 values: either allocated here (64-byte aligned at least),
/// borrowed from memory someone else owns (a mapped weight file), which the storage keeps alive
/// through `owner`, or present on demand (`OnDemandValues`: readable only inside
/// `Tensor.whileResident`).
///
/// Tensors are values: an op never writes into the storage of an input tensor,
/// only into storage it has just allocated. Borrowed storage may be read-only
/// memory (a `PROT_READ` mapping).
public final class TensorStorage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?

    /// Allocates `count` floats, uninitialized, from `MemoryPool` (large buffers are reused
    /// across calls and runs instead of being faulted in and zeroed by the kernel again, and sit on
    /// transparent huge pages: with the parallel f16 conversion, loading the full SD + LD-ZNet
    /// weights went from ~9 s to 1-4 s).
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "negative element count \(count)")
        base = allocateFloats(count)
        self.count = count
        owner = nil
        onDemand = nil
    }

    /// Borrows `count` floats at `base`; `owner` is retained for the storage's lifetime.
    public init(borrowing base: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.base = base
        self.count = count
        self.owner = owner
        onDemand = nil
    }

    /// Values that `onDemand` brings into memory at `onDemand.base` while a caller uses them.
    public init(onDemand: OnDemandValues, count: Int) {
        base = onDemand.base
        self.count = count
        owner = onDemand
        self.onDemand = onDemand
    }

    deinit {
        if owner == nil { releaseFloats(base) }
    }

    /// Whether the values belong to someone else (a mapped weight file), not to this storage.
    public var isBorrowed: Bool { owner != nil }

    /// Set for values present only while used; `users` counts the callers inside
    /// `whileResident` (under `derivedLock`).
    let onDemand: OnDemandValues?
    private var users = 0

    /// Whether the values are in memory only while a caller uses them (they hold no memory otherwise).
    public var isOnDemand: Bool { onDemand != nil }

    /// Runs `body` with the values in memory: the first caller in brings them in, the last one out
    /// lets them go. Other storages run `body` at once.
    func whileResident<Result>(_ body: () throws -> Result) throws -> Result {
        guard let onDemand else { return try body() }
        try derivedLock.withLock {
            if users == 0 { try onDemand.bringIn() }
            users += 1
        }
        defer {
            derivedLock.withLock {
                users -= 1
                if users == 0 { onDemand.letGo() }
            }
        }
        return try body()
    }

    private let derivedLock = NSLock()
    private var derivedValues: [String: AnyObject] = [:]

    /// A value computed from these contents (Winograd-transformed weights), made at the first
    /// request and kept as long as the storage, so that a model's weights are transformed once,
    /// not on every call. Storage written after others have read it (trained parameters) must
    /// call `contentsChanged()`, which forgets the derived values. On-demand values keep nothing:
    /// a derived copy would hold the memory they exist to give back.
    func derived<Value: AnyObject>(_ key: String, make: () -> Value) -> Value {
        if onDemand != nil { return make() }
        derivedLock.lock()
        defer { derivedLock.unlock() }
        if let existing = derivedValues[key] as? Value { return existing }
        let made = make()
        derivedValues[key] = made
        return made
    }

    /// Forgets every value derived from the old contents.
    public func contentsChanged() {
        derivedLock.withLock { derivedValues = [:] }
    }

    /// Forgets the derived values whose keys start with `prefix` (a backend's form of weights the
    /// tuner did not choose); callers still holding one keep it until they let it go.
    func forgetDerived(prefix: String) {
        derivedLock.withLock { derivedValues = derivedValues.filter { !$0.key.hasPrefix(prefix) } }
    }
}

/// A dense, row-major (NCHW for images) Float32 tensor.
public struct Tensor: Sendable {
    public let shape: [Int]
    public let storage: TensorStorage
    /// Element offset of this tensor's first value inside `storage`.
    public let offset: Int

    public init(shape: [Int], storage: TensorStorage, offset: Int = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(offset + Tensor.elementCount(shape) <= storage.count,
                     "shape \(shape) at offset \(offset) exceeds storage of \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.offset = offset
    }

    /// A tensor whose values the caller must write before anyone reads them.
    public init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(uninitializedCount: Tensor.elementCount(shape)))
    }

    public init(zeros shape: [Int]) {
        self.init(repeating: 0, shape: shape)
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        mutablePointer.update(repeating: value, count: count)
    }

    public init(shape: [Int], scalars: [Float]) {
        precondition(scalars.count == Tensor.elementCount(shape),
                     "\(scalars.count) values do not fill shape \(shape)")
        self.init(uninitialized: shape)
        scalars.withUnsafeBufferPointer { mutablePointer.update(from: $0.baseAddress!, count: count) }
    }

    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    public var count: Int { Tensor.elementCount(shape) }
    public var rank: Int { shape.count }

    /// Read access to the values.
    public var pointer: UnsafePointer<Float> { UnsafePointer(storage.base + offset) }

    /// Write access, for code that just allocated this tensor (see `TensorStorage`).
    public var mutablePointer: UnsafeMutablePointer<Float> { storage.base + offset }

    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }

    public var scalars: [Float] { Array(buffer) }

    /// The same values under another shape; `-1` stands for the one inferred dimension.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw ShapeError("reshape", "cannot reshape \(shape) to \(newShape)")
            }
            resolved[inferred] = count / known
        }
        guard resolved.allSatisfy({ $0 >= 0 }), Tensor.elementCount(resolved) == count else {
            throw ShapeError("reshape", "cannot reshape \(shape) (\(count) values) to \(newShape)")
        }
        let result = Tensor(shape: resolved, storage: storage, offset: offset)
        GradientTape.note("reshaped", inputs: [self], output: result, pullback: reshapeBackward(shape))
        return result
    }

    /// Element `index` along the first dimension, sharing storage.
    public func slice(_ index: Int) -> Tensor {
        precondition(rank > 0 && index >= 0 && index < shape[0], "index \(index) out of range for \(shape)")
        let inner = Array(shape.dropFirst())
        let result = Tensor(shape: inner, storage: storage, offset: offset + index * Tensor.elementCount(inner))
        GradientTape.note("slice", inputs: [self], output: result, pullback: sliceBackward(shape, rows: index..<(index + 1)))
        return result
    }

    /// Elements `range` along the first dimension, sharing storage.
    public func slice(_ range: Range<Int>) -> Tensor {
        precondition(rank > 0 && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "range \(range) out of bounds for \(shape)")
        let inner = Tensor.elementCount(Array(shape.dropFirst()))
        let result = Tensor(shape: [range.count] + shape.dropFirst(), storage: storage,
                            offset: offset + range.lowerBound * inner)
        GradientTape.note("slice", inputs: [self], output: result, pullback: sliceBackward(shape, rows: range))
        return result
    }

    /// A copy in fresh storage (for callers that must own what they write).
    public func copied() -> Tensor {
        let result = Tensor(uninitialized: shape)
        result.mutablePointer.update(from: pointer, count: count)
        return result
    }
}

/// A shape problem caused by the caller's data: both shapes are in the message.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let message: String

    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }
}
