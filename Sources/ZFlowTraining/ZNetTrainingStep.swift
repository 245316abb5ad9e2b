import ZFlowBatch
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// Named sets of ZNet parameters to train, as `--train` patterns over its checkpoint keys: the two
/// settings of issue 12's training-step benchmark (`zflow-bench train-step --trainable`).
public enum ZNetTrainableSet: String, CaseIterable, Sendable {
    /// Every ZNet parameter: the UNet, the fusion blocks, the attention pools, the head.
    case all
    /// What LD-ZNet adds to the SD UNet, and the head: `attn3` and `norm_sd` of each fusion block,
    /// the attention pools, `out.*` and `final.*`.
    case fusion

    public var patterns: [String] {
        switch self {
        case .all: [TrainedZNet.trainedPrefix + "**"]
        case .fusion:
            ["**.attn3.**", "**.norm_sd.**", "**.attentionpool2D.**", "out.**", "final.**"].map { TrainedZNet.trainedPrefix + $0 }
        }
    }
}

/// `zflow train`'s optimizer step (`TrainedZNet.step`: the loss on a gradient tape, the gradient
/// norm, the optimizer) on one sample's ZNet inputs given as tensors, without a graph, a dataset or
/// a run folder: what `zflow-bench train-step` times. The EMA and the checkpoints a run also keeps
/// are not part of it.
public final class ZNetTrainingStep {
    private let model: TrainedZNet
    private let hyperparameters: TrainingHyperparameters
    private var optimizer: any Optimizer

    /// ZNet with `config` and `fusion` on the parameters `start` (every `model.diffusion_model.*`
    /// tensor, e.g. `ParameterInitialisation.random` of a ZNet's shapes), those matching `patterns`
    /// trainable. `totalSteps` is the length of the optimizer's schedule.
    public convenience init(start: TensorTree, config: UNetConfig, fusion: String, train patterns: [String],
                            recomputingBlocks: Bool, hyperparameters: TrainingHyperparameters, totalSteps: Int) throws {
        try self.init(TrainedZNet(start: start, config: config, fusion: fusion, train: patterns,
                                  recomputingBlocks: recomputingBlocks, origin: "the start tree"),
                      hyperparameters: hyperparameters, totalSteps: totalSteps)
    }

    /// ZNet as `zflow train` builds it from its weights file when `--init` is not given: the file's
    /// training copy, architecture and sidecar.
    public convenience init(weights path: String, fusion: String, train patterns: [String], recomputingBlocks: Bool,
                            hyperparameters: TrainingHyperparameters, totalSteps: Int) throws {
        try self.init(TrainedZNet(weights: path, fusion: fusion, initialisation: .weightsFile, seed: 0, stableDiffusion: nil,
                                  train: patterns, recomputingBlocks: recomputingBlocks),
                      hyperparameters: hyperparameters, totalSteps: totalSteps)
    }

    private init(_ model: TrainedZNet, hyperparameters: TrainingHyperparameters, totalSteps: Int) throws {
        self.model = model
        self.hyperparameters = hyperparameters
        optimizer = try hyperparameters.makeOptimizer(totalSteps: totalSteps)
    }

    public var parameters: TrainableParameters { model.parameters }

    /// One step on one sample: its clean `latent` [1, 4, h, w], `text` [77, D], raw SD `taps`
    /// [1, C, h', w'] by tap number, and its mask, `mask[y * maskWidth + x]` true on the
    /// foreground (resized with nearest to the logits, as `zflow train` does).
    public func callAsFunction(latent: Tensor, text: Tensor, taps: [Int: Tensor], mask: [Bool], maskWidth: Int,
                               maskHeight: Int) throws -> (loss: Float, gradientNorm: Float) {
        guard maskWidth > 0, maskHeight > 0, mask.count == maskWidth * maskHeight else {
            throw BatchError("the mask has \(mask.count) values, not \(maskWidth) x \(maskHeight)")
        }
        let example = TrainedZNet.Example(inputs: .init(latent: latent, text: text, taps: taps),
                                          truth: TargetMask(width: maskWidth, height: maskHeight, foreground: mask),
                                          place: "the training step's sample")
        return try model.step([example], place: example.place, optimizer: &optimizer, hyperparameters: hyperparameters)
    }
}
