import Foundation
import Glibc
import Synchronization

/// The threads `parallelRanges` splits work onto: one per core beside the caller's, each staying
/// awake for `awakeAfterWork` after its part, so that the next split starts at once.
///
/// Dispatch's `concurrentPerform` wakes a sleeping thread for every split. In the 2-core KVM
/// guests this project runs on, a split into two 20 us parts took 58.5 us on Dispatch, and one
/// into two 200 us parts 239 us (`zflow-bench splits`; 21.8 and 202 us here). The models make
/// thousands of splits per run (every packed GEMM, norm, softmax, Winograd band), many of them a
/// few dozen microseconds long. An OpenMP runtime avoids the wake the same way (libgomp's
/// GOMP_SPINCOUNT, Intel's KMP_BLOCKTIME), though ZFlow loads oneDNN's libgomp with
/// OMP_WAIT_POLICY=PASSIVE (CDNNL's loader says why). The awake workers here give way rather than
/// spin on the core: each poll is a `sched_yield`, and an op about to run on OpenBLAS's or
/// oneDNN's threads ends the polling (`handOff`), so that those threads, which run between
/// ZFlow's splits, have the cores. The CPU time spent polling is counted apart
/// (`idleCPUNanoseconds`), so a node's "CPUs" still mean cores kept busy with work.
///
/// One split runs at a time; a split asked for while the workers are taken (by another node's op
/// running beside, or from inside a part) runs on Dispatch's threads instead. The workers are not
/// carried over a `fork` without `exec` (nothing in ZFlow forks; `Process` spawns).
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(workers: parallelWidth - 1)

    /// How long a worker polls for the next split before it sleeps. Gaps between two splits are
    /// mostly a library call or a short single-threaded stretch (a view, an op's setup); 200 us
    /// covers most of them at the cost of at most 200 us of polling per core after the last one.
    static let awakeAfterWork: UInt64 = 200_000

    private let workers: Int
    /// The number of splits so far times 2^16, plus the latest split's number of parts. A worker
    /// that sees a new value runs its part of that split, if it has one; the part count travels in
    /// the same word, because a worker without a part must not read a count the next split wrote.
    private let generation = Atomic<Int>(0)
    private let unfinishedParts = Atomic<Int>(0)
    private let taken = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private let idlePolling = Atomic<UInt64>(0)
    /// How many times another library has taken the cores (`handOff`).
    private let handOffs = Atomic<Int>(0)
    private let wake = NSCondition()
    /// Written by the caller holding `taken` before it bumps `generation`, read by the workers
    /// with a part after they see the bump.
    private nonisolated(unsafe) var body: UnsafeSendableBox<(Int) -> Void>?

    init(workers: Int) {
        self.workers = workers
        for index in 0..<workers {
            let thread = Thread { [unowned self] in
                // Named from inside: on Linux a name given before `start` is not applied.
                Thread.current.name = "zflow worker \(index + 1)"
                self.serve(part: index + 1)
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Tells the polling workers to sleep now rather than poll out `awakeAfterWork`: oneDNN's
    /// OpenMP team or OpenBLAS's threads are about to take the cores. A worker yielding on a core
    /// between their threads' turns still slowed them: on a Zen 5, the LD-ZNet pipeline's
    /// AttentionPool at 384x384, whose products alternate between ZFlow's kernels and oneDNN's,
    /// kept 1.59 CPUs on average over eleven processes (1.28-1.91) and 1.84 with hand-offs
    /// (1.50-1.91; docs/benchmarks.md).
    func handOff() { handOffs.add(1, ordering: .relaxed) }

    /// Hands off before a library op of `work` multiply-adds (`KernelTuner`'s measure) from
    /// `handOffMinimumWork` up. A hand-off makes the next split wake the workers (20-40 us), which
    /// costs short library ops more than sharing a core for their length: with every oneDNN op
    /// handing off, ZFlow's own layerNorm of 77 x 768 right after one ran at 2118 million values/s
    /// against 7780 (`zflow-bench ops`).
    func handOff(work: Int) {
        if work >= WorkerPool.handOffMinimumWork { handOff() }
    }

    /// 2^26 multiply-adds: 0.27-0.54 ms of products at the 250-500 GFLOP/s seen here, a little more
    /// than the awake time.
    static let handOffMinimumWork = 1 << 26

    /// How many hand-offs there have been (tests).
    var handOffCount: Int { handOffs.load(ordering: .relaxed) }

    /// CPU time the workers and callers have spent polling for work, since the process started.
    var idleCPUNanoseconds: UInt64 { idlePolling.load(ordering: .relaxed) }

    /// Runs `body(part)` for every part in `0..<parts` concurrently, part 0 on the calling thread,
    /// and returns when all are done. `parts` is at most one more than the workers.
    func run(parts: Int, _ body: (Int) -> Void) {
        precondition(parts <= min(workers + 1, 0xFFFF), "a split into \(parts) parts on \(workers + 1) threads")
        guard parts > 1, taken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            withoutActuallyEscaping(body) { body in
                let shared = UnsafeSendableBox(body)
                DispatchQueue.concurrentPerform(iterations: parts) { shared.value($0) }
            }
            return
        }
        withoutActuallyEscaping(body) { body in
            self.body = UnsafeSendableBox(body)
            unfinishedParts.store(parts - 1, ordering: .relaxed)
            // Sequentially consistent with the sleepers' count: either this load sees a worker
            // about to sleep, or that worker's next load of `generation` sees this bump.
            let splits = generation.load(ordering: .relaxed) >> 16 + 1
            generation.store(splits << 16 | parts, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                wake.lock()
                wake.broadcast()
                wake.unlock()
            }
            body(0)
            if unfinishedParts.load(ordering: .acquiring) > 0 {
                pollWhile { unfinishedParts.load(ordering: .acquiring) > 0 }
            }
            self.body = nil
        }
        taken.store(false, ordering: .releasing)
    }

    private func serve(part: Int) {
        var seen = 0
        // Read before the part runs, so that a hand-off made while it ran (by the caller after
        // the split, or by another thread meanwhile) sends the worker to sleep after it.
        var handOffsSeen = 0
        while true {
            var current = generation.load(ordering: .acquiring)
            if current == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                pollWhile {
                    current = generation.load(ordering: .acquiring)
                    return current == seen && handOffs.load(ordering: .relaxed) == handOffsSeen
                        && DispatchTime.now().uptimeNanoseconds - start < WorkerPool.awakeAfterWork
                }
            }
            if current == seen {
                wake.lock()
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while true {
                    current = generation.load(ordering: .sequentiallyConsistent)
                    if current != seen { break }
                    wake.wait()
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                wake.unlock()
            }
            seen = current
            handOffsSeen = handOffs.load(ordering: .relaxed)
            if part < current & 0xFFFF {
                // No reference to the closure may outlive this statement: the caller's
                // `withoutActuallyEscaping` traps if one is left after the parts are done.
                body!.value(part)
                unfinishedParts.subtract(1, ordering: .releasing)
            }
        }
    }

    /// Yields the core while `condition` holds, and counts the thread's CPU time meanwhile as idle,
    /// as it goes: a reading of `workingCPUNanoseconds` then never sees much of a poll uncounted.
    private func pollWhile(_ condition: () -> Bool) {
        var counted = threadCPUNanoseconds()
        while condition() {
            sched_yield()
            let now = threadCPUNanoseconds()
            idlePolling.add(now &- counted, ordering: .relaxed)
            counted = now
        }
    }
}

private func threadCPUNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
