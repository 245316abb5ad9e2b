import ZFlowBatch
import ZFlowModels
import ZFlowTensor

/// ZNet and, when it trains, the text encoder, computing on one set of tensors (the parameters
/// being trained, or their EMA).
struct TrainedForward {
    let znet: ZNet
    let text: CLIPTextEncoder?

    /// ZNet's logits for `inputs`; token ids run through the text encoder first (on the tape, when
    /// one records).
    func logits(_ inputs: TrainedZNet.Inputs) throws -> Tensor {
        let context: Tensor
        switch inputs.text {
        case let .encoded(encoded):
            context = encoded
        case let .tokens(ids):
            guard let text else { throw BatchError("token ids given, but the text encoder does not train") }
            let encoded = try text(batch: ids).lastHiddenState
            // One prompt as CLIPTextEncode gives it: [77, D].
            context = ids.count == 1 ? try encoded.reshaped(Array(encoded.shape.dropFirst())) : encoded
        }
        return try znet(inputs.latent, context: context, sdFeatures: inputs.taps)
    }
}
