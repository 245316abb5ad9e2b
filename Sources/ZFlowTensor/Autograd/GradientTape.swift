import Foundation

/// Records the differentiable ops a task runs, then gives reverse-mode gradients of a scalar
/// loss with respect to named tensors (docs/training.md, "Gradients").
///
/// ```swift
/// let tape = GradientTape()
/// let loss = try tape.record { try bceWithLogits(model(x), target: mask) }
/// let gradients = try tape.gradient(of: loss, withRespectTo: parameters)   // same keys
/// ```
///
/// Ops record only while `GradientTape.current` is set (inside `record`), so inference code pays
/// one task-local read per op. Each entry keeps its input and output tensors alive (their
/// identities stay valid) and a pullback that captures what its backward needs.
public final class GradientTape: @unchecked Sendable {
    /// The tape the current task's ops record on (nil: nothing records).
    @TaskLocal public static var current: GradientTape?

    /// Maps the gradient of an op's output to the gradients of its inputs. `needed[i]` says whether
    /// input i's gradient is wanted; the pullback may return nil for the others (and for inputs
    /// it does not differentiate, such as integer-valued targets).
    public typealias Pullback = @Sendable (_ outputGradient: Tensor, _ needed: [Bool]) throws -> [Tensor?]

    struct Entry {
        let operation: String
        let inputs: [Tensor]
        let output: Tensor
        let pullback: Pullback
    }

    private let lock = NSLock()
    private var entries: [Entry] = []
    /// Entries whose pullback ran in the last `gradient` call (tests check the pruning with it).
    private(set) var lastRunCount = 0
    /// Whether the blocks models mark with `GradientTape.block` keep only their inputs and run
    /// again in backward (Recomputation.swift).
    public let recomputesBlocks: Bool

    public init() {
        recomputesBlocks = false
    }

    /// `recomputingBlocks`: the reference's `use_checkpoint: True` (docs/training.md, "Recomputation").
    public init(recomputingBlocks: Bool) {
        recomputesBlocks = recomputingBlocks
    }

    /// Runs `body` with this tape recording the ops it starts.
    public func record<Result>(_ body: () throws -> Result) rethrows -> Result {
        try GradientTape.$current.withValue(self, operation: body)
    }

    /// Runs `body` with this tape recording the ops it starts.
    public func record<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        try await GradientTape.$current.withValue(self, operation: body)
    }

    /// How many ops were recorded.
    public var count: Int { lock.withLock { entries.count } }

    /// The entries recorded so far, in order.
    var recordedEntries: [Entry] { lock.withLock { entries } }

    /// Bytes of the allocated storages the recorded entries hold (their inputs and outputs, each
    /// storage once): the activations the tape keeps for backward. Borrowed storage (memory-mapped
    /// weights) is not counted.
    public var keptBytes: Int {
        var seen = Set<ObjectIdentifier>(), bytes = 0
        for entry in recordedEntries {
            for tensor in entry.inputs + [entry.output] where !tensor.storage.isBorrowed {
                if seen.insert(ObjectIdentifier(tensor.storage)).inserted { bytes += tensor.storage.count * 4 }
            }
        }
        return bytes
    }

    /// Notes one op on the current task's tape, if one is recording. Ops call this after computing
    /// `output`; plugins may call it for ops of their own. `inputs` and `pullback` are evaluated
    /// only when a tape records, so the forward path allocates nothing for them otherwise.
    @inline(__always)
    public static func note(_ operation: String, inputs: @autoclosure () -> [Tensor], output: Tensor,
                            pullback: @autoclosure () -> Pullback) {
        guard let tape = current else { return }
        tape.append(Entry(operation: operation, inputs: inputs(), output: output, pullback: pullback()))
    }

    private func append(_ entry: Entry) {
        lock.withLock { entries.append(entry) }
    }

    /// The gradients of `loss` (one value, seeded with 1) with respect to each tensor of `inputs`,
    /// under the same keys. Only entries on a path from `inputs` to `loss` run. A key whose tensor
    /// does not influence the loss is absent from the result (as torch leaves such a `grad` None).
    ///
    /// A tensor is identified by its storage, offset and shape. A wanted tensor also receives the
    /// gradients of other-shaped views of the same values that no recorded op made (a [O,I,1,1]
    /// checkpoint weight read as [O,I] before recording started).
    public func gradient(of loss: Tensor, withRespectTo inputs: [String: Tensor]) throws -> [String: Tensor] {
        guard loss.count == 1 else {
            throw ShapeError("gradient", "the loss must hold one value, got shape \(loss.shape)")
        }
        let recorded = lock.withLock { entries }
        let plan = GradientPlan(entries: recorded, loss: TensorIdentity(loss), inputs: inputs.values.map(TensorAddress.init))
        let wanted = Set(inputs.values.map(TensorIdentity.init))
        // Pullbacks call ops; they must not record onto any tape.
        let (gradients, produced) = try GradientTape.$current.withValue(nil) {
            try walk(plan, entries: recorded, from: loss, seed: Tensor(repeating: 1, shape: loss.shape), wanted: wanted)
        }
        var result: [String: Tensor] = [:]
        for (key, tensor) in inputs {
            let identity = TensorIdentity(tensor), address = TensorAddress(tensor)
            var total = produced[identity] ?? gradients[identity]
            // Views of the same values under other shapes that no entry made (leaves).
            for (other, gradient) in gradients where other != identity && other.address == address {
                let reshaped = try gradient.reshaped(tensor.shape)
                total = try total.map { try add($0, reshaped) } ?? reshaped
            }
            if let total { result[key] = total }
        }
        return result
    }

    /// Runs the pullbacks of `plan` in reverse from `output` (seeded with `seed`) and returns the
    /// gradient of every needed tensor that no entry consumed, each contribution added in walk
    /// order, and those of the `wanted` tensors some entry produced. With `leafUse`, the
    /// contributions to `wanted` tensors go to it one by one (entry index, input slot, gradient)
    /// instead (a recomputed block's walk, Recomputation.swift).
    func walk(_ plan: GradientPlan, entries: [Entry], from output: Tensor, seed: Tensor, wanted: Set<TensorIdentity>,
              leafUse: ((_ entry: Int, _ slot: Int, _ gradient: Tensor) -> Void)? = nil) throws
        -> (gradients: [TensorIdentity: Tensor], produced: [TensorIdentity: Tensor]) {
        var gradients: [TensorIdentity: Tensor] = [TensorIdentity(output): seed]
        // Gradients of wanted tensors that some entry produced, as they were when it ran.
        var produced: [TensorIdentity: Tensor] = [:]
        var ran = 0
        for index in plan.entriesToRun.reversed() {
            let entry = entries[index]
            let outputIdentity = TensorIdentity(entry.output)
            guard let outputGradient = gradients.removeValue(forKey: outputIdentity) else { continue }
            if wanted.contains(outputIdentity) { produced[outputIdentity] = outputGradient }
            let needed = entry.inputs.map { plan.needed.contains(TensorIdentity($0)) }
            let inputGradients = try {
                let timing = timeOp("\(entry.operation) backward")
                defer { timing?.stop() }
                return try entry.pullback(outputGradient, needed)
            }()
            ran += 1
            guard inputGradients.count == entry.inputs.count else {
                throw ShapeError(entry.operation, "backward gave \(inputGradients.count) gradients for \(entry.inputs.count) inputs")
            }
            for (slot, (input, gradient)) in zip(entry.inputs, inputGradients).enumerated() {
                guard let gradient, plan.needed.contains(TensorIdentity(input)) else { continue }
                guard gradient.shape == input.shape else {
                    throw ShapeError(entry.operation, "backward gave a gradient of shape \(gradient.shape) for input \(input.shape)")
                }
                let identity = TensorIdentity(input)
                if let leafUse, wanted.contains(identity) {
                    leafUse(index, slot, gradient)
                    continue
                }
                gradients[identity] = try gradients[identity].map { try add($0, gradient) } ?? gradient
            }
        }
        lock.withLock { lastRunCount = ran }
        return (gradients, produced)
    }
}

