import Foundation
import ZFlowModels

/// ZNet from an LD-ZNet checkpoint (the official `.ckpt`, or its tensors as `.safetensors`,
/// whose architecture is read from its tensor shapes, with an optional sidecar `<file>.json`
/// whose `unet` object overrides it),
/// one instance per (file, fusion) per process.
enum LDZNetModels {
    static func znet(_ path: String, fusion: String) throws -> ZNet {
        try ModelStore.shared.model("znet:\(fusion)", path: path) {
            let url = URL(fileURLWithPath: path)
            let (znet, warnings) = try LDZNetCheckpoint(url: url).loadZNet(fusion: fusion)
            for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            return znet
        }
    }
}
