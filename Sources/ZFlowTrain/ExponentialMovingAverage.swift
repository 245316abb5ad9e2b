import Foundation
import ZFlowTensor

/// The reference's EMA of the weights, `LitEma` (CompVis `ldm/modules/ema.py`), in Float32 as its
/// buffers are:
///
///     n += 1
///     decay = min(d, Float(1 + n) / Float(10 + n))     d = 0.9999 by default
///     shadow = shadow - (1 - decay) * (shadow - param)
///
/// `LitEma(self.model)` covers the LatentDiffusion's `model` (checkpoint keys `model.*`): the
/// shadow holds a copy of every parameter under `model.` that is trainable when the EMA is
/// made, and the checkpoint stores it as `model_ema.` + the key after `model.` with its dots
/// removed (`model.diffusion_model.out.2.weight` -> `model_ema.diffusion_modelout2weight`).
/// ZFlow also averages a trained text encoder (`cond_stage_model.*`), which LitEma does not
/// cover, so that inference can read an EMA text encoder beside the EMA ZNet; it is stored as
/// LitEma would name it if it covered the whole LatentDiffusion: `model_ema.` + the key without
/// its dots (`model_ema.cond_stage_modeltransformertext_model...`).
public struct ExponentialMovingAverage {
    /// The prefix of the keys LitEma covers.
    public static let modelPrefix = "model."
    /// The prefix of a text encoder's keys, averaged too (see above).
    public static let textEncoderPrefix = "cond_stage_model."

    /// Whether the parameter `key` is averaged when it trains.
    public static func isAveraged(_ key: String) -> Bool {
        key.hasPrefix(modelPrefix) || key.hasPrefix(textEncoderPrefix)
    }

    /// d, the largest decay.
    public let decay: Float
    /// n, the updates so far (LitEma's `num_updates`).
    public private(set) var updateCount: Int
    /// The EMA values, keyed by parameter key (not by EMA key).
    public private(set) var shadow: TensorTree

    /// Starts the average at the current values of the trainable parameters it averages (`isAveraged`).
    public init(of parameters: TrainableParameters, decay: Float = 0.9999) throws {
        var shadow = TensorTree()
        for key in parameters.trainableKeys where Self.isAveraged(key) { shadow[key] = parameters[key]!.copied() }
        try self.init(decay: decay, updateCount: 0, shadow: shadow)
    }

    /// An average at a given state (as resumed from a checkpoint); takes ownership of `shadow`'s storage.
    init(decay: Float, updateCount: Int, shadow: TensorTree) throws {
        try requireSetting("EMA decay", Double(decay), decay >= 0 && decay <= 1, "must be in [0, 1]")
        try requireSetting("EMA update count", Double(updateCount), updateCount >= 0, "must be >= 0")
        try Self.checkEMAKeys(shadow.keys)
        self.decay = decay
        self.updateCount = updateCount
        self.shadow = shadow
    }

    /// The decay the next update will use.
    public var nextDecay: Float { min(decay, Float(1 + updateCount + 1) / Float(10 + updateCount + 1)) }

    /// One LitEma update after an optimizer step. Every shadowed parameter is averaged (a frozen
    /// one moves its shadow towards its fixed value; LitEma refuses frozen parameters). A
    /// trainable parameter it averages without a shadow (unfrozen after the EMA was made) is
    /// an error, as it is a KeyError in LitEma.
    public mutating func update(from parameters: TrainableParameters) throws {
        for key in parameters.trainableKeys where Self.isAveraged(key) && shadow[key] == nil {
            throw TrainingError.unknownParameter(key: key, context: "EMA (it became trainable after the EMA was made)")
        }
        let oneMinusDecay = 1 - nextDecay
        for key in shadow.keys {
            let average = shadow[key]!.mutablePointer, value = parameters[key]!.pointer
            forEachElement(parameters[key]!.count) { i in
                average[i] = average[i] - oneMinusDecay * (average[i] - value[i])
            }
            shadow[key]!.storage.contentsChanged()  // as the optimizer's step: a model may run on the shadow
        }
        updateCount += 1
    }

    /// The checkpoint key of the EMA copy of parameter `key` (which `isAveraged`).
    public static func emaKey(for key: String) -> String {
        let named = key.hasPrefix(modelPrefix) ? key.dropFirst(modelPrefix.count) : Substring(key)
        return "model_ema." + named.replacingOccurrences(of: ".", with: "")
    }

    /// Throws if two keys lose their difference with their dots (`a.b1` and `ab.1`).
    static func checkEMAKeys(_ keys: [String]) throws {
        var seen: [String: String] = [:]
        for key in keys {
            let emaKey = emaKey(for: key)
            if let other = seen[emaKey] { throw TrainingError.emaNameCollision(emaKey: emaKey, keys: [other, key]) }
            seen[emaKey] = key
        }
    }
}
