#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZFlowTensor

/// A weight file's f32 tensor read where it lies in the mapping; after each use its pages leave the
/// resident set (they stay in the page cache, and the next use faults them back in).
final class MappedOnUse: OnDemandValues, @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    private let file: MappedFile
    private let bytes: Range<Int>

    init(file: MappedFile, base: UnsafeMutablePointer<Float>, bytes: Range<Int>) {
        self.file = file
        self.base = base
        self.bytes = bytes
    }

    func bringIn() throws {}

    func letGo() { file.dropResidentPages(bytes) }
}

/// A weight file's f16/bf16 (or strided) tensor widened to f32 into memory of its own at each use
/// and given back after it. The memory is an anonymous mapping reserved for the tensor's lifetime:
/// unreadable between uses (a read outside `Tensor.whileResident` faults instead of seeing stale
/// or zero values), its pages returned to the system by `letGo`.
final class WidenedOnUse: OnDemandValues, @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    private let file: MappedFile
    private let stored: StoredTensor
    private let byteCount: Int

    init(file: MappedFile, stored: StoredTensor, count: Int) throws {
        self.file = file
        self.stored = stored
        byteCount = max(count, 1) * MemoryLayout<Float>.stride
        guard let region = mmap(nil, byteCount, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              region != MAP_FAILED else {
            throw TensorFileError(file: file.path, "cannot reserve \(byteCount) bytes for a tensor widened on use: "
                + String(cString: strerror(errno)))
        }
        base = region.bindMemory(to: Float.self, capacity: max(count, 1))
        #if os(Linux)
        _ = madvise(region, byteCount, MADV_HUGEPAGE)
        #endif
    }

    deinit { munmap(UnsafeMutableRawPointer(base), byteCount) }

    func bringIn() throws {
        guard mprotect(UnsafeMutableRawPointer(base), byteCount, PROT_READ | PROT_WRITE) == 0 else {
            throw TensorFileError(file: file.path, "cannot make room for \(byteCount) bytes of a tensor widened on use: "
                + String(cString: strerror(errno)))
        }
        stored.convert(from: file, into: base)
    }

    func letGo() {
        _ = madvise(UnsafeMutableRawPointer(base), byteCount, MADV_DONTNEED)
        _ = mprotect(UnsafeMutableRawPointer(base), byteCount, PROT_NONE)
    }
}
