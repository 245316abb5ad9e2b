import Foundation
import ZFlowGraph
import ZFlowModels
import ZFlowTensor

/// `VAEEncode(image, weights, mode, seed, scale)`: the SD autoencoder latent (spec stage 2).
let vaeEncodeNode = ClosureNode(NodeSchema(
    name: "VAEEncode", doc: "Encodes an image to the SD latent z (posterior mean or a seeded sample) times scale.",
    inputs: [
        InputSpec("image", .image, doc: "a prepared image (sides multiples of 8)"),
        InputSpec("weights", .path, doc: "SD v1 weights: a diffusers folder or a CompVis .ckpt/.safetensors"),
        InputSpec("mode", .string, default: .string("mean"), choices: [.string("mean"), .string("sample")],
                  doc: "the posterior mean, or mean + std * torch.randn(seed)"),
        InputSpec("seed", .int, default: .int(0), range: 0...Double(UInt32.max), doc: "noise seed for mode: \"sample\""),
        InputSpec("scale", .float, default: .float(0.18215), range: 0...100,
                  doc: "latent scale factor (0.18215 for SD v1)"),
    ],
    outputs: [OutputSpec("latent", .latent, doc: "z [1, 4, H/8, W/8]")],
    isHeavy: true)
) { inputs in
    let encoder = try StableDiffusionModels.vae(try inputs.path("weights"))
    let posterior = try encoder(try inputs.image("image").image.signedUnitRangeTensor())
    let mode: VAEPosterior.LatentMode
    if try inputs.string("mode") == "sample" {
        var generator = TorchGenerator(seed: UInt64(try inputs.int("seed")))
        mode = .sample(noise: generator.randn(posterior.mean.shape))
    } else {
        mode = .mean
    }
    return NodeOutputs(["latent": try posterior.latent(mode, scaleFactor: Float(try inputs.float("scale")))])
}

/// `CLIPTextEncode(text, weights, template)`: CLIP text features (spec stage 4).
let clipTextEncodeNode = ClosureNode(NodeSchema(
    name: "CLIPTextEncode", doc: "Encodes a phrase, wrapped in a template, to CLIP last_hidden_state [77, width].",
    inputs: [
        InputSpec("text", .string, doc: "the phrase naming what to segment (may be empty)"),
        InputSpec("weights", .path, doc: "SD v1 weights: a diffusers folder or a CompVis .ckpt/.safetensors"),
        InputSpec("template", .string, default: .string("a photo of a {}."),
                  doc: "the prompt; {} is replaced by the text (\"{}\" uses the text alone)"),
    ],
    outputs: [OutputSpec("embedding", .textEmbedding, doc: "[77, width] after the final LayerNorm")],
    isHeavy: true)
) { inputs in
    let (encoder, tokenizer) = try StableDiffusionModels.textEncoder(try inputs.path("weights"))
    let prompt = clipPrompt(text: try inputs.string("text"), template: try inputs.string("template"))
    let tokens = tokenizer.tokenize(prompt)
    if tokens.truncated {
        FileHandle.standardError.write(Data("warning: \(inputs.nodeName): the prompt is longer than \(CLIPTokenizer.contextLength) tokens and was truncated\n".utf8))
    }
    return NodeOutputs(["embedding": try encoder(tokens.ids).lastHiddenState])
}

/// CLIPTextEncode's prompt: `template` with `{}` replaced by `text` (also what `zflow train`
/// tokenizes when it trains the text encoder).
public func clipPrompt(text: String, template: String) -> String {
    template.replacingOccurrences(of: "{}", with: text)
}
