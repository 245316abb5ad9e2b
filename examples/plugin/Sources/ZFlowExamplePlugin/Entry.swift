import ZFlowGraph
import ZFlowModels

/// The C entry point `zflow run --plugin` looks up and calls with its registry.
@_cdecl("zflow_register_plugin")
public func zflowRegisterPlugin(_ host: UnsafeMutableRawPointer, _ abiVersion: Int32) -> Int32 {
    PluginEntry.register(host: host, abiVersion: abiVersion) { registry in
        try registry.register(Blend())
        try registry.register(WriteScores())
        try registry.register(Temperature())
        // A fusion strategy, not a node type: ZNet's `fusion` choices come from this registry.
        try FusionRegistry.shared.register(FiLMFusion.self)
    }
}
