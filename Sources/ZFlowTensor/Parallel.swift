import Glibc

/// The number of online cores: how many ranges `parallelRanges` runs at once.
let parallelWidth = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

/// Work confined to the calling thread: inside `CoreConfinement.$confined.withValue(true)`,
/// `parallelRanges` runs every body on the calling thread and the kernel tuner picks ZFlow's own
/// kernels (OpenBLAS and oneDNN run threads of their own). For callers that keep each core busy
/// with a whole computation of its own: `zflow train --workers` computes a share of a step's
/// samples per core, because a small model's ops are too small to gain from being split (the demo
/// model's step took as long on one core as on two).
public enum CoreConfinement {
    @TaskLocal public static var confined = false
}

/// Splits `0..<count` into at most `parallelWidth` contiguous ranges and runs `body` on them
/// concurrently on `WorkerPool` when there is enough work (`count * costPerItem` at least
/// `minimumWork`), else on the calling thread (always under `CoreConfinement`). `sgemm` splits
/// itself over the cores (the packed GEMM through this function, OpenBLAS with its own threads),
/// so bodies do not call it.
public func parallelRanges(_ count: Int, costPerItem: Int = 1, minimumWork: Int = 1 << 15,
                           _ body: (Range<Int>) -> Void) {
    guard count > 1, count * costPerItem >= minimumWork, !CoreConfinement.confined else {
        if count > 0 { body(0..<count) }
        return
    }
    let parts = min(parallelWidth, count)
    guard parts > 1 else { return body(0..<count) }
    WorkerPool.shared.run(parts: parts) { part in
        body(count * part / parts..<count * (part + 1) / parts)
    }
}

/// Hands a non-Sendable closure to other threads; each part writes disjoint memory.
struct UnsafeSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
