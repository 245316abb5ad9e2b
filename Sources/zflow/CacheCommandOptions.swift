import ArgumentParser
import Foundation
import ZFlowGraph
import ZFlowTensor

/// The memo-cache options of `zflow run`, `eval` and `sweep`.
struct CacheCommandOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The on-disk cache folder (default: $XDG_CACHE_HOME/zflow or ~/.cache/zflow).",
                               valueName: "DIR"))
    var cacheDir: String?

    @Option(help: ArgumentHelp("Size limit of the on-disk cache in MiB; older entries are evicted.", valueName: "MIB"))
    var cacheLimit: Int = 20 * 1024

    @Option(help: ArgumentHelp("Byte budget of the in-memory cache in MiB.", valueName: "MIB"))
    var memoryBudget: Int = 2 * 1024

    @Flag(help: "Neither read nor write any cache: every run computes everything (for comparisons).")
    var noCache = false

    @Flag(help: "Keep the cache in memory only (no disk writes; nothing is reused by later processes).")
    var memoryOnly = false

    func validate() throws {
        guard cacheLimit >= 0, memoryBudget >= 0 else { throw ValidationError("cache sizes cannot be negative") }
    }

    var engineOptions: Engine.CacheOptions {
        guard !noCache else { return .disabled }
        return Engine.CacheOptions(
            memoryBudget: memoryBudget << 20,
            directory: memoryOnly ? nil : cacheDir.map { URL(fileURLWithPath: $0) } ?? Engine.CacheOptions.defaultDirectory,
            diskLimit: cacheLimit << 20,
            codeIdentity: Self.codeIdentity)
    }

    /// What computes the numbers, in every cache key: the ZFlow version and the kernels chosen for
    /// this machine (a forced backend, or the machine whose tuning file is used: another CPU, core
    /// count or library can choose other kernels, which give other low bits).
    static var codeIdentity: String { "zflow \(ZFlowVersion.string); \(KernelTuner.shared.implementationIdentity)" }
}
