import Foundation
import ZFlowBatch
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// ZNet (with its attention pools) built on parameters being trained: every
/// `model.diffusion_model.*` tensor of the weights file, all trainable. The model reads the
/// trained tensors themselves, so each optimizer step is seen by the next forward.
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

    init(weights path: String, fusion: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            // The architecture (and pool grid sizes) as inference reads them, sidecar included.
            let config = try LDZNetCheckpoint(url: url, copy: .training).loadZNet(fusion: fusion).znet.unet.config
            parameters = try TrainableParameters(TensorTree(source: openTensorSource(url), prefix: Self.trainedPrefix))
            model = try LDZNetCheckpoint(source: parameters.tree, copy: .training).loadZNet(config: config, fusion: fusion).znet
        } catch {
            throw BatchError("ZNet weights \(path): \(error)")
        }
    }

    /// BCE-with-logits (with `positiveWeight` as torch's `pos_weight`) of ZNet's logits against `truth` resized with nearest to them, and its
    /// gradient for every trainable parameter the forward used.
    func lossAndGradients(_ inputs: Inputs, truth: GroundTruthMask, positiveWeight: Float? = nil) throws -> (loss: Float, gradients: TensorTree) {
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
