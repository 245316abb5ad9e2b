import Foundation
import ZFlowIO
import ZFlowTensor

/// A training run saved as one F32 file in the release checkpoint's layout, plus the optimizer
/// under its own keys (docs/training.md, "Checkpoints"): safetensors, or, for a URL ending in
/// `.ckpt`, a Lightning-style zip + pickle checkpoint that `torch.load(weights_only=True)` reads
/// (the same tensors under `state_dict`, the metadata under `metadata`):
///
/// - every parameter under its own key (`model.diffusion_model.*`: the training copy);
/// - `model_ema.<key after "model." without dots>`: the EMA copy of every parameter under
///   `model.`, and `model_ema.<key without dots>` of a text encoder's (`cond_stage_model.*`) (frozen
///   ones never change, so their EMA is their value, written so that the EMA
///   copy is complete and loads like the release's), `model_ema.decay`, `model_ema.num_updates`;
/// - `optimizer.step` (steps taken, which the schedule reads) and
///   `optimizer.state.<parameter key>.<slot>` (`exp_avg`, `exp_avg_sq`, `step`, `momentum_buffer`);
/// - metadata `zflow.optimizer` (its name, checked on resume) and `zflow.optimizer.<setting>`.
///
/// Counts are stored as F32 as torch stores its Adam `step` (the release stores
/// `num_updates` as int32); counts above 2^24 cannot be stored exactly and are refused.
public enum TrainingCheckpoint {
    public static let optimizerStepKey = "optimizer.step"
    public static let optimizerStatePrefix = "optimizer.state."
    public static let emaDecayKey = "model_ema.decay"
    public static let emaUpdateCountKey = "model_ema.num_updates"
    static let optimizerNameKey = "zflow.optimizer"
    /// Prefixes no parameter key may have: the checkpoint's own entries live there.
    static let reservedPrefixes = ["model_ema.", "optimizer."]
    /// The largest count F32 holds exactly.
    static let largestExactCount = 1 << 24

    /// Writes `parameters`, the optimizer's state and the EMA (when there is one) to `url`
    /// (atomically: readers see the old file or the new one), as a `.ckpt` when `url` ends so.
    public static func write(_ parameters: TrainableParameters, optimizer: some Optimizer,
                             ema: ExponentialMovingAverage?, to url: URL) throws {
        let origin = url.path
        var tensors: [String: Tensor] = [:]
        for key in parameters.keys {
            if let reserved = reservedPrefixes.first(where: key.hasPrefix) {
                throw TrainingError.checkpoint(origin: origin, key: key, reason: "parameter keys may not start with '\(reserved)'")
            }
            tensors[key] = parameters[key]!
        }
        if let ema {
            let modelKeys = parameters.keys.filter(ExponentialMovingAverage.isAveraged)
            try ExponentialMovingAverage.checkEMAKeys(modelKeys)
            for key in modelKeys {
                guard let average = ema.shadow[key] ?? (parameters.isTrainable(key) ? nil : parameters[key]) else {
                    throw TrainingError.unknownParameter(key: key, context: "EMA (it became trainable after the EMA was made)")
                }
                tensors[ExponentialMovingAverage.emaKey(for: key)] = average
            }
            tensors[emaDecayKey] = Tensor(shape: [], scalars: [ema.decay])
            tensors[emaUpdateCountKey] = try countTensor(ema.updateCount, name: emaUpdateCountKey, origin: origin)
        }
        tensors[optimizerStepKey] = try countTensor(optimizer.state.stepCount, name: optimizerStepKey, origin: origin)
        for (slot, tree) in optimizer.state.slots {
            for key in tree.keys { tensors[optimizerStatePrefix + key + "." + slot] = tree[key]! }
        }
        var metadata = [optimizerNameKey: optimizer.name]
        for (name, value) in optimizer.settings { metadata[optimizerNameKey + "." + name] = value }
        if isTorchCheckpoint(url) {
            try writeTorchCheckpoint(tensors, to: url, metadata: metadata)
        } else {
            try writeSafeTensors(tensors, to: url, metadata: metadata)
        }
    }

    static func isTorchCheckpoint(_ url: URL) -> Bool { url.pathExtension.lowercased() == "ckpt" }

