import Dispatch
import CBLAS

/// Splits `0..<count` into at most `parallelWidth` contiguous ranges and runs `body` on them
/// concurrently when there is enough work (`count * costPerItem` above a threshold).
/// Two ways is the machine's core count; sgemm calls must not be made from inside `body`
/// (OpenBLAS already runs two threads of its own).
let parallelWidth = 2

func parallelRanges(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    let minimumWork = 1 << 15
    guard count > 1, count * costPerItem >= minimumWork else {
        if count > 0 { body(0..<count) }
        return
    }
    let parts = min(parallelWidth, count)
    withoutActuallyEscaping(body) { body in
        let run = UnsafeSendableBox(body)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let lower = count * part / parts, upper = count * (part + 1) / parts
            run.value(lower..<upper)
        }
    }
}

/// Hands a non-Sendable closure to Dispatch; each part writes disjoint memory.
struct UnsafeSendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Runs `body(item, scratch)` for items 0..<count, split over `parallelWidth` workers that each
/// own a scratch buffer of `scratchFloats`. sgemm inside `body` runs single-threaded meanwhile
/// (the cores are already busy with the workers); the OpenBLAS thread count is restored after.
func forEachItemOnAllCores(_ count: Int, scratchFloats: Int,
                           _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
    let workers = min(parallelWidth, count)
    guard workers > 1 else {
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, scratchFloats))
        defer { scratch.deallocate() }
        for item in 0..<count { body(item, scratch) }
        return
    }
    let blasThreads = openblas_get_num_threads()
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(blasThreads) }
    withoutActuallyEscaping(body) { body in
        let run = UnsafeSendableBox(body)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, scratchFloats))
            defer { scratch.deallocate() }
            for item in stride(from: worker, to: count, by: workers) { run.value(item, scratch) }
        }
    }
}
