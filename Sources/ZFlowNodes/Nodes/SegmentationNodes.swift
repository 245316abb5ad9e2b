import Foundation
import ZFlowGraph
import ZFlowModels
import ZFlowTensor

/// `AttentionPool(features, weights)`: LD-ZNet's attention pools over the raw SD taps (spec stage 6).
let attentionPoolNode = ClosureNode(NodeSchema(
    name: "AttentionPool",
    doc: "Pools each raw SD tap into h*w+1 tokens with the checkpoint's learned attention pool.",
    inputs: [
        InputSpec("features", .features, doc: "raw SD taps from UNetFeatures"),
        InputSpec("weights", .path, doc: "the LD-ZNet checkpoint (.ckpt or .safetensors)"),
    ],
    outputs: [OutputSpec("features", .features, doc: "pooled tokens [h*w+1, C] per tap")],
    isHeavy: true)
) { inputs in
    let features = try inputs.features("features")
    guard features.stage == .raw else { throw NodeError("features are already pooled") }
    let znet = try LDZNetModels.znet(try inputs.path("weights"), fusion: CrossAttentionFusion.name)
    var pooled: [Int: Tensor] = [:]
    for (tap, fusion) in znet.fusions {
        guard let pool = (fusion as? CrossAttentionFusion)?.pool else { continue }
        guard let feature = features.taps[tap] else {
            throw NodeError("the checkpoint pools tap \(tap), which the features do not hold "
                + "(they hold \(features.tapNumbers.map(String.init).joined(separator: ", ")))")
        }
        guard feature.rank == 4, feature.shape[0] == 1 else {
            throw NodeError("tap \(tap): raw feature \(feature.shape), expected one sample [1, C, h, w]")
        }
        pooled[tap] = try pool(feature).slice(0)  // [1, T, C] -> the node's [T, C]
    }
    return NodeOutputs(["features": FeatureSet(stage: .pooled, taps: pooled)])
}

/// `ZNet(latent, text, features, weights, fusion)`: the segmentation network (spec stages 7, 8).
/// Its `fusion` choices are the strategies registered when the schema is read (at each check),
/// so fusions that plugins register after start-up are among them.
struct ZNetNode: NodeType {
    var schema: NodeSchema {
        NodeSchema(
            name: "ZNet",
            doc: "LD-ZNet's segmentation UNet on the clean latent: logits at image resolution.",
            inputs: [
                InputSpec("latent", .latent, doc: "the clean latent z"),
                InputSpec("text", .textEmbedding, doc: "CLIP text features"),
                InputSpec("features", .features, optional: true,
                          doc: "SD taps (raw, or pooled for cross_attention); not needed for fusion \"none\""),
                InputSpec("weights", .path, doc: "the LD-ZNet checkpoint (.ckpt or .safetensors)"),
                InputSpec("fusion", .string, default: .string(CrossAttentionFusion.name),
                          choices: FusionRegistry.shared.names.map(Constant.string),
                          doc: "how SD features enter ZNet at taps 6-10"),
            ],
            outputs: [OutputSpec("logits", .logits, doc: "[1, 1, H, W], no activation")],
            isHeavy: true)
    }

    func execute(_ inputs: NodeInputs) throws -> NodeOutputs {
        let fusion = try inputs.string("fusion")
        let znet = try LDZNetModels.znet(try inputs.path("weights"), fusion: fusion)
        let features = inputs.optional("features") as? FeatureSet
        if let features, features.stage == .pooled, fusion != CrossAttentionFusion.name {
            throw NodeError("fusion '\(fusion)' takes raw features: connect UNetFeatures directly, not AttentionPool")
        }
        let missing = znet.requiredTaps.filter { features?.taps[$0] == nil }
        if !missing.isEmpty {
            throw NodeError("fusion '\(fusion)' needs SD features of taps \(missing.map(String.init).joined(separator: ", ")); "
                + "connect UNetFeatures(taps: \(znet.requiredTaps))")
        }
        let logits = try znet(try inputs.tensor("latent"), context: try inputs.tensor("text"), sdFeatures: features?.taps ?? [:])
        return NodeOutputs(["logits": logits])
    }
}

/// `NoiseDifference(latent, text, weights, timesteps, seeds)`: the zero-shot map of the paper's Fig. 1.
let noiseDifferenceNode = ClosureNode(NodeSchema(
    name: "NoiseDifference",
    doc: "Zero-shot: |eps(z_t, text) - eps(z_t, \"\")| per pixel, averaged, standardized to logits.",
    inputs: [
        InputSpec("latent", .latent, doc: "the clean latent z"),
        InputSpec("text", .textEmbedding, doc: "CLIP text features of the phrase"),
        InputSpec("weights", .path, doc: "SD v1 weights (UNet and CLIP for the empty prompt)"),
        InputSpec("timesteps", .list(.int), default: .list([300, 400, 500].map(Constant.int)), range: 0...999,
                  doc: "timesteps to average over"),
        InputSpec("seeds", .list(.int), default: .list([0, 1].map(Constant.int)), range: 0...Double(UInt32.max),
                  doc: "noise seeds to average over"),
    ],
    outputs: [OutputSpec("logits", .logits, doc: "the map standardized to zero mean, unit variance, [1, 1, H, W] "
                         + "(a latent batch [B, C, h, w] gives one map per sample, each standardized alone)")],
    isHeavy: true)
) { inputs in
    let weights = try inputs.path("weights")
    let unet = try StableDiffusionModels.unet(weights)
    let (encoder, tokenizer) = try StableDiffusionModels.textEncoder(weights)
    let empty = try encoder(tokenizer.tokenize("").ids).lastHiddenState
    let map = try NoiseDifference(unet: unet)(latent: try inputs.tensor("latent"), context: try inputs.tensor("text"),
                                              emptyContext: empty, timesteps: try inputs.ints("timesteps"),
                                              seeds: try inputs.ints("seeds").map(UInt64.init))
    let samples = (0..<map.shape[0]).map { standardized(map.slice($0..<$0 + 1)) }
    return NodeOutputs(["logits": samples.count == 1 ? samples[0] : try concat(samples, axis: 0)])
}

/// (x - mean) / std over all values, so that sigmoid > 0.5 keeps the above-average pixels.
private func standardized(_ x: Tensor) -> Tensor {
    let values = x.buffer
    let mean = values.reduce(0, +) / Float(max(values.count, 1))
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(max(values.count, 1))
    let scale = variance > 0 ? 1 / variance.squareRoot() : 1
    let result = Tensor(uninitialized: x.shape)
    let output = result.mutablePointer
    for (index, value) in values.enumerated() { output[index] = (value - mean) * scale }
    return result
}
