import Foundation
import Synchronization
import Testing
import ZFlowTestSupport
@testable import ZFlowTensor

/// `parallelRanges` on `WorkerPool`: every index once, whoever calls and from where, and the
/// workers' polling kept out of the working CPU time.
@Suite struct WorkerPoolTests {
    /// Counts how often each index of `0..<count` was visited, from any thread.
    final class Visits: @unchecked Sendable {
        let counts: UnsafeMutableBufferPointer<Int>
        init(_ count: Int) { counts = .allocate(capacity: count); counts.initialize(repeating: 0) }
        deinit { counts.deallocate() }
        func visit(_ range: Range<Int>) { for index in range { counts[index] += 1 } }
        var allOnce: Bool { counts.allSatisfy { $0 == 1 } }
    }

    @Test(arguments: [2, 3, 5, 64, 1000, 100_003])
    func everyIndexIsVisitedOnceInEverySplit(count: Int) {
        for _ in 0..<200 {
            let visits = Visits(count)
            parallelRanges(count, minimumWork: 1) { visits.visit($0) }
            #expect(visits.allOnce)
        }
    }

    /// Splits asked for at once from several threads (nodes running beside each other): one gets
    /// the workers, the others run on Dispatch; none waits for another's parts or loses its own.
    @Test func splitsFromManyThreadsAtOnceAllComplete() {
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { caller in
            for round in 0..<300 {
                let visits = Visits(100 + caller + round)
                parallelRanges(visits.counts.count, minimumWork: 1) { visits.visit($0) }
                if !visits.allOnce { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    /// A part that splits its own work again (the workers are taken then) finishes.
    @Test func aSplitInsideAPartCompletes() {
        let outer = Visits(4), inner = Visits(4 * 500)
        parallelRanges(4, minimumWork: 1) { range in
            outer.visit(range)
            for index in range { parallelRanges(500, minimumWork: 1) { inner.visit(($0.lowerBound + index * 500)..<($0.upperBound + index * 500)) } }
        }
        #expect(outer.allOnce && inner.allOnce)
    }

    /// Splits with pauses around a worker's `awakeAfterWork` between them, so that the workers
    /// keep crossing from polling to sleeping as a split is published: a lost wake-up would hang.
    @Test(.timeLimit(.minutes(1))) func splitsAfterPausesOfAboutTheAwakeTimeAllComplete() {
        var generator = SeededGenerator(seed: 11)
        let awake = Int(WorkerPool.awakeAfterWork / 1000)
        for round in 0..<1500 {
            usleep(UInt32(Int.random(in: awake * 3 / 4...awake * 3 / 2, using: &generator)))
            let visits = Visits(64 + round % 7)
            parallelRanges(visits.counts.count, minimumWork: 1) { visits.visit($0) }
            if !visits.allOnce { Issue.record("split \(round) visited an index other than once"); return }
        }
    }

    /// Part 1 runs on the pool's worker, not on Dispatch. A pool of its own: the shared one is
    /// taken by other suites' splits, under the whole suite for 30 s on end on one CI machine.
    @Test func anUncontendedSplitRunsOnTheWorkers() {
        let pool = poolOfItsOwn()
        let names = Mutex<[Int: String]>([:])
        for _ in 0..<3 {
            pool.run(parts: 2) { part in
                let name = Thread.current.name ?? ""
                names.withLock { $0[part] = name }
            }
            #expect(names.withLock { $0[1] } == "zflow worker 1")
            #expect(names.withLock { $0[0] } != "zflow worker 1")
        }
    }

    /// What the parts compute is working CPU time, all of it: each part's own thread CPU time,
    /// summed, is in the working CPU time the split took (other suites running meanwhile only add).
    @Test func thePartsCPUTimeIsWorkingTime() {
        let spent = Atomic<UInt64>(0)
        let start = workingCPUNanoseconds()
        parallelRanges(parallelWidth, minimumWork: 1) { _ in
            let threadStart = threadCPUNanoseconds()
            busy(for: 2_000_000)
            spent.add(threadCPUNanoseconds() - threadStart, ordering: .relaxed)
        }
        let working = cpuNanoseconds(from: start, to: workingCPUNanoseconds())
        #expect(Double(working) >= 0.8 * Double(spent.load(ordering: .relaxed)), "working \(working) ns")
    }

    /// After a split, the worker polls for `awakeAfterWork`, and the CPU time it spends polling is
    /// counted as idle (`workingCPUNanoseconds` leaves it out): all of it, and no more. The worker's
    /// own CPU clock is the measure; a pool of its own keeps other suites' splits and hand-offs away.
    @Test func aWorkersPollingIsCountedAsIdle() {
        let pool = poolOfItsOwn()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let workerClock = Mutex<clockid_t?>(nil)
            pool.run(parts: 2) { part in
                guard part == 1 else { return }
                var clock = clockid_t()
                if pthread_getcpuclockid(pthread_self(), &clock) == 0 { workerClock.withLock { $0 = clock } }
            }
            guard let clock = workerClock.withLock({ $0 }) else { Issue.record("no CPU clock for the worker"); return }
            let worker = clockNanoseconds(clock), idle = pool.idleCPUNanoseconds
            usleep(UInt32(WorkerPool.awakeAfterWork / 1000 * 5))
            let spent = clockNanoseconds(clock) - worker, polled = pool.idleCPUNanoseconds - idle
            // A busy machine (other suites) gives the polling worker only a share of its core.
            guard spent >= 20_000 else { continue }
            #expect(Double(polled) >= 0.75 * Double(spent) - 5_000, "worker spent \(spent) ns, counted idle \(polled) ns")
            #expect(polled <= spent + 5_000, "worker spent \(spent) ns, counted idle \(polled) ns")
            return
        }
        Issue.record("the worker never had 20 us of CPU time in 5 awake times, for 30 s")
    }

    /// A hand-off (oneDNN's or OpenBLAS's threads about to run) puts the polling workers to sleep
    /// at once instead of after `awakeAfterWork`. A pool of its own, so that other suites' splits
    /// and hand-offs do not touch it.
    @Test func aHandOffEndsThePolling() {
        let pool = poolOfItsOwn()
        let awake = WorkerPool.awakeAfterWork
        for _ in 0..<3 {
            pool.run(parts: 2) { _ in busy(for: 100_000) }
            let idle = pool.idleCPUNanoseconds
            pool.handOff()
            usleep(UInt32(awake / 1000 * 3))
            let polled = pool.idleCPUNanoseconds - idle
            #expect(polled < awake / 4, "polled \(polled) ns after a hand-off")
        }
        // The pool still splits after its workers went to sleep.
        let visits = Visits(2)
        pool.run(parts: 2) { visits.visit($0..<($0 + 1)) }
        #expect(visits.allOnce)
    }

    /// Ops run by oneDNN or OpenBLAS hand the cores off: products on either library, and the
    /// oneDNN primitives (`tunedKernel`). The count is the shared pool's, which other suites'
    /// library ops raise too: run alone, the test fails without the hand-off.
    @Test(arguments: [KernelBackend.openblas, .onednn])
    func libraryOpsHandTheCoresOff(_ backend: KernelBackend) throws {
        guard try canTest(backend) else { return }
        // Large enough to hand off (WorkerPool.handOffMinimumWork): 2^27 multiply-adds, and 2^21
        // values normalized (32 multiply-adds each in the tuner's measure).
        let a = randomTensor([512, 512], seed: 44), rows = randomTensor([2048, 1024], seed: 46)
        let scale = randomTensor([1024], seed: 45)
        var before = WorkerPool.shared.handOffCount
        _ = try KernelTuner.$scopedBackend.withValue(backend) { try matmul(a, a) }
        #expect(WorkerPool.shared.handOffCount > before, "a product on \(backend)")
        guard backend == .onednn else { return }
        before = WorkerPool.shared.handOffCount
        _ = try KernelTuner.$scopedBackend.withValue(backend) { try layerNorm(rows, weight: scale, bias: scale, eps: 1e-5) }
        #expect(WorkerPool.shared.handOffCount > before, "oneDNN's layer normalization")
    }

    @Test func cpuTimeBetweenReadingsIsNeverNegative() {
        #expect(cpuNanoseconds(from: 10, to: 25) == 15)
        #expect(cpuNanoseconds(from: 25, to: 10) == 0)
    }
}

/// A pool with one worker that no other test uses, kept for the process's life: its worker
/// thread never ends, and it would touch a freed pool when woken.
private func poolOfItsOwn() -> WorkerPool {
    let pool = WorkerPool(workers: 1)
    _ = Unmanaged.passRetained(pool)
    return pool
}

private func threadCPUNanoseconds() -> UInt64 { clockNanoseconds(CLOCK_THREAD_CPUTIME_ID) }

private func clockNanoseconds(_ clock: clockid_t) -> UInt64 {
    var time = timespec()
    clock_gettime(clock, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

private func busy(for nanoseconds: UInt64) {
    let start = DispatchTime.now().uptimeNanoseconds
    while DispatchTime.now().uptimeNanoseconds - start < nanoseconds {}
}
