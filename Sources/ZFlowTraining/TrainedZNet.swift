import Foundation
import ZFlowBatch
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// ZNet (with its attention pools) built on parameters being trained: every
/// `model.diffusion_model.*` tensor of the weights file, starting where `--init` says, those
/// matching a `--train` pattern trainable. The model reads the trained tensors themselves, so
/// each optimizer step is seen by the next forward.
final class TrainedZNet {
    struct Inputs {
        var latent: Tensor
        var text: Tensor
        /// Raw SD taps by tap number (empty for fusion "none").
        var taps: [Int: Tensor]
    }

    static let trainedPrefix = "model.diffusion_model."

    let parameters: TrainableParameters
    let model: ZNet
    private let config: UNetConfig
    private let fusion: String

    /// `stableDiffusion`: the SD weights file `--init sd` starts from.
    init(weights path: String, fusion: String, initialisation: TrainingConfiguration.Initialisation, seed: Int,
         stableDiffusion: String?, train patterns: [String]) throws {
        let url = URL(fileURLWithPath: path)
        let file: TensorTree
        do {
            // The architecture (and pool grid sizes) as inference reads them, sidecar included.
            config = try LDZNetCheckpoint(url: url, copy: .training).loadZNet(fusion: fusion).znet.unet.config
            file = try TensorTree(source: openTensorSource(url), prefix: Self.trainedPrefix)
        } catch {
            throw BatchError("ZNet weights \(path): \(error)")
        }
        self.fusion = fusion
        let start = try ZNetStart.tree(initialisation, file: file, config: config, fusion: fusion, seed: seed,
                                       stableDiffusion: stableDiffusion)
        do {
            parameters = try TrainableParameters(start, frozen: ["**"])
            try parameters.unfreeze(patterns)
        } catch {
            throw BatchError("--train: \(error) (the keys are ZNet's: \(Self.trainedPrefix)* of \(path))")
        }
        model = try Self.znet(over: parameters.tree, config: config, fusion: fusion, origin: path)
    }

    /// ZNet computing with the tensors of `tree` (the parameters, or their EMA).
    func model(over tree: TensorTree) throws -> ZNet {
        try Self.znet(over: tree, config: config, fusion: fusion, origin: "the EMA weights")
    }

    private static func znet(over tree: TensorTree, config: UNetConfig, fusion: String, origin: String) throws -> ZNet {
        do {
            return try LDZNetCheckpoint(source: tree, copy: .training).loadZNet(config: config, fusion: fusion).znet
        } catch {
            throw BatchError("ZNet on \(origin): \(error)")
        }
    }

    /// BCE-with-logits (with `positiveWeight` as torch's `pos_weight`) of ZNet's logits against
    /// `truth` resized with nearest to them, and its gradient for every trainable parameter the
    /// forward used.
    func lossAndGradients(_ inputs: Inputs, truth: TargetMask, positiveWeight: Float? = nil) throws -> (loss: Float, gradients: TensorTree) {
        let tape = GradientTape()
        let loss = try tape.record {
            let logits = try model(inputs.latent, context: inputs.text, sdFeatures: inputs.taps)
            return try bceWithLogits(logits, target: truth.target(height: logits.shape[2], width: logits.shape[3]),
                                     positiveWeight: positiveWeight)
        }
        let trainable = parameters.tree.tensors.filter { parameters.isTrainable($0.key) }
        return (loss.buffer[0], TensorTree(try tape.gradient(of: loss, withRespectTo: trainable)))
    }
}
