import Foundation
import ZFlowGraph
import ZFlowModels
import ZFlowTensor

/// The schedule named by a node's `schedule` argument: SD v1's beta range.
private func noiseSchedule(_ name: String) throws -> NoiseSchedule {
    guard let kind = NoiseSchedule.BetaSchedule(rawValue: name) else {
        throw NodeError("unknown schedule '\(name)'")
    }
    return NoiseSchedule(kind, betaStart: 0.00085, betaEnd: 0.012, steps: 1000)
}

private let scheduleChoices: [Constant] = NoiseSchedule.BetaSchedule.allCases.map { .string($0.rawValue) }

/// `AddNoise(latent, t, seed, schedule)`: forward noising (spec stage 3).
let addNoiseNode = ClosureNode(NodeSchema(
    name: "AddNoise",
    doc: "Forward noising z_t = sqrt(abar_t) z + sqrt(1-abar_t) eps, eps = torch.randn with the seed.",
    inputs: [
        InputSpec("latent", .latent, doc: "the clean latent z"),
        InputSpec("t", .int, default: .int(400), range: 0...999, doc: "the timestep (LD-ZNet trains on 300...499)"),
        InputSpec("seed", .int, default: .int(0), range: 0...Double(UInt32.max),
                  doc: "seed of the noise; the same seed gives the same noise as torch.manual_seed"),
        InputSpec("schedule", .string, default: .string("scaled_linear"), choices: scheduleChoices,
                  doc: "beta schedule over 0.00085...0.012, 1000 steps"),
    ],
    outputs: [OutputSpec("latent", .latent, doc: "the noised latent z_t")])
) { inputs in
    let latent = try inputs.tensor("latent")
    var generator = TorchGenerator(seed: UInt64(try inputs.int("seed")))
    let noised = try noiseSchedule(try inputs.string("schedule"))
        .addNoise(latent, noise: generator.randn(latent.shape), timestep: try inputs.int("t"))
    return NodeOutputs(["latent": noised])
}

/// `UNetFeatures(latent, text, t, weights, taps)`: the frozen SD UNet's internal
/// features (spec stage 5); it stops after the last requested tap unless eps is wanted.
let unetFeaturesNode = ClosureNode(NodeSchema(
    name: "UNetFeatures",
    doc: "Runs the frozen SD UNet on (z_t, t, text) and taps the spatial-transformer outputs.",
    inputs: [
        InputSpec("latent", .latent, doc: "the noised latent z_t"),
        InputSpec("text", .textEmbedding, doc: "CLIP text features"),
        InputSpec("t", .int, default: .int(400), range: 0...999, doc: "the timestep the latent was noised to"),
        InputSpec("weights", .path, doc: "SD v1 weights: a diffusers folder or a CompVis .ckpt/.safetensors"),
        InputSpec("taps", .list(.int), default: .list([6, 7, 8, 9, 10].map(Constant.int)), range: 1...16,
                  doc: "tap numbers (1-16 for SD v1; LD-ZNet uses 6-10)"),
    ],
    outputs: [
        OutputSpec("features", .features, doc: "the requested taps, raw [1, C, h, w]"),
        OutputSpec("eps", .latent, onDemand: true,
                   doc: "the noise prediction; when nothing reads it the UNet stops after the last tap"),
    ],
    isHeavy: true)
) { inputs in
    let unet = try StableDiffusionModels.unet(try inputs.path("weights"))
    let wantEps = inputs.requestedOutputs.contains("eps")
    let output = try unet(try inputs.tensor("latent"), timestep: Float(try inputs.int("t")),
                          context: try inputs.tensor("text"), taps: Set(try inputs.ints("taps")), wantEps: wantEps)
    var outputs = NodeOutputs(["features": FeatureSet(stage: .raw, taps: output.taps)])
    outputs["eps"] = output.eps
    return outputs
}
