import Testing
@testable import ZFlowTensor

/// Large blocks are handed out again for the same size; the pool never keeps more than its limit
/// and lets the oldest blocks go first; small blocks are never kept.
@Suite struct MemoryPoolTests {
    let megabyte = 1 << 20

    @Test func aReleasedBlockServesTheNextRequestOfItsSize() {
        let pool = MemoryPool(limit: 8 * megabyte)
        let first = pool.take(byteCount: 3 * megabyte)
        pool.give(first)
        #expect(pool.idleByteCount == 3 * megabyte)
        #expect(pool.take(byteCount: 3 * megabyte) == first)
        #expect(pool.idleByteCount == 0)
        let other = pool.take(byteCount: 2 * megabyte)
        #expect(other != first)
        pool.give(other)
        pool.give(first)
    }

    @Test func theLimitHoldsAndTheOldestBlocksGoFirst() {
        let pool = MemoryPool(limit: 5 * megabyte)
        let blocks = (0..<3).map { _ in pool.take(byteCount: 2 * megabyte) }
        blocks.forEach(pool.give)
        #expect(pool.idleByteCount == 4 * megabyte)
        // The first released block was evicted to make room for the third.
        let again = (0..<2).map { _ in pool.take(byteCount: 2 * megabyte) }
        #expect(Set(again) == Set(blocks.dropFirst()))
        again.forEach(pool.give)
        let tooBig = pool.take(byteCount: 6 * megabyte)
        pool.give(tooBig)
        #expect(pool.idleByteCount <= 5 * megabyte)
    }

    @Test func aRequestTakesTheSmallestIdleBlockWithAtMostAQuarterToSpare() {
        let pool = MemoryPool(limit: 16 * megabyte)
        let blocks = [2, 3, 5].map { pool.take(byteCount: $0 * megabyte) }
        blocks.forEach(pool.give)
        // 2.5 MiB: the 3 MiB block (a fifth to spare); 3.5 MiB: nothing idle fits (5 MiB spares more
        // than a quarter), so a fresh block.
        #expect(pool.take(byteCount: 5 * megabyte / 2) == blocks[1])
        let fresh = pool.take(byteCount: 7 * megabyte / 2)
        #expect(!blocks.contains(fresh))
        #expect(pool.idleByteCount == 7 * megabyte)
        // A reused block goes back under its own size.
        pool.give(blocks[1])
        #expect(pool.idleByteCount == 10 * megabyte)
        pool.give(fresh)
    }

    @Test func releasingIdleBlocksKeepsTheLentOnes() {
        let pool = MemoryPool(limit: 8 * megabyte)
        let lent = pool.take(byteCount: 2 * megabyte), idle = pool.take(byteCount: 3 * megabyte)
        pool.give(idle)
        pool.releaseIdle()
        #expect(pool.idleByteCount == 0)
        // The lent block is still the pool's to take back and hand out again.
        pool.give(lent)
        #expect(pool.idleByteCount == 2 * megabyte)
        #expect(pool.take(byteCount: 2 * megabyte) == lent)
    }

    @Test func smallBlocksAreNotKept() {
        let pool = MemoryPool(limit: 8 * megabyte)
        pool.give(pool.take(byteCount: 1000))
        #expect(pool.idleByteCount == 0)
    }
}
