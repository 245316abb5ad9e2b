import Foundation
import Testing
import ZFlowTensor
import ZFlowTestSupport
import ZFlowIO

@Suite struct SafeTensorsWriteTests {
    @Test func writerReproducesTheReferenceLibraryByteForByte() throws {
        let referenceURL = FixtureFiles.url("st_writer_reference.safetensors")
        let reference = try SafeTensorsFile(contentsOf: referenceURL)
        var tensors: [String: Tensor] = [:]
        for key in reference.keys { tensors[key] = try reference.tensor(key) }
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = folder.appendingPathComponent("out.safetensors")
        try writeSafeTensors(tensors, to: written, metadata: reference.metadata)
        #expect(try Data(contentsOf: written) == Data(contentsOf: referenceURL))
        let encoded = try encodeSafeTensors(tensors, metadata: reference.metadata)
        #expect(try Data(encoded) == Data(contentsOf: referenceURL), "in-memory encoding is the same bytes")
        let decoded = try SafeTensorsFile(bytes: encoded, origin: "<memory>")
        for key in reference.keys { #expect(bitwiseEqual(try decoded.tensor(key), try reference.tensor(key))) }
        #expect(throws: TensorFileError.self) { try SafeTensorsFile(bytes: Array(encoded.dropLast()), origin: "<memory>") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.safetensors"], "no temporary left behind")
    }

    @Test func roundTripKeepsShapesValuesAndMetadataWithAwkwardNames() throws {
        let tensors: [String: Tensor] = [
            "quote\"and\\slash\n": Tensor(shape: [2, 2], scalars: [1, -0.0, .infinity, 3.25]),
            "ünïcode.名前": Tensor(shape: [], scalars: [7]),
            "empty": Tensor(zeros: [3, 0]),
            "odd": Tensor(shape: [3], scalars: [1, 2, 3]),
        ]
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("round.safetensors")
        try writeSafeTensors(tensors, to: url, metadata: ["a\"b": "c\u{1}d"])
        try writeSafeTensors(tensors, to: url, metadata: ["a\"b": "c\u{1}d"])  // overwrite in place
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.keys == tensors.keys.sorted())
        #expect(file.metadata == ["a\"b": "c\u{1}d"])
        for (key, tensor) in tensors { #expect(bitwiseEqual(try file.tensor(key), tensor), "\(key)") }
        let headerLength = try Data(contentsOf: url).prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(headerLength % 8 == 0)
    }

    @Test func metadataKeyIsReservedAndMissingFolderIsAnError() throws {
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: TensorFileError.self) {
            try writeSafeTensors(["__metadata__": Tensor(zeros: [1])], to: folder.appendingPathComponent("x.safetensors"))
        }
        #expect(throws: TensorFileError.self) {
            try writeSafeTensors([:], to: folder.appendingPathComponent("no/such/dir/x.safetensors"))
        }
    }
}
