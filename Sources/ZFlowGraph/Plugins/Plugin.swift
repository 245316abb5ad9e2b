import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Node types from a dynamic library loaded at run time (`zflow run --plugin`).
//
// A plugin exports the C symbol `zflow_register_plugin(host, abiVersion)` and,
// inside, calls `PluginEntry.register` to add node types to the host's
// registry. For Swift types to be the same on both sides there must be one
// ZFlowGraph in the process: the plugin links the dynamic `ZFlowGraph` product
// and the `zflow` executable exports its own ZFlowGraph symbols
// (`--export-dynamic`), so the loader binds the plugin to the host's copy.
// `PluginEntry.register` checks this and refuses a plugin that got its own copy.

public struct PluginError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// The C signature of `zflow_register_plugin`: the host registry (opaque) and
/// the host's ABI version; returns a `PluginEntry.Status` raw value.
public typealias PluginEntryPoint = @convention(c) (UnsafeMutableRawPointer, Int32) -> Int32

public enum PluginEntry {
    /// Bumped when the meaning of the entry point's arguments changes.
    public static let abiVersion: Int32 = 1
    public static let symbolName = "zflow_register_plugin"

    public enum Status: Int32 {
        case ok = 0
        case registrationFailed = 1
        case foreignZFlowGraph = 2
        case abiMismatch = 3
    }

    /// Call from a plugin's `@_cdecl("zflow_register_plugin")` function with its arguments.
    public static func register(host: UnsafeMutableRawPointer, abiVersion: Int32,
                                _ body: (NodeRegistry) throws -> Void) -> Int32 {
        guard abiVersion == Self.abiVersion else { return Status.abiMismatch.rawValue }
        let object = Unmanaged<AnyObject>.fromOpaque(host).takeUnretainedValue()
        guard let registry = object as? NodeRegistry else { return Status.foreignZFlowGraph.rawValue }
        do {
            try body(registry)
            return Status.ok.rawValue
        } catch {
            registry.pluginFailure = String(describing: error)
            return Status.registrationFailed.rawValue
        }
    }
}

public enum PluginLoader {
    /// Opens the library at `path` and lets it register its node types into `registry`.
    /// The library stays loaded for the life of the process.
    public static func load(_ path: String, into registry: NodeRegistry) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw PluginError(message: "plugin \(path): no such file (build the plugin package to get a .so/.dylib)")
        }
        guard let handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL) else {
            throw PluginError(message: "plugin \(path): cannot load: \(String(cString: dlerror()))")
        }
        guard let symbol = dlsym(handle, PluginEntry.symbolName) else {
            throw PluginError(message: "plugin \(path): it exports no `\(PluginEntry.symbolName)` function")
        }
        let entry = unsafeBitCast(symbol, to: PluginEntryPoint.self)
        let status = entry(Unmanaged.passUnretained(registry).toOpaque(), PluginEntry.abiVersion)
        switch PluginEntry.Status(rawValue: status) {
        case .ok?:
            return
        case .registrationFailed?:
            throw PluginError(message: "plugin \(path): \(registry.pluginFailure ?? "registration failed")")
        case .foreignZFlowGraph?:
            throw PluginError(message: "plugin \(path) uses its own copy of ZFlowGraph, so its types differ from "
                + "the host's: link it against the dynamic ZFlowGraph product and load it into a host that "
                + "exports ZFlowGraph's symbols (the zflow executable does)")
        case .abiMismatch?:
            throw PluginError(message: "plugin \(path) was built for another plugin ABI; rebuild it against this ZFlow")
        case nil:
            throw PluginError(message: "plugin \(path): unknown status \(status)")
        }
    }
}
