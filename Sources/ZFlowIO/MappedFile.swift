#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only (or bytes held in memory, for data that never
/// was a file). Tensors that borrow its bytes retain it, so the mapping lives as
/// long as the last of them.
///
/// If another process truncates the file while it is mapped, reading the lost
/// pages faults (SIGBUS): files are treated as immutable while open.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// Start of the mapping; nil for an empty file.
    let base: UnsafeRawPointer?
    let count: Int
    private let isMapped: Bool

    /// A copy of `data` in memory, named `origin` in errors.
    init(copying data: [UInt8], origin: String) {
        path = origin
        let size = data.count
        count = size
        isMapped = false
        guard size > 0 else { base = nil; return }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        data.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: size) }
        base = UnsafeRawPointer(buffer)
    }

    /// Maps the file at `path`; a missing path, a folder or an unreadable file is a `PathProblem`
    /// (so that no loader reports a missing file as a file of the wrong format).
    init(path: String) throws {
        try PathCheck.require(path, .file)
        self.path = path
        isMapped = true
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TensorFileError(file: path, "cannot open: \(MappedFile.systemError())") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw TensorFileError(file: path, "cannot stat: \(MappedFile.systemError())") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw TensorFileError(file: path, "not a regular file") }
        count = Int(status.st_size)
        guard count > 0 else { base = nil; return }
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw TensorFileError(file: path, "cannot map \(count) bytes: \(MappedFile.systemError())")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        guard let base else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// The bytes `range` of the file; the caller has checked that it lies inside.
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        guard let base, !range.isEmpty else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// Drops this process's resident pages of `range` once a converted copy of those bytes exists.
    /// Mapped file pages count in the resident set as long as they stay mapped in: converting a
    /// model's f16 weights to f32 otherwise keeps both, the f16 file pages and the f32 copy. The
    /// pages stay in the page cache; the mapping is read-only and file-backed, so a later read of
    /// any byte in them (a neighbouring tensor sharing an edge page) faults the same bytes back in.
    func dropResidentPages(_ range: Range<Int>) {
        #if os(Linux)
        guard isMapped, let base, !range.isEmpty else { return }
        let page = MappedFile.pageSize
        let start = range.lowerBound / page * page
        let end = min((range.upperBound + page - 1) / page * page, count)
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
        #endif
    }

    #if os(Linux)
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    #endif

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
