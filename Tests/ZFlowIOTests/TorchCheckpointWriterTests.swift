import Foundation
import Testing
import ZFlowTensor
import ZFlowTestSupport
@testable import ZFlowIO

/// `writeTorchCheckpoint`: what it writes, `TorchCheckpoint` reads back bit for bit, laid out as
/// torch.save lays it out. (That torch.load(weights_only=True) reads it too is checked by
/// tools/fixtures/check_zflow_ckpt.py; docs/parity.md, "ZFlow's .ckpt in torch".)
@Suite struct TorchCheckpointWriterTests {
    /// Shapes of every rank up to 5 (a 0-d tensor, a size tuple with MARK ... TUPLE), element
    /// counts past one and two bytes (BININT2, BININT), special values, a key that is not ASCII.
    static func tensors() -> [String: Tensor] {
        var generator = SeededGenerator(seed: 3)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -2...2, using: &generator) } }
        let special: [Float] = [0, -0.0, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FC0_1234), .leastNonzeroMagnitude,
                                .greatestFiniteMagnitude, -1]
        return [
            "model.diffusion_model.out.2.bias": Tensor(shape: [], scalars: [0.25]),
            "model.diffusion_model.out.2.weight": Tensor(shape: [1, 3, 3, 3], scalars: values(27)),
            "special": Tensor(shape: [9], scalars: special),
            "a.rank5": Tensor(shape: [1, 2, 1, 2, 3], scalars: values(12)),
            "wide": Tensor(shape: [300, 1], scalars: values(300)),
            "large": Tensor(shape: [7, 10_000], scalars: values(70_000)),
            "ünïcode.κλειδί": Tensor(shape: [2, 2], scalars: values(4)),
        ]
    }

    func roundTrip(zip64Above: Int? = nil) throws -> (url: URL, tensors: [String: Tensor]) {
        let tensors = Self.tensors()
        let url = try FixtureFiles.scratchFolder().appendingPathComponent("run.ckpt")
        var writer = TorchCheckpointWriter(tensors: tensors, metadata: ["zflow.optimizer": "adamw", "note": "a\nb"])
        if let zip64Above { writer.zip64Above = zip64Above }
        try writer.write(to: url)
        let checkpoint = try TorchCheckpoint(contentsOf: url)
        #expect(checkpoint.root == ["state_dict"])
        #expect(checkpoint.keys == tensors.keys.sorted())
        for (key, tensor) in tensors {
            #expect(checkpoint.shape(of: key) == tensor.shape, "\(key)")
            #expect(checkpoint.storedType(of: key) == "F32", "\(key)")
            #expect(bitwiseEqual(try checkpoint.tensor(key), tensor), "\(key)")
        }
        #expect(checkpoint.contents["metadata"]?["zflow.optimizer"] == .string("adamw"))
        #expect(checkpoint.contents["metadata"]?["note"] == .string("a\nb"))
        return (url, tensors)
    }

    @Test func readsBackBitForBit() throws {
        let (url, _) = try roundTrip()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
    }

    /// Offsets and sizes past the limit go to ZIP64 fields and records (the limit lowered to 0 so
    /// that every field is wide), which the reader follows to the same tensors.
    @Test func zip64FieldsReadBackBitForBit() throws {
        let (url, _) = try roundTrip(zip64Above: 0)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let bytes = try Data(contentsOf: url)
        let end = bytes.count - 22
        #expect(bytes[end ..< end + 4] == Data([0x50, 0x4B, 0x05, 0x06]))
        #expect(bytes[end - 20 ..< end - 16] == Data([0x50, 0x4B, 0x06, 0x07]), "the ZIP64 locator precedes the end record")
        #expect(bytes[end + 16 ..< end + 20] == Data([0xFF, 0xFF, 0xFF, 0xFF]), "the directory offset is in the ZIP64 record")
    }

    /// torch.save's layout: archive/data.pkl, byteorder, data/<i> per key in sorted order, version;
    /// stored, each entry's data 64-byte aligned; storage i is the i-th key's tensor.
    @Test func layoutIsTorchSaves() throws {
        let (url, tensors) = try roundTrip()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let file = try MappedFile(path: url.path)
        let archive = try ZipArchive(file: file)
        let keys = tensors.keys.sorted()
        #expect(archive.entries.map(\.name) == ["archive/data.pkl", "archive/byteorder"]
            + keys.indices.map { "archive/data/\($0)" } + ["archive/version"])
        for entry in archive.entries {
            #expect(entry.data.lowerBound % 64 == 0, "\(entry.name) starts at byte \(entry.data.lowerBound)")
        }
        #expect(String(decoding: file.bytes(try #require(archive.entry(named: "archive/version")).data), as: UTF8.self) == "3\n")
        #expect(String(decoding: file.bytes(try #require(archive.entry(named: "archive/byteorder")).data), as: UTF8.self) == "little")
        for (index, key) in keys.enumerated() {
            let data = try #require(archive.entry(named: "archive/data/\(index)")).data
            #expect(data.count == tensors[key]!.count * 4, "\(key)")
        }
    }

    @Test func writingReplacesAFileWhole() throws {
        let url = try FixtureFiles.scratchFolder().appendingPathComponent("run.ckpt")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try writeTorchCheckpoint(Self.tensors(), to: url)
        try writeTorchCheckpoint(["only": Tensor(shape: [1], scalars: [5])], to: url)
        let checkpoint = try TorchCheckpoint(contentsOf: url)
        #expect(checkpoint.keys == ["only"] && checkpoint.contents["metadata"] == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["run.ckpt"])
    }

    /// The check values of CRC-32 (IEEE): "123456789" and inputs around the 8-byte steps.
    @Test func crc32MatchesTheStandard() {
        func crc(_ bytes: [UInt8]) -> UInt32 {
            var crc = CRC32()
            bytes.withUnsafeBytes { crc.update($0) }
            return crc.value
        }
        #expect(crc(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(crc([]) == 0)
        #expect(crc(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
        var split = CRC32()
        let text = Array("The quick brown fox jumps over the lazy dog".utf8)
        text[..<13].withUnsafeBytes { split.update($0) }
        text[13...].withUnsafeBytes { split.update($0) }
        #expect(split.value == 0x414F_A339, "updates in pieces give the CRC of the whole")
    }
}
