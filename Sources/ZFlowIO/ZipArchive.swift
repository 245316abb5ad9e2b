/// The entries of a zip archive held in a mapped file, read from its central
/// directory (ZIP64 included). Matches the layout `torch.save` writes
/// (PyTorchStreamWriter: stored, uncompressed entries); compressed and
/// encrypted entries are refused, as are multi-disk archives. CRCs are not
/// checked: that would read every byte of a multi-GB file when it is opened.
struct ZipArchive {
    struct Entry {
        let name: String
        /// Where the entry's bytes lie in the file.
        let data: Range<Int>
    }

    /// Entries in central-directory order.
    let entries: [Entry]
    private let byName: [String: Int]

    func entry(named name: String) -> Entry? { byName[name].map { entries[$0] } }

    init(file: MappedFile) throws {
        let path = file.path
        func fail(_ reason: String) -> TensorFileError { TensorFileError(file: path, "zip: \(reason)") }
        let size = file.count
        func u16(_ at: Int) -> Int { Int(file.bytes(at ..< at + 2).loadUnaligned(as: UInt16.self).littleEndian) }
        func u32(_ at: Int) -> Int { Int(file.bytes(at ..< at + 4).loadUnaligned(as: UInt32.self).littleEndian) }
        func u64(_ at: Int) throws -> Int {
            let value = file.bytes(at ..< at + 8).loadUnaligned(as: UInt64.self).littleEndian
            guard value <= UInt64(Int.max) else { throw fail("64-bit field at byte \(at) is out of range") }
            return Int(value)
        }

        // End of central directory: 22 bytes plus a comment of up to 65535 bytes, found from the end.
        guard size >= 22 else { throw fail("file of \(size) bytes is too short to be a zip archive") }
        var end = -1
        for candidate in stride(from: size - 22, through: max(0, size - 22 - 65535), by: -1)
        where u32(candidate) == 0x0605_4B50 && candidate + 22 + u16(candidate + 20) == size {
            end = candidate
            break
        }
        guard end >= 0 else { throw fail("no end-of-central-directory record (truncated or not a zip file)") }
        guard u16(end + 4) == 0, u16(end + 6) == 0 else { throw fail("multi-disk archives are not supported") }
        var count = u16(end + 10), directorySize = u32(end + 12), directoryStart = u32(end + 16)
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryStart == 0xFFFF_FFFF {
            // ZIP64: a locator just before the record points at the 64-bit record.
            guard end >= 20, u32(end - 20) == 0x0706_4B50 else { throw fail("ZIP64 fields without a ZIP64 locator") }
            let record = try u64(end - 20 + 8)
            guard record <= end - 56, u32(record) == 0x0606_4B50 else { throw fail("ZIP64 end record missing or out of bounds") }
            count = try u64(record + 32)
            directorySize = try u64(record + 40)
            directoryStart = try u64(record + 48)
        }
        guard directoryStart <= end, directorySize <= end - directoryStart else {
            throw fail("central directory [\(directoryStart), +\(directorySize)] outside the file")
        }
        guard count <= directorySize / 46 else { throw fail("\(count) entries cannot fit a central directory of \(directorySize) bytes") }

        var entries: [Entry] = []
        var byName: [String: Int] = [:]
        entries.reserveCapacity(count)
        var cursor = directoryStart
        let directoryEnd = directoryStart + directorySize
        for index in 0..<count {
            guard cursor <= directoryEnd - 46, u32(cursor) == 0x0201_4B50 else {
                throw fail("central directory entry \(index) at byte \(cursor) is malformed")
            }
            let flags = u16(cursor + 8), method = u16(cursor + 10)
            var compressed = u32(cursor + 20), uncompressed = u32(cursor + 24)
            let nameLength = u16(cursor + 28), extraLength = u16(cursor + 30), commentLength = u16(cursor + 32)
            var localHeader = u32(cursor + 42)
            let variableEnd = cursor + 46 + nameLength + extraLength + commentLength
            guard variableEnd <= directoryEnd else { throw fail("central directory entry \(index) runs past the directory") }
            let name = String(decoding: file.bytes(cursor + 46 ..< cursor + 46 + nameLength), as: UTF8.self)
            // ZIP64 extra field: the 64-bit values of whichever fields are saturated, in this order.
            var extra = cursor + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let tag = u16(extra), length = u16(extra + 2)
                guard extra + 4 + length <= extraEnd else { throw fail("entry '\(name)': extra field runs past its end") }
                if tag == 0x0001 {
                    var field = extra + 4
                    func wide() throws -> Int {
                        guard field + 8 <= extra + 4 + length else { throw fail("entry '\(name)': ZIP64 extra field too short") }
                        defer { field += 8 }
                        return try u64(field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try wide() }
                    if compressed == 0xFFFF_FFFF { compressed = try wide() }
                    if localHeader == 0xFFFF_FFFF { localHeader = try wide() }
                }
                extra += 4 + length
            }
            guard flags & 1 == 0 else { throw fail("entry '\(name)' is encrypted") }
            guard method == 0 else {
                throw fail("entry '\(name)' is compressed (method \(method)); only stored entries, as torch.save writes them, are supported")
            }
            guard compressed == uncompressed else { throw fail("entry '\(name)': stored sizes differ (\(compressed) vs \(uncompressed))") }
            guard localHeader <= size - 30, u32(localHeader) == 0x0403_4B50 else {
                throw fail("entry '\(name)': local header at byte \(localHeader) is missing")
            }
            let dataStart = localHeader + 30 + u16(localHeader + 26) + u16(localHeader + 28)
            guard dataStart <= size, compressed <= size - dataStart else {
                throw fail("entry '\(name)': \(compressed) bytes at byte \(dataStart) run past the end of the file (\(size) bytes)")
            }
            guard byName[name] == nil else { throw fail("duplicate entry '\(name)'") }
            byName[name] = entries.count
            entries.append(Entry(name: name, data: dataStart ..< dataStart + compressed))
            cursor = variableEnd
        }
        self.entries = entries
        self.byName = byName
    }
}
