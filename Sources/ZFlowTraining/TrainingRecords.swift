import ZFlowBatch

/// One optimizer step, as written to `log.jsonl`.
public struct TrainingStep: Codable, Sendable, Equatable {
    public var step: Int
    public var epoch: Int
    /// The ids of the step's samples, joined by commas (one id with `--batch 1`).
    public var sample: String
    public var loss: Float
    /// The gradients' total 2-norm before clipping.
    public var gradNorm: Float
    public var lr: Double
    /// What `--augment reference` drew for each of the step's samples, in `sample`'s order
    /// (nil for `none`).
    public var augment: [ReferenceDraw]?
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case step, epoch, sample, loss, gradNorm = "grad_norm", lr, augment, seconds
    }
}

/// One finished pass over the dataset, as written to `epochs.jsonl`: what the frozen upstream
/// cost (from the second epoch the memo cache serves what did not change).
public struct TrainingEpoch: Codable, Sendable, Equatable {
    public var epoch: Int
    /// Steps of this epoch run by this process (fewer than the dataset's samples after a resume).
    public var steps: Int
    public var lastStep: Int
    /// Wall time of the epoch's steps (validations left out).
    public var seconds: Double
    /// Node executions by node type (cache hits are not executions).
    public var executed: [String: Int]
    public var cached: Int

    enum CodingKeys: String, CodingKey {
        case epoch, steps, lastStep = "last_step", seconds, executed, cached
    }
}

/// One validation, as written to `val.jsonl`: the eval protocol's headline on `--val`.
public struct ValidationRecord: Codable, Sendable, Equatable {
    public var step: Int
    /// `ema` or `training`.
    public var weights: String
    public var samples: Int
    public var metrics: Headline
}

/// What the trainer reports while it runs.
public enum TrainingEvent: Sendable {
    case step(TrainingStep)
    case epoch(TrainingEpoch)
    case validation(ValidationRecord)
}

/// What a `ZNetTrainer.run` did.
public struct TrainingOutcome: Sendable {
    /// The step the run started from (0, or the step of the checkpoint it resumed).
    public var resumedFrom: Int
    /// The steps this call ran.
    public var steps: [TrainingStep]
    public var epochs: [TrainingEpoch]
    public var validations: [ValidationRecord]
}
