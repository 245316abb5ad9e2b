import Foundation

/// `count` uninitialized floats at a 64-byte boundary (a cache line, one zmm register), for the
/// temporary buffers of the kernels, so that their vector loads never straddle two cache lines
/// (malloc aligns to 16 bytes); release with `releaseFloats`. Large ones come from `MemoryPool`.
func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    MemoryPool.shared.take(byteCount: max(count, 1) * MemoryLayout<Float>.stride)
        .bindMemory(to: Float.self, capacity: max(count, 1))
}

/// Gives back what `allocateFloats` returned.
func releaseFloats(_ pointer: UnsafeMutablePointer<Float>) {
    MemoryPool.shared.give(UnsafeMutableRawPointer(pointer))
}

/// Returns the blocks `MemoryPool` keeps for reuse to the system. A model store calls it before it
/// loads weights, so that a process's peak resident memory is not the pool's blocks plus the new
/// weights (loads happen in first runs; steady runs keep the pool's blocks).
public func releasePooledMemory() { MemoryPool.shared.releaseIdle() }

/// Keeps released large blocks (tensors and kernel temporaries of 1 MiB and more) for the next
/// request of their size or up to a fifth smaller, instead of returning them to the system. A
/// fresh block costs a page fault and the kernel zeroing each page on first touch, in the one
/// thread that touches it: 11% of the VAE's time on an Ice Lake machine, with the other core idle.
/// Steady runs allocate the same sizes again, so most requests are served from here. Blocks of
/// 4 MiB and more are 2 MiB-aligned and marked for transparent huge pages (one fault per 2 MiB).
/// At most `limit` bytes are kept; the blocks released longest ago go back to the system first.
///
/// The limit: the full-size pipeline's steady runs allocate more than 512 MiB of distinct sizes, so
/// a 512 MiB pool evicted blocks each run needed again. On an AMD EPYC Zen 5 (448x256, 2026-12-05)
/// 1 GiB took the VAE from 1.12 to 0.81 s and the whole run from 2.46 to 2.15 s; 2 GiB gained more
/// at 384x384 but held 2.5 GB in a full-size `zflow probe` feature pass that peaks at 0.9 GB
/// otherwise (its many tap shapes stay idle). Serving a request from a block up to a quarter
/// larger keeps fewer sizes idle: without it the peak resident memory at 384x384 rose from 9.75 GB
/// (the 512 MiB pool's) to 9.9.
final class MemoryPool: @unchecked Sendable {
    static let shared = MemoryPool(limit: 1024 << 20)

    static let minimumPooledBytes = 1 << 20
    private static let granule = 64 << 10
    private static let hugePage = 2 << 20

    let limit: Int
    private let lock = NSLock()
    private var idle: [Int: [UnsafeMutableRawPointer]] = [:]
    private var idleOrder: [(pointer: UnsafeMutableRawPointer, size: Int)] = []
    private var idleBytes = 0
    private var lent: [UnsafeMutableRawPointer: Int] = [:]

    init(limit: Int) { self.limit = limit }

    func take(byteCount: Int) -> UnsafeMutableRawPointer {
        guard byteCount >= MemoryPool.minimumPooledBytes else {
            return UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        }
        let size = (byteCount + MemoryPool.granule - 1) / MemoryPool.granule * MemoryPool.granule
        if let reused: UnsafeMutableRawPointer = lock.withLock({
            // The smallest idle block that fits with at most a quarter to spare: fewer distinct
            // sizes held idle beside the ones in use.
            var fit: Int?
            for (candidate, blocks) in idle where candidate >= size && candidate <= size + size / 4 && !blocks.isEmpty {
                fit = min(fit ?? candidate, candidate)
            }
            guard let fit, let pointer = idle[fit]?.popLast() else { return nil }
            idleOrder.removeAll { $0.pointer == pointer }
            idleBytes -= fit
            lent[pointer] = fit
            return pointer
        }) { return reused }
        #if os(Linux)
        let large = size >= 2 * MemoryPool.hugePage
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: large ? MemoryPool.hugePage : 64)
        if large { _ = madvise(pointer, size / MemoryPool.hugePage * MemoryPool.hugePage, MADV_HUGEPAGE) }
        #else
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        #endif
        lock.withLock { lent[pointer] = size }
        return pointer
    }

    func give(_ pointer: UnsafeMutableRawPointer) {
        var evicted: [UnsafeMutableRawPointer] = []
        let pooled: Bool = lock.withLock {
            guard let size = lent.removeValue(forKey: pointer) else { return false }
            guard size <= limit else { evicted.append(pointer); return true }
            while idleBytes + size > limit, let oldest = idleOrder.first {
                idleOrder.removeFirst()
                idle[oldest.size]?.removeAll { $0 == oldest.pointer }
                idleBytes -= oldest.size
                evicted.append(oldest.pointer)
            }
            idle[size, default: []].append(pointer)
            idleOrder.append((pointer, size))
            idleBytes += size
            return true
        }
        if !pooled { pointer.deallocate() }
        for block in evicted { block.deallocate() }
    }

    /// Gives every idle block back to the system.
    func releaseIdle() {
        let released: [UnsafeMutableRawPointer] = lock.withLock {
            defer { idle = [:]; idleOrder = []; idleBytes = 0 }
            return idleOrder.map(\.pointer)
        }
        for block in released { block.deallocate() }
    }

    /// Bytes held for reuse (for tests).
    var idleByteCount: Int { lock.withLock { idleBytes } }
}
