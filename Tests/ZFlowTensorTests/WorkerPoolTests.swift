import Foundation
import Synchronization
import Testing
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

    /// After a split, the workers poll for the next one for a while; that CPU time is counted as
    /// idle and left out of `workingCPUNanoseconds`.
    @Test(.enabled(if: parallelWidth > 1)) func pollingAfterASplitIsCountedAsIdle() {
        let idleBefore = WorkerPool.shared.idleCPUNanoseconds
        let visits = Visits(1000)
        parallelRanges(1000, minimumWork: 1) { visits.visit($0) }
        // Longer than a worker stays awake: it polls the whole `awakeAfterWork`, then sleeps.
        usleep(UInt32(WorkerPool.awakeAfterWork / 1000 * 5))
        #expect(visits.allOnce)
        #expect(WorkerPool.shared.idleCPUNanoseconds > idleBefore)
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        #expect(workingCPUNanoseconds() < UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec))
    }

    @Test func cpuTimeBetweenReadingsIsNeverNegative() {
        #expect(cpuNanoseconds(from: 10, to: 25) == 15)
        #expect(cpuNanoseconds(from: 25, to: 10) == 0)
    }
}
