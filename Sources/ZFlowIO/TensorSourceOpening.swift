import Foundation

/// Opens `url` as a safetensors file or a PyTorch zip checkpoint, chosen by
/// its first bytes (not its extension), or, for a `.json` file, as the index of a sharded
/// checkpoint (`ShardedTensorSource`). `root` applies to checkpoints only (see `TorchCheckpoint`).
public func openTensorSource(_ url: URL, root: [String]? = nil) throws -> TensorSource {
    if url.pathExtension.lowercased() == "json" { return try ShardedTensorSource(indexAt: url) }
    let file = try MappedFile(path: url.path)
    let start = file.bytes(0 ..< min(file.count, 9))
    if start.count >= 4, start[0] == 0x50, start[1] == 0x4B, (start[2] == 3 && start[3] == 4) || (start[2] == 5 && start[3] == 6) {
        return try TorchCheckpoint(file: file, root: root)
    }
    if start.count == 9, start[8] == UInt8(ascii: "{") {
        return try SafeTensorsFile(file: file)
    }
    if start.first == 0x80 {
        throw TensorFileError(file: file.path, "unsupported legacy (non-zip, pre-1.6) PyTorch format; re-save it with torch.save in PyTorch >= 1.6")
    }
    throw TensorFileError(file: file.path, "unrecognized tensor file: supported are safetensors "
        + "(8-byte header length, then a JSON header) and PyTorch zip checkpoints written by torch.save (.ckpt, .pt, .pth)")
}
