import Foundation
import Testing
import ZFlowIO

/// Headers that lie or are malformed: each must be a thrown error naming the file (and the key when there is one).
@Suite struct SafeTensorsHostileTests {
    /// A safetensors file with `header` (declared length `declaredLength`, default its real length) and `data`.
    private func file(_ header: String, declaredLength: UInt64? = nil, data: [UInt8] = Array(repeating: 0, count: 16)) throws -> URL {
        var bytes: [UInt8] = []
        let headerBytes = Array(header.utf8)
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { bytes += $0 }
        bytes += headerBytes + data
        let url = try FixtureFiles.scratchFolder().appendingPathComponent("hostile.safetensors")
        try Data(bytes).write(to: url)
        return url
    }

    private func expectRefused(_ url: URL, mentioning fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do {
            _ = try SafeTensorsFile(contentsOf: url)
            Issue.record("accepted a hostile file", sourceLocation: sourceLocation)
        } catch let error as TensorFileError {
            let text = error.description
            #expect(text.contains(url.path), "\(text)", sourceLocation: sourceLocation)
            for fragment in fragments { #expect(text.contains(fragment), "\(text)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    private func entry(_ dtype: String = "F32", _ shape: String = "[2]", _ offsets: String = "[0,8]") -> String {
        "{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
    }

    @Test func headerLengthBeyondTheFileOrHuge() throws {
        expectRefused(try file("{}", declaredLength: 1000), mentioning: ["beyond the end of the file"])
        expectRefused(try file("{}", declaredLength: UInt64.max), mentioning: ["exceeds the limit"])
        expectRefused(try file("{}", declaredLength: 100_000_001), mentioning: ["exceeds the limit"])
    }

    @Test func tooShortOrNotJSON() throws {
        let url = try FixtureFiles.scratchFolder().appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        expectRefused(url, mentioning: ["shorter than"])
        expectRefused(try file("not json"), mentioning: ["does not start with '{'"])
        expectRefused(try file("{\"a\":"), mentioning: ["invalid JSON"])
        expectRefused(try file("{\"a\":1} x"), mentioning: ["after the value"])
        expectRefused(try file("{\"a\":\(entry()),\"a\":\(entry())}"), mentioning: ["duplicate key 'a'"])
        expectRefused(try file(String(repeating: "{\"a\":", count: 100) + "1" + String(repeating: "}", count: 100)),
                      mentioning: ["nesting deeper"])
        expectRefused(try file("{\"a\":\"\u{1}\"}"), mentioning: ["control character"])
    }

    @Test func entriesWithWrongFields() throws {
        expectRefused(try file("{\"w\":\(entry("Q7"))}"), mentioning: ["'w'", "unsupported dtype Q7"])
        expectRefused(try file("{\"w\":\(entry("F32", "[-2]"))}"), mentioning: ["'w'", "non-negative integers"])
        expectRefused(try file("{\"w\":\(entry("F32", "[2.0]"))}"), mentioning: ["'w'", "non-negative integers"])
        expectRefused(try file("{\"w\":\(entry("F32", "[99999999999999999999]"))}"), mentioning: ["'w'", "non-negative integers"])
        expectRefused(try file("{\"w\":\(entry("F32", "[3]"))}"), mentioning: ["'w'", "needs 12 bytes", "give 8"])
        expectRefused(try file("{\"w\":\(entry("F32", "[4611686018427387904, 4]"))}"), mentioning: ["'w'", "too many elements"])
        expectRefused(try file("{\"w\":\(entry("F32", "[2]", "[8,0]"))}"), mentioning: ["'w'", "outside the data section"])
        expectRefused(try file("{\"w\":\(entry("F32", "[6]", "[0,24]"))}"), mentioning: ["'w'", "outside the data section"])
        expectRefused(try file("{\"w\":\(entry("F32", "[2]", "[0]"))}"), mentioning: ["'w'", "data_offsets"])
        expectRefused(try file("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}"), mentioning: ["'w'", "dtype"])
        expectRefused(try file("{\"w\":[1]}"), mentioning: ["'w'", "not an object"])
        expectRefused(try file("{\"__metadata__\":{\"a\":1}}"), mentioning: ["__metadata__"])
        expectRefused(try file("[]"), mentioning: ["does not start with '{'"])
    }

    @Test func overlappingRangesNameBothTensors() throws {
        let header = "{\"a\":\(entry("F32", "[2]", "[0,8]")),\"e\":\(entry("F32", "[0]", "[5,5]")),\"b\":\(entry("F32", "[2]", "[4,12]"))}"
        expectRefused(try file(header), mentioning: ["'b'", "overlaps tensor 'a'"])
    }

    @Test func validHandMadeFileIsAccepted() throws {
        let url = try file("{\"a\":\(entry("F32", "[2]", "[0,8]")),\"b\":\(entry("F16", "[2]", "[12,16]"))}")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let source = try SafeTensorsFile(contentsOf: url)
        #expect(source.keys == ["a", "b"])
        #expect(try source.tensor("b").scalars == [0, 0])
    }

    @Test func unalignedF32IsCopiedNotMisread() throws {
        // A 1-byte header pad: the data section starts at an odd offset.
        let values: [Float] = [1.5, -2.25]
        var data: [UInt8] = [0]
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 } }
        let url = try file("{\"a\":\(entry("F32", "[2]", "[1,9]"))}", data: data)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        #expect(try SafeTensorsFile(contentsOf: url).tensor("a").scalars == values)
    }
}
