import ZFlowTensor

/// The parameters of a model being trained: every tensor of a `TensorTree`, each either frozen
/// or trainable (as `requires_grad` in PyTorch).
///
/// Frozen tensors stay as they were loaded (memory-mapped weights are not copied, and nothing
/// writes them). A tensor becomes trainable by being materialised: copied once into storage this
/// object owns, which the optimizers then update in place. This is the one place in ZFlow that
/// writes into an existing tensor's storage, so a `Tensor` read from here for a trainable key
/// changes at every optimizer step; keep `copied()` of it to hold a value.
///
/// Everything is trainable unless a freeze pattern (see `KeyPattern`) matches its key; a pattern
/// that matches no key is an error, so that a typo cannot silently train everything.
public final class TrainableParameters {
    private var values: TensorTree
    private var trainable: Set<String>
    /// Keys whose tensor is owned here (trainable now or at some earlier point).
    private var materialised: Set<String> = []

    /// `frozen` patterns are applied before anything is materialised: freezing the SD trunk of
    /// LD-ZNet this way never copies it.
    public init(_ tree: TensorTree, frozen patterns: [String] = []) throws {
        values = tree
        trainable = []
        let frozenKeys = try Self.keys(in: tree, matching: patterns)
        try unfreeze(keys: tree.keys.filter { !frozenKeys.contains($0) })
    }

    /// Every key, sorted.
    public var keys: [String] { values.keys }

    /// The trainable keys, sorted.
    public var trainableKeys: [String] { trainable.sorted() }

    public func isTrainable(_ key: String) -> Bool { trainable.contains(key) }

    /// The current values of every parameter (trainable ones share the storage owned here).
    public var tree: TensorTree { values }

    public subscript(key: String) -> Tensor? { values[key] }

    /// Stops updating the parameters whose keys match any of `patterns`; their values stay as they are.
    public func freeze(_ patterns: [String]) throws {
        trainable.subtract(try Self.keys(in: values, matching: patterns))
    }

    /// Makes the parameters whose keys match any of `patterns` trainable, materialising those
    /// that were never trainable before.
    public func unfreeze(_ patterns: [String]) throws {
        try unfreeze(keys: Self.keys(in: values, matching: patterns).sorted())
    }

    private func unfreeze(keys: [String]) throws {
        for key in keys where !trainable.contains(key) {
            if !materialised.contains(key) {
                values[key] = values[key]!.copied()
                materialised.insert(key)
            }
            trainable.insert(key)
        }
    }

    /// The owned tensor of trainable `key`, for the optimizers and checkpoint loading to write.
    func ownedTensor(_ key: String) -> Tensor {
        precondition(materialised.contains(key), "'\(key)' is not materialised")
        return values[key]!
    }

    /// Overwrites trainable `key` with `value` (same shape), as resuming from a checkpoint does.
    func assign(_ key: String, from value: Tensor) {
        let owned = ownedTensor(key)
        precondition(owned.shape == value.shape)
        owned.mutablePointer.update(from: value.pointer, count: owned.count)
        owned.storage.contentsChanged()
    }

    private static func keys(in tree: TensorTree, matching patterns: [String]) throws -> Set<String> {
        var found: Set<String> = []
        for text in patterns {
            let matched = tree.keys(matching: try KeyPattern(text))
            guard !matched.isEmpty else { throw TrainingError.patternMatchesNothing(pattern: text, parameterCount: tree.count) }
            found.formUnion(matched)
        }
        return found
    }
}