/// Which recorded entries a gradient needs: those on a path from a wanted input to the loss.
struct GradientPlan {
    /// Indices into the entries, in recording order.
    let entriesToRun: [Int]
    /// Tensors whose gradient some entry to run, or the caller, needs.
    let needed: Set<TensorIdentity>

    init(entries: [GradientTape.Entry], loss: TensorIdentity, inputs: [TensorAddress]) {
        // Forward: tensors that depend on a wanted input (by address, so views made before
        // recording count).
        var dependent = Set(inputs)
        var dependsOnInput = [Bool](repeating: false, count: entries.count)
        for (index, entry) in entries.enumerated() where entry.inputs.contains(where: { dependent.contains(TensorAddress($0)) }) {
            dependsOnInput[index] = true
            dependent.insert(TensorAddress(entry.output))
        }
        // Backward: of those, the entries the loss depends on.
        var reachesLoss: Set<TensorIdentity> = [loss]
        var chosen: [Int] = []
        var needed: Set<TensorIdentity> = []
        for index in entries.indices.reversed() where dependsOnInput[index] {
            let entry = entries[index]
            guard reachesLoss.contains(TensorIdentity(entry.output)) else { continue }
            chosen.append(index)
            for input in entry.inputs where dependent.contains(TensorAddress(input)) {
                reachesLoss.insert(TensorIdentity(input))
                needed.insert(TensorIdentity(input))
            }
        }
        entriesToRun = chosen.reversed()
        self.needed = needed
    }
}

/// A tensor's identity on a tape: the same storage, offset and shape are the same tensor.
struct TensorIdentity: Hashable {
    let storage: ObjectIdentifier
    let offset: Int
    let shape: [Int]

    init(_ tensor: Tensor) {
        storage = ObjectIdentifier(tensor.storage)
        offset = tensor.offset
        shape = tensor.shape
    }

    var address: TensorAddress { TensorAddress(storage: storage, offset: offset, count: Tensor.elementCount(shape)) }
}

/// The values a tensor covers, whatever its shape.
struct TensorAddress: Hashable {
    let storage: ObjectIdentifier
    let offset: Int
    let count: Int

    init(storage: ObjectIdentifier, offset: Int, count: Int) {
        self.storage = storage
        self.offset = offset
        self.count = count
    }

    init(_ tensor: Tensor) {
        self.init(storage: ObjectIdentifier(tensor.storage), offset: tensor.offset, count: tensor.count)
    }
}
