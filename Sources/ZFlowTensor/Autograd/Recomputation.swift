// Recomputation per block, as torch.utils.checkpoint and the reference's `use_checkpoint: True`
// (docs/training.md, "Recomputation").

extension GradientTape {
    /// Runs `body`, one block of a model (a ResBlock, a spatial transformer). On a tape made with
    /// `recomputingBlocks: true`, the block's activations are not kept: the tape notes one entry
    /// holding only what the block reads from outside (its inputs, weights, context) and its
    /// output, and backward runs the block again, recorded, to get its gradients. Elsewhere (no
    /// tape, or a tape that keeps everything) `body` just runs.
    public static func block(_ body: @escaping @Sendable () throws -> Tensor) throws -> Tensor {
        guard let tape = current, tape.recomputesBlocks else { return try body() }
        // The block runs on a tape of its own (kept only while it runs) to learn what it reads.
        let inner = GradientTape()
        let output = try inner.record(body)
        let uses = leafUses(of: inner.recordedEntries)
        note("recomputed block", inputs: uses.map(\.tensor), output: output,
             pullback: recomputedBlockBackward(body, uses: uses.map { LeafUse.Place(entry: $0.entry, slot: $0.slot) }))
        return output
    }
}

/// A tensor a block reads from outside it (an input no op of the block made), at one place.
struct LeafUse {
    struct Place: Hashable {
        let entry: Int
        let slot: Int
    }

    let entry: Int
    let slot: Int
    let tensor: Tensor
}

/// Every read of a tensor no earlier entry made (the block's leaves), in the order a walk back
/// over the entries meets them: entries last to first, inputs in order within one. A leaf read
/// twice is listed twice.
func leafUses(of entries: [GradientTape.Entry]) -> [LeafUse] {
    var made = Set<TensorIdentity>()
    var perEntry: [[LeafUse]] = []
    for (index, entry) in entries.enumerated() {
        perEntry.append(entry.inputs.enumerated().filter { !made.contains(TensorIdentity($0.element)) }
            .map { LeafUse(entry: index, slot: $0.offset, tensor: $0.element) })
        made.insert(TensorIdentity(entry.output))
    }
    return perEntry.reversed().flatMap { $0 }
}

/// A recomputed block's pullback: runs the block again on a tape of its own and walks it back from
/// the block's output seeded with the output's gradient. Each use of a leaf receives the gradient
/// its op gave it, in the order the walk produced them, so the enclosing walk adds them exactly as
/// a tape that kept the block would have: the gradients are bit for bit the same.
func recomputedBlockBackward(_ body: @escaping @Sendable () throws -> Tensor, uses: [LeafUse.Place]) -> GradientTape.Pullback {
    { gradient, needed in
        let again = GradientTape()
        let output = try again.record(body)
        let entries = again.recordedEntries
        guard uses.allSatisfy({ $0.entry < entries.count && $0.slot < entries[$0.entry].inputs.count }) else {
            throw ShapeError("recomputed block", "the block recorded other ops when run again (\(entries.count) ops)")
        }
        let position = Dictionary(uniqueKeysWithValues: uses.enumerated().map { ($0.element, $0.offset) })
        // The leaves as the second run read them (the same tensors; constants made inside are new).
        let wanted = uses.indices.filter { needed[$0] }.map { entries[uses[$0].entry].inputs[uses[$0].slot] }
        let plan = GradientPlan(entries: entries, loss: TensorIdentity(output), inputs: wanted.map(TensorAddress.init))
        var gradients = [Tensor?](repeating: nil, count: uses.count)
        _ = try again.walk(plan, entries: entries, from: output, seed: gradient, wanted: Set(wanted.map(TensorIdentity.init))) {
            entry, slot, contribution in
            if let index = position[LeafUse.Place(entry: entry, slot: slot)], needed[index] { gradients[index] = contribution }
        }
        return gradients
    }
}
