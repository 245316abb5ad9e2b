#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import ZFlowTensor

/// Writes a file under a temporary name in the same folder, synced and then renamed over the
/// target, so that readers see the old file or the new one, never a half-written one. The tensor
/// file writers (safetensors, torch checkpoints) write through it.
final class AtomicFileWriter {
    let path: String
    /// Bytes written so far.
    private(set) var offset = 0
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Runs `body` on a writer for `url`; the file appears under `url` only when `body` returns.
    static func write(to url: URL, _ body: (AtomicFileWriter) throws -> Void) throws {
        let path = url.path
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw TensorFileError(file: path, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var closed = false
        defer {
            if !closed { close(fd) }
            unlink(temporary)  // fails harmlessly once renamed
        }
        try body(AtomicFileWriter(path: path, fd: fd))
        guard fsync(fd) == 0 else { throw TensorFileError(file: path, "fsync failed: \(String(cString: strerror(errno)))") }
        closed = true
        guard close(fd) == 0 else { throw TensorFileError(file: path, "close failed: \(String(cString: strerror(errno)))") }
        guard rename(temporary, path) == 0 else {
            throw TensorFileError(file: path, "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let written = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw TensorFileError(file: path, "write failed: \(String(cString: strerror(errno)))") }
            done += written
        }
        offset += bytes.count
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// The tensor's values as little-endian f32.
    func write(_ tensor: Tensor) throws { try withLittleEndianBytes(of: tensor) { try write($0) } }
}

/// The C library's write(2) (the writer's own `write` methods hide its name inside the class).
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
