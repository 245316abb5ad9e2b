import Foundation

// A fast fingerprint of the file or folder a `Path` argument names, so that a
// changed image or weight file invalidates the cache without hashing gigabytes:
// size, modification time, inode, and a hash of the first and last 64 KiB.
// Folders: the same for every file inside (sorted, up to 10,000 files).

public enum FileFingerprint {
    private static let sampleBytes = 64 * 1024
    private static let maximumFolderFiles = 10_000

    public static func of(path: String) -> String {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return "missing" }
        guard isDirectory.boolValue else { return file(url) }
        guard let enumerator = FileManager.default.enumerator(atPath: url.path) else { return "unreadable-folder" }
        var entries: [String] = []
        while let relative = enumerator.nextObject() as? String, entries.count < maximumFolderFiles {
            let child = url.appendingPathComponent(relative)
            var childIsDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: child.path, isDirectory: &childIsDirectory), !childIsDirectory.boolValue {
                entries.append(relative + "=" + file(child))
            }
        }
        return "folder:" + SHA256.hex(entries.sorted().joined(separator: "\n"))
    }

    private static func file(_ url: URL) -> String {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return "unreadable" }
        #if canImport(Darwin)
        let modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #else
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #endif
        let size = Int64(info.st_size)
        var hasher = SHA256()
        if let handle = try? FileHandle(forReadingFrom: url) {
            defer { try? handle.close() }
            hasher.update((try? handle.read(upToCount: sampleBytes)) ?? Data())
            if size > Int64(2 * sampleBytes) {
                try? handle.seek(toOffset: UInt64(size) - UInt64(sampleBytes))
                hasher.update((try? handle.read(upToCount: sampleBytes)) ?? Data())
            }
        }
        return "size=\(size),mtime=\(modified),inode=\(info.st_ino),sample=\(hasher.finalizeHex().prefix(16))"
    }
}
