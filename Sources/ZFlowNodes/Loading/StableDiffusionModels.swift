import Foundation
import ZFlowIO
import ZFlowModels

/// The SD v1 components a graph names by a weights path (a diffusers folder or a
/// CompVis single file, whose architecture is read from its tensor shapes, with an optional
/// sidecar `<file>.json` overriding it), loaded once per process through `ModelStore`.
public enum StableDiffusionModels {
    static func weights(_ path: String) throws -> StableDiffusionWeights {
        try StableDiffusionWeights(url: URL(fileURLWithPath: path))
    }

    static func vae(_ path: String) throws -> VAEEncoder {
        try ModelStore.shared.model("vae", path: path) {
            let (weights, config) = try self.weights(path).vae()
            return try VAEEncoder(weights: weights, config: config)
        }
    }

    static func unet(_ path: String) throws -> UNet2DConditionModel {
        try ModelStore.shared.model("unet", path: path) {
            let (weights, config) = try self.weights(path).unet()
            return try UNet2DConditionModel(weights: weights, config: config)
        }
    }

    /// The text encoder and the tokenizer that goes with it (the folder's own, else the bundled one):
    /// CLIPTextEncode's, and `zflow train`'s when it trains the text encoder.
    public static func textEncoder(_ path: String) throws -> (encoder: CLIPTextEncoder, tokenizer: CLIPTokenizer) {
        try ModelStore.shared.model("clip", path: path) {
            let url = URL(fileURLWithPath: path)
            let sd = try self.weights(path)
            return (try sd.textEncoderModel(), try tokenizer(of: sd, at: url))
        }
    }

    /// The tokenizer of a diffusers folder (`tokenizer/vocab.json`, `merges.txt`), else the bundled
    /// one. A `tokenizer/` that is there must hold both files: the bundled vocabulary standing in
    /// for a missing one would change the tokens silently.
    private static func tokenizer(of sd: StableDiffusionWeights, at url: URL) throws -> CLIPTokenizer {
        let folder = sd.tokenizerFolder ?? url.appendingPathComponent("tokenizer")
        guard FileManager.default.fileExists(atPath: folder.path) else { return try CLIPTokenizer.bundled() }
        try PathCheck.require(folder.path, .folder)
        for file in ["vocab.json", "merges.txt"] { try PathCheck.require(folder.appendingPathComponent(file).path) }
        return try CLIPTokenizer(folder: folder)
    }
}
