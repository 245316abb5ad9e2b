import Foundation
import ZFlowBatch
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// ZNet (with its attention pools) built on parameters being trained: every
/// `model.diffusion_model.*` tensor of the weights file, all trainable. The model reads the
/// trained tensors themselves, so each optimizer step is seen by the next forward. A fusion whose
/// weights the file lacks (e.g. a plugin's) starts from its strategy's initial values, seeded.
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

    init(weights path: String, fusion: String, seed: UInt64) throws {
        let url = URL(fileURLWithPath: path)
        do {
            let file = try openTensorSource(url)
            let initial = try LDZNetCheckpoint(source: file, copy: .training, sidecarOf: url)
                .initialFusionParameters(fusion: fusion, seed: seed)
            let source = initial.isEmpty ? file : try TensorSourceUnion([file, TensorTree(initial)])
            // The architecture (and pool grid sizes) as inference reads them, sidecar included.
            let config = try LDZNetCheckpoint(source: source, copy: .training, sidecarOf: url).loadZNet(fusion: fusion).znet.unet.config
            parameters = try TrainableParameters(TensorTree(source: source, prefix: Self.trainedPrefix))
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
