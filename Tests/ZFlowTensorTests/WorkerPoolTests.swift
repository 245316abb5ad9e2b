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

    /// Part 1 runs on the pool's worker, not on Dispatch (the pool is released after each split).
    @Test(.enabled(if: parallelWidth > 1)) func anUncontendedSplitRunsOnTheWorkers() {
        #expect(splitUntilOneRunsOnTheWorkers())
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

    /// After a split on the workers, they poll for `awakeAfterWork`: the process's CPU time grows
    /// meanwhile, the working CPU time by what they polled less.
    @Test(.enabled(if: parallelWidth > 1)) func pollingAfterASplitIsLeftOutOfTheWorkingTime() {
        let deadline = ContinuousClock.now + workersWait
        while ContinuousClock.now < deadline {
            let process = processCPUNanoseconds(), working = workingCPUNanoseconds(), idle = WorkerPool.shared.idleCPUNanoseconds
            guard ranOnWorker() else { usleep(2000); continue }
            usleep(UInt32(WorkerPool.awakeAfterWork / 1000 * 5))
            let polled = WorkerPool.shared.idleCPUNanoseconds - idle
            let left = (processCPUNanoseconds() - process) - cpuNanoseconds(from: working, to: workingCPUNanoseconds())
            // A busy machine (other suites) gives the polling worker only a share of its core, and
            // another suite's oneDNN or OpenBLAS call (a hand-off) ends its polling: try again.
            guard polled >= 10_000 else { usleep(2000); continue }
            #expect(Double(left) >= 0.75 * Double(polled) - 5_000, "polled \(polled) ns, left out \(left) ns")
            return
        }
        Issue.record("no split ran on the workers and was followed by 10 us of polling in \(workersWait)")
    }

    /// A hand-off (oneDNN's or OpenBLAS's threads about to run) puts the polling workers to sleep
    /// at once instead of after `awakeAfterWork`. A pool of its own, so that other suites' splits
    /// and hand-offs do not touch it (its worker thread sleeps until the test process ends).
    @Test(.enabled(if: parallelWidth > 1)) func aHandOffEndsThePolling() {
        let pool = WorkerPool(workers: 1)
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

/// How long the tests that need the workers free try for them: other suites' splits take them,
/// and under the whole suite's load one second of tries was sometimes not enough.
private let workersWait = Duration.seconds(30)

/// Splits until one runs on the workers (other suites' splits take them now and then), 2 ms
/// apart, for at most `workersWait`; false when none did.
private func splitUntilOneRunsOnTheWorkers() -> Bool {
    let deadline = ContinuousClock.now + workersWait
    while ContinuousClock.now < deadline {
        if ranOnWorker() { return true }
        usleep(2000)
    }
    return false
}

/// Splits `parallelWidth` ranges and tells whether part 1 ran on the pool's first worker.
private func ranOnWorker() -> Bool {
    let names = Mutex<[String]>([])
    parallelRanges(parallelWidth, minimumWork: 1) { range in
        if range.lowerBound == 1 { names.withLock { $0.append(Thread.current.name ?? "") } }
    }
    return names.withLock { $0 } == ["zflow worker 1"]
}

private func threadCPUNanoseconds() -> UInt64 { clockNanoseconds(CLOCK_THREAD_CPUTIME_ID) }
private func processCPUNanoseconds() -> UInt64 { clockNanoseconds(CLOCK_PROCESS_CPUTIME_ID) }

private func clockNanoseconds(_ clock: clockid_t) -> UInt64 {
    var time = timespec()
    clock_gettime(clock, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

private func busy(for nanoseconds: UInt64) {
    let start = DispatchTime.now().uptimeNanoseconds
    while DispatchTime.now().uptimeNanoseconds - start < nanoseconds {}
}