    /// Continues a run saved by `write`: copies the stored training copy of every trainable
    /// parameter into `parameters` (frozen ones are not read: they never change), replaces the
    /// optimizer's state with the stored one, and returns the stored EMA over the trainable
    /// parameters it averages (`ExponentialMovingAverage.isAveraged`; nil when the file has none). Nothing is changed unless the whole
    /// file fits: missing or mis-shaped tensors and another optimizer's state are errors.
    public static func resume(_ parameters: TrainableParameters, optimizer: inout some Optimizer,
                              from url: URL) throws -> ExponentialMovingAverage? {
        let (file, metadata) = try openWritten(url)
        let origin = file.origin
        func fail(_ key: String?, _ reason: String) -> TrainingError { .checkpoint(origin: origin, key: key, reason: reason) }
        func stored(_ key: String, shape: [Int]) throws -> Tensor {
            guard let storedShape = file.shape(of: key) else { throw fail(key, "missing") }
            guard storedShape == shape else {
                throw TrainingError.shapeMismatch(key: key, context: "\(origin): stored", shape: storedShape, expected: shape)
            }
            return try file.tensor(key).copied()
        }

        let storedName = metadata[optimizerNameKey] ?? "(none)"
        guard storedName == optimizer.name else {
            throw fail(nil, "holds the state of optimizer '\(storedName)', not of '\(optimizer.name)'")
        }
        var state = OptimizerState()
        state.stepCount = try count(stored(optimizerStepKey, shape: []), name: optimizerStepKey, fail: fail)
        for key in file.keys where key.hasPrefix(optimizerStatePrefix) {
            let path = key.dropFirst(optimizerStatePrefix.count)
            guard let dot = path.lastIndex(of: "."), optimizer.slotNames.contains(String(path[path.index(after: dot)...])) else {
                throw fail(key, "not a slot of optimizer '\(optimizer.name)' (slots: \(optimizer.slotNames.joined(separator: ", ")))")
            }
            let parameterKey = String(path[..<dot]), slot = String(path[path.index(after: dot)...])
            guard let parameter = parameters[parameterKey] else {
                throw TrainingError.unknownParameter(key: parameterKey, context: "\(origin): optimizer state '\(key)'")
            }
            state.slots[slot, default: TensorTree()][parameterKey] =
                try stored(key, shape: slot == "step" ? [] : parameter.shape)
        }

        var values: [String: Tensor] = [:]
        for key in parameters.trainableKeys { values[key] = try stored(key, shape: parameters[key]!.shape) }
        var ema: ExponentialMovingAverage?
        if file.shape(of: emaDecayKey) != nil {
            var shadow = TensorTree()
            for key in parameters.trainableKeys where ExponentialMovingAverage.isAveraged(key) {
                shadow[key] = try stored(ExponentialMovingAverage.emaKey(for: key), shape: parameters[key]!.shape)
            }
            let decay = try stored(emaDecayKey, shape: []).scalars[0]
            let updates = try count(stored(emaUpdateCountKey, shape: []), name: emaUpdateCountKey, fail: fail)
            ema = try ExponentialMovingAverage(decay: decay, updateCount: updates, shadow: shadow)
        }

        for (key, value) in values { parameters.assign(key, from: value) }
        optimizer.state = state
        return ema
    }

    /// The tensors and metadata of a file `write` wrote, in either format.
    private static func openWritten(_ url: URL) throws -> (tensors: TensorSource, metadata: [String: String]) {
        guard isTorchCheckpoint(url) else {
            let file = try SafeTensorsFile(contentsOf: url)
            return (file, file.metadata)
        }
        let checkpoint = try TorchCheckpoint(contentsOf: url)
        var metadata: [String: String] = [:]
        if case let .dict(entries)? = checkpoint.contents["metadata"] {
            for entry in entries {
                if case let .string(value) = entry.value { metadata[entry.key] = value }
            }
        }
        return (checkpoint, metadata)
    }

    private static func countTensor(_ count: Int, name: String, origin: String) throws -> Tensor {
        guard count <= largestExactCount else {
            throw TrainingError.checkpoint(origin: origin, key: name, reason: "\(count) is above 2^24, which F32 cannot hold exactly")
        }
        return Tensor(shape: [], scalars: [Float(count)])
    }

    private static func count(_ tensor: Tensor, name: String, fail: (String?, String) -> TrainingError) throws -> Int {
        let value = tensor.scalars[0]
        guard value >= 0, value <= Float(largestExactCount), value == value.rounded() else {
            throw fail(name, "\(value) is not a count")
        }
        return Int(value)
    }
}
