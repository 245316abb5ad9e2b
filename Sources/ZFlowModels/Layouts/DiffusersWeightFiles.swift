import Foundation
import ZFlowIO

/// The weight files of a diffusers component folder, in order of preference: one file (f32, then
/// the fp16 variant; safetensors before PyTorch `.bin`), else the index of a checkpoint split by
/// `save_pretrained(max_shard_size:)` (its shards are the files it names). `unet/` and `vae/`
/// use diffusers' names (`diffusion_pytorch_model*`), `text_encoder/` transformers' (`model*`,
/// `pytorch_model*`).
///
/// Index names of the fp16 variant, as written: `<file>.index.fp16.json` (diffusers >= 0.28 and
/// transformers), `<file>.fp16.index.json` (older diffusers; diffusers still reads it) and
/// `<stem>.fp16.<ext>.index.json` (written by some third-party tools; diffusers does not read it).
func diffusersWeightFileNames(_ component: StableDiffusionComponent) -> [String] {
    let (stem, binStem) = component == .textEncoder
        ? ("model", "pytorch_model") : ("diffusion_pytorch_model", "diffusion_pytorch_model")
    let single = ["\(stem).safetensors", "\(stem).fp16.safetensors", "\(binStem).bin", "\(binStem).fp16.bin"]
    let indexes = [(stem, "safetensors"), (binStem, "bin")].flatMap { stem, ext in
        ["\(stem).\(ext).index.json", "\(stem).\(ext).index.fp16.json", "\(stem).\(ext).fp16.index.json",
         "\(stem).fp16.\(ext).index.json"]
    }
    return single + indexes
}

/// Opens the first weight file of `folder` in `diffusersWeightFileNames` order (an index as a
/// `ShardedTensorSource`), or throws `LayoutError.missingWeightFiles` listing every name.
func openDiffusersWeights(in folder: URL, component: StableDiffusionComponent) throws -> TensorSource {
    let names = diffusersWeightFileNames(component)
    for name in names {
        let file = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: file.path) else { continue }
        return name.hasSuffix(".json") ? try ShardedTensorSource(indexAt: file) : try openTensorFile(file)
    }
    throw LayoutError.missingWeightFiles(folder: folder.path, expected: names)
}
