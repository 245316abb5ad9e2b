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

    @Test func smallBlocksAreNotKept() {
        let pool = MemoryPool(limit: 8 * megabyte)
        pool.give(pool.take(byteCount: 1000))
        #expect(pool.idleByteCount == 0)
    }
}
