import Foundation
import ZFlowModels

/// ZNet from an LD-ZNet checkpoint (the official `.ckpt`, or its tensors as `.safetensors`,
/// with an optional sidecar `<file>.json` whose `unet` object gives a non-SD-v1 architecture),
/// one instance per (file, fusion) per process.
enum LDZNetModels {
    static func znet(_ path: String, fusion: String) throws -> ZNet {
        try ModelStore.shared.model("znet:\(fusion)", path: path) {
            let url = URL(fileURLWithPath: path)
            let config = try SidecarConfigs.read(besides: url)?.unet ?? .ldzNetV1
            let (znet, warnings) = try LDZNetCheckpoint(url: url).loadZNet(config: config, fusion: fusion)
            for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            return znet
        }
    }
}
