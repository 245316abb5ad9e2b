import Foundation

// The on-disk cache level. One file per node key under `<dir>/entries/xx/`:
//   "ZFLOWCACHE1\n", a JSON header line (per output: name, type, size, SHA-256),
//   then the payloads back to back, each produced by the port type's codec.
// Files are written to `<dir>/tmp` and renamed into place (atomic); on read,
// sizes and checksums are verified and a bad file is deleted and reported.
// `trim()` removes least recently used entries beyond the size limit.
// Outputs are coded by their declared type (`OutputSpec.type`), also where an
// argument names a narrower one: the header then says the same for every node
// instance, and the argument is part of the key anyway.

final class DiskCache: @unchecked Sendable {
    struct Header: Codable {
        struct Output: Codable {
            var name: String
            var type: String
            var size: Int
            var sha256: String
        }
        var key: String
        var outputs: [Output]
    }

    enum Lookup {
        case hit([String: any Sendable])
        case miss
        case corrupt(String)
    }

    private static let magic = Data("ZFLOWCACHE1\n".utf8)
    let directory: URL
    let limit: Int

    init(directory: URL, limit: Int) {
        self.directory = directory
        self.limit = limit
    }

    private func entryURL(_ key: String) -> URL {
        directory.appendingPathComponent("entries").appendingPathComponent(String(key.prefix(2)))
            .appendingPathComponent(key + ".zfc")
    }

    func contains(_ key: String) -> Bool { FileManager.default.fileExists(atPath: entryURL(key).path) }

    /// Reads and verifies the entry; a corrupt entry is deleted.
    func load(_ key: String, outputs: [OutputSpec], registry: NodeRegistry) -> Lookup {
        let url = entryURL(key)
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else { return .miss }
        do {
            let values = try decode(data, key: key, outputs: outputs, registry: registry)
            utime(url.path, nil) // marks the entry as recently used for trim()
            return .hit(values)
        } catch {
            try? FileManager.default.removeItem(at: url)
            return .corrupt("\(url.path): \(error)")
        }
    }

    private func decode(_ data: Data, key: String, outputs: [OutputSpec], registry: NodeRegistry) throws -> [String: any Sendable] {
        guard data.starts(with: Self.magic) else { throw NodeError("not a zflow cache entry") }
        let headerStart = data.startIndex + Self.magic.count
        guard let newline = data[headerStart...].firstIndex(of: UInt8(ascii: "\n")) else { throw NodeError("truncated header") }
        let header = try JSONDecoder().decode(Header.self, from: data[headerStart..<newline])
        guard header.key == key else { throw NodeError("entry holds key \(header.key)") }
        var offset = newline + 1
        var values: [String: any Sendable] = [:]
        for output in header.outputs {
            guard output.size >= 0, output.size <= data.endIndex - offset else { throw NodeError("truncated payload '\(output.name)'") }
            let payload = data[offset..<offset + output.size]
            offset += output.size
            guard SHA256.hex(Data(payload)) == output.sha256 else { throw NodeError("checksum mismatch in '\(output.name)'") }
            guard let spec = outputs.first(where: { $0.name == output.name }), spec.type.description == output.type,
                  let codec = registry.codec(for: spec.type) else { throw NodeError("unexpected output '\(output.name)'") }
            values[output.name] = try codec.decode(Data(payload))
        }
        guard offset == data.endIndex, Set(values.keys) == Set(outputs.map(\.name)) else {
            throw NodeError("entry does not match the node's outputs")
        }
        return values
    }

    /// Writes the entry atomically. Returns false when an output type has no codec.
    @discardableResult
    func store(_ values: [String: any Sendable], for key: String, outputs: [OutputSpec], registry: NodeRegistry) throws -> Bool {
        var header = Header(key: key, outputs: [])
        var payloads = Data()
        for output in outputs {
            guard let codec = registry.codec(for: output.type), let value = values[output.name] else { return false }
            let payload = try codec.encode(value)
            header.outputs.append(.init(name: output.name, type: output.type.description, size: payload.count,
                                        sha256: SHA256.hex(payload)))
            payloads.append(payload)
        }
        var file = Self.magic
        file.append(try JSONEncoder().encode(header))
        file.append(UInt8(ascii: "\n"))
        file.append(payloads)

        let temporaryFolder = directory.appendingPathComponent("tmp")
        let destination = entryURL(key)
        try FileManager.default.createDirectory(at: temporaryFolder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = temporaryFolder.appendingPathComponent("\(key).\(UUID().uuidString).part")
        try file.write(to: temporary)
        guard rename(temporary.path, destination.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw NodeError("cannot move cache entry into \(destination.path): errno \(errno)")
        }
        return true
    }

    /// Deletes the least recently used entries until the total size is within the limit.
    func trim() {
        let root = directory.appendingPathComponent("entries")
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey]
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: keys) else { return }
        var files: [(url: URL, size: Int, date: Date)] = []
        for case let url as URL in enumerator {
            guard let values = try? url.resourceValues(forKeys: Set(keys)), values.isRegularFile == true else { continue }
            files.append((url, values.fileSize ?? 0, values.contentModificationDate ?? .distantPast))
        }
        var total = files.reduce(0) { $0 + $1.size }
        for file in files.sorted(by: { $0.date < $1.date }) where total > limit {
            try? FileManager.default.removeItem(at: file.url)
            total -= file.size
        }
    }

    /// The cache folder used when none is given: `$XDG_CACHE_HOME/zflow`,
    /// `~/.cache/zflow` (Linux) or `~/Library/Caches/zflow` (macOS).
    static var defaultDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("zflow")
        }
        #if os(macOS)
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent("Library/Caches/zflow")
        #else
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/zflow")
        #endif
    }
}
