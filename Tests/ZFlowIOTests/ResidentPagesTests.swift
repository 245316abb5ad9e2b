import Foundation
import Testing
import ZFlowTensor
@testable import ZFlowIO

/// Converting a stored tensor (f16 -> f32) drops the file's mapped pages from the resident set:
/// a full-size model would otherwise hold its f16 file pages and their f32 copy at once (peak RSS
/// 9.90 GB against 8.01 GB for the LD-ZNet pipeline, docs/benchmarks.md).
@Suite struct ResidentPagesTests {
    /// A safetensors file: `small` (f32, borrowed) then `first` and `second` (f16, converted),
    /// each f16 tensor 4 MiB; the data section starts off a page boundary, so neighbours share pages.
    private static func writeFile(count: Int) throws -> URL {
        let smallCount = 1000
        let header = """
            {"small":{"dtype":"F32","shape":[\(smallCount)],"data_offsets":[0,\(4 * smallCount)]},\
            "first":{"dtype":"F16","shape":[\(count)],"data_offsets":[\(4 * smallCount),\(4 * smallCount + 2 * count)]},\
            "second":{"dtype":"F16","shape":[\(count)],"data_offsets":[\(4 * smallCount + 2 * count),\(4 * smallCount + 4 * count)]}}
            """
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var bytes = withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian, Array.init) + headerBytes
        for index in 0..<smallCount { bytes += withUnsafeBytes(of: Float(index).bitPattern.littleEndian, Array.init) }
        for tensor in 0..<2 {
            for index in 0..<count {
                bytes += withUnsafeBytes(of: Float16(value(index, tensor)).bitPattern.littleEndian, Array.init)
            }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-resident-\(UUID().uuidString).safetensors")
        try Data(bytes).write(to: url)
        return url
    }

    private static func value(_ index: Int, _ tensor: Int) -> Float { Float(index % 2000 - 1000 + tensor) / 8 }

    /// This process's resident bytes of the mapping that starts at `base` (/proc/self/smaps).
    private static func residentBytes(ofMappingAt base: UnsafeRawPointer) throws -> Int? {
        let address = UInt(bitPattern: base)
        // /proc files report size 0: read to the end rather than by the reported size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let lines = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        guard let start = lines.firstIndex(where: { line in
            let range = line.split(separator: " ", maxSplits: 1).first?.split(separator: "-") ?? []
            return range.count == 2 && UInt(range[0], radix: 16) == address
        }) else { return nil }
        for line in lines[(start + 1)...] where line.hasPrefix("Rss:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
        }
        return nil
    }

    #if os(Linux)
    @Test func convertedTensorsLeaveTheirFilePagesOutOfTheResidentSet() throws {
        let count = 1 << 21
        let url = try Self.writeFile(count: count)
        defer { try? FileManager.default.removeItem(at: url) }
        let mapped = try MappedFile(path: url.path)
        let file = try SafeTensorsFile(file: mapped)
        let base = try #require(mapped.base)

        let small = try file.tensor("small")
        let smallAddress = UnsafeRawPointer(small.storage.base)
        #expect(smallAddress >= base && smallAddress < base + mapped.count, "the f32 tensor is borrowed from the mapping")
        let first = try file.tensor("first")
        let resident = try #require(try Self.residentBytes(ofMappingAt: base), "the mapping is listed in /proc/self/smaps")
        // Without the drop, the 4 MiB of f16 pages just read stay resident.
        #expect(resident < 256 << 10, "resident bytes of the mapping after converting 4 MiB of f16: \(resident)")

        // The dropped pages are read again where needed: a neighbour sharing an edge page, a
        // borrowed tensor, and a second read of the converted one.
        let second = try file.tensor("second")
        #expect(first.scalars == (0..<count).map { Self.value($0, 0) })
        #expect(second.scalars == (0..<count).map { Self.value($0, 1) })
        #expect(small.scalars == (0..<1000).map(Float.init))
        #expect(try file.tensor("first").scalars == first.scalars)
    }

    /// The resident pages of `count` bytes at `base` of an anonymous mapping (mincore; for a
    /// file mapping it would report the page cache instead).
    private static func residentAnonymousBytes(_ base: UnsafeRawPointer, count: Int) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var flags = [UInt8](repeating: 0, count: (count + page - 1) / page)
        let status = mincore(UnsafeMutableRawPointer(mutating: base), count, &flags)
        precondition(status == 0, "mincore: \(String(cString: strerror(errno)))")
        return flags.filter { $0 & 1 != 0 }.count * page
    }

    /// On demand, an f16 tensor is widened into memory of its own only while a caller is inside
    /// `whileResident` (nested callers included), and its file pages leave the resident set; an
    /// f32 one is read in the mapping and its pages leave the resident set after each use.
    @Test func onDemandTensorsAreInMemoryOnlyWhileUsed() throws {
        let count = 1 << 21
        let url = try Self.writeFile(count: count)
        defer { try? FileManager.default.removeItem(at: url) }
        let mapped = try MappedFile(path: url.path)
        let file = try SafeTensorsFile(file: mapped)
        let fileBase = try #require(mapped.base)
        let expected = (0..<count).map { Self.value($0, 0) }

        let first = try file.tensorOnDemand("first")
        #expect(first.storage.isOnDemand)
        let widened = UnsafeRawPointer(first.storage.base)
        #expect(widened < fileBase || widened >= fileBase + mapped.count, "widened into memory of its own")
        #expect(Self.residentAnonymousBytes(widened, count: 4 * count) == 0, "nothing held before the first use")
        for _ in 0..<2 {
            try first.whileResident {
                #expect(first.scalars == expected)
                #expect(Self.residentAnonymousBytes(widened, count: 4 * count) >= 4 * count)
                try first.whileResident { #expect(first.scalars == expected) }
                #expect(Self.residentAnonymousBytes(widened, count: 4 * count) >= 4 * count, "an inner caller leaving keeps the values")
            }
            #expect(Self.residentAnonymousBytes(widened, count: 4 * count) == 0, "the last caller out gives the memory back")
        }

        let small = try file.tensorOnDemand("small")
        let smallAddress = UnsafeRawPointer(small.storage.base)
        #expect(small.storage.isOnDemand && smallAddress >= fileBase && smallAddress < fileBase + mapped.count,
                "an f32 tensor is read where it lies in the mapping")
        try small.whileResident { #expect(small.scalars == (0..<1000).map(Float.init)) }
        let resident = try #require(try Self.residentBytes(ofMappingAt: fileBase))
        #expect(resident < 256 << 10, "resident bytes of the mapping after using both tensors on demand: \(resident)")
    }
    #endif
}
