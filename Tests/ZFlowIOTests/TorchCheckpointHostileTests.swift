import Foundation
import Testing
@testable import ZFlowIO

/// Pickles and zips no honest writer produces: each must be a thrown error with a clear message, never a crash or a hang.
@Suite struct TorchCheckpointHostileTests {
    private let sixFloats: [String: [Float]] = ["0": [0, 1, 2, 3, 4, 5]]

    /// Opens `bytes` as a checkpoint; returns the error text, or nil when it opened.
    private func openError(_ bytes: [UInt8], root: [String]? = nil) throws -> String? {
        let url = try scratchFile(bytes)
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do {
            _ = try TorchCheckpoint(contentsOf: url, root: root)
            return nil
        } catch let error as TensorFileError {
            #expect(error.file == url.path)
            return error.description
        }
    }

    private func expectRefused(_ bytes: [UInt8], _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard let message = try openError(bytes) else {
            Issue.record("accepted", sourceLocation: sourceLocation)
            return
        }
        for fragment in fragments {
            #expect(message.contains(fragment), "\(message)", sourceLocation: sourceLocation)
        }
    }

    private func tensorPickle(numel: Int = 6, offset: Int = 0, size: [Int] = [2, 3], stride: [Int] = [3, 1], key: String = "0") -> [UInt8] {
        PickleBytes.dict([("w", { $0.tensor(storage: key, numel: numel, offset: offset, size: size, stride: stride) })])
    }

    @Test func handmadeCheckpointIsAccepted() throws {
        let url = try scratchFile(checkpointZip(pickle: tensorPickle(size: [3, 2], stride: [1, 3]), storages: sixFloats))
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let checkpoint = try TorchCheckpoint(contentsOf: url)
        #expect(try checkpoint.tensor("w").scalars == [0, 3, 1, 4, 2, 5])
        let expanded = try scratchFile(checkpointZip(pickle: tensorPickle(size: [2, 3], stride: [0, 1]), storages: sixFloats))
        defer { try? FileManager.default.removeItem(at: expanded.deletingLastPathComponent()) }
        #expect(try TorchCheckpoint(contentsOf: expanded).tensor("w").scalars == [0, 1, 2, 0, 1, 2], "a small expanded view is fine")
    }

    @Test func tensorRecordsThatDoNotFitTheirStorage() throws {
        try expectRefused(checkpointZip(pickle: tensorPickle(size: [3, 3]), storages: sixFloats), "'w'", "reads element 8 of a storage of 6")
        try expectRefused(checkpointZip(pickle: tensorPickle(offset: 1), storages: sixFloats), "'w'", "reads element 6")
        try expectRefused(checkpointZip(pickle: tensorPickle(numel: 100, size: [10, 10], stride: [10, 1]), storages: sixFloats),
                          "'w'", "needs more than its 24 bytes")
        try expectRefused(checkpointZip(pickle: tensorPickle(key: "9"), storages: sixFloats), "'w'", "archive/data/9 does not exist")
        try expectRefused(checkpointZip(pickle: tensorPickle(stride: [3, -1]), storages: sixFloats), "'w'", "negative stride")
        try expectRefused(checkpointZip(pickle: tensorPickle(size: [2, 3, 4]), storages: sixFloats), "'w'", "differ in rank")
        try expectRefused(checkpointZip(pickle: tensorPickle(size: [Int(Int32.max), Int(Int32.max), Int(Int32.max)], stride: [0, 0, 0]),
                                        storages: sixFloats), "'w'", "too many elements")
        try expectRefused(checkpointZip(pickle: tensorPickle(size: [2, 2], stride: [Int(Int32.max), 1]), storages: sixFloats), "'w'", "reads element")
        try expectRefused(checkpointZip(pickle: tensorPickle(offset: -4), storages: sixFloats), "'w'", "negative")
        try expectRefused(checkpointZip(pickle: tensorPickle(size: [1 << 20, 1 << 20], stride: [0, 0]), storages: sixFloats),
                          "'w'", "repeats stored values")
    }

    @Test func wrongTypesOnTheStack() throws {
        var sizeIsText = PickleBytes()
        sizeIsText.global("torch._utils", "_rebuild_tensor_v2")
        sizeIsText.mark()
        sizeIsText.mark(); sizeIsText.string("storage"); sizeIsText.global("torch", "FloatStorage"); sizeIsText.string("0")
        sizeIsText.string("cpu"); sizeIsText.int(6); sizeIsText.op(0x74); sizeIsText.op(0x51)
        sizeIsText.int(0); sizeIsText.string("2x3"); sizeIsText.intTuple([3, 1]); sizeIsText.op(0x89); sizeIsText.op(0x7D)
        sizeIsText.op(0x74); sizeIsText.op(0x52); sizeIsText.op(0x2E)
        try expectRefused(checkpointZip(pickle: sizeIsText.bytes, storages: sixFloats), "size is a str")

        var reduceWithInt = PickleBytes()
        reduceWithInt.global("torch", "Size"); reduceWithInt.int(3); reduceWithInt.op(0x52); reduceWithInt.op(0x2E)
        try expectRefused(checkpointZip(pickle: reduceWithInt.bytes), "REDUCE arguments are a int")

        var badPersistentId = PickleBytes()
        badPersistentId.string("storage"); badPersistentId.op(0x51); badPersistentId.op(0x2E)
        try expectRefused(checkpointZip(pickle: badPersistentId.bytes), "persistent id")

        var unknownStorage = PickleBytes()
        unknownStorage.mark(); unknownStorage.string("storage"); unknownStorage.global("torch", "ComplexFloatStorage")
        unknownStorage.string("0"); unknownStorage.string("cpu"); unknownStorage.int(1); unknownStorage.op(0x74)
        unknownStorage.op(0x51); unknownStorage.op(0x2E)
        try expectRefused(checkpointZip(pickle: unknownStorage.bytes), "unsupported storage type torch.ComplexFloatStorage")

        var orderedDictOfInt = PickleBytes()
        orderedDictOfInt.global("collections", "OrderedDict"); orderedDictOfInt.int(1); orderedDictOfInt.op(0x85)
        orderedDictOfInt.op(0x52); orderedDictOfInt.op(0x2E)
        try expectRefused(checkpointZip(pickle: orderedDictOfInt.bytes), "collections.OrderedDict: expects no arguments or a list of pairs")

        var buildOnInt = PickleBytes()
        buildOnInt.int(1); buildOnInt.op(0x7D); buildOnInt.op(0x62); buildOnInt.op(0x2E)
        try expectRefused(checkpointZip(pickle: buildOnInt.bytes), "BUILD on int")

        var appendToTuple = PickleBytes()
        appendToTuple.op(0x29); appendToTuple.int(1); appendToTuple.op(0x61); appendToTuple.op(0x2E)
        try expectRefused(checkpointZip(pickle: appendToTuple.bytes), "cannot append to tuple")
    }

    @Test func malformedStreams() throws {
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0xFF]), "unknown opcode 0xff")
        try expectRefused(checkpointZip(pickle: [0x80, 9]), "unsupported pickle protocol 9")
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x30]), "stack underflow")
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x68, 7, 0x2E]), "memo entry 7 was never stored")
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x4E, 0x4E, 0x2E]), "values left on the stack")
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x58, 0xFF, 0xFF, 0xFF, 0x7F]), "runs past the end")
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x8D] + littleEndian(UInt64.max)), "runs past the end")
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x82, 1]), "extension registry")
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x4E, 0x28, 0x30, 0x30, 0x2E]), "stack underflow")
    }

    @Test func truncatedPicklesAtEveryOffset() throws {
        let pickle = PickleBytes.dict([
            ("w", { $0.tensor(storage: "0", numel: 6, size: [2, 3], stride: [3, 1]) }),
            ("n", { $0.int(5) }),
        ])
        for cut in 0..<pickle.count {
            let message = try openError(checkpointZip(pickle: Array(pickle[..<cut]), storages: sixFloats))
            #expect(message != nil, "a pickle cut at \(cut) of \(pickle.count) bytes was accepted")
        }
    }

    @Test func refusedCallsNameTheGlobalInEveryCallForm() throws {
        var reduce = PickleBytes()
        reduce.global("os", "system"); reduce.string("id"); reduce.op(0x85); reduce.op(0x52); reduce.op(0x2E)
        try expectRefused(checkpointZip(pickle: reduce.bytes), "refused global os.system")

        var stackGlobal = PickleBytes()
        stackGlobal.string("builtins"); stackGlobal.string("exec"); stackGlobal.op(0x93); stackGlobal.string("1")
        stackGlobal.op(0x85); stackGlobal.op(0x52); stackGlobal.op(0x2E)
        try expectRefused(checkpointZip(pickle: stackGlobal.bytes), "refused global builtins.exec")

        var inst = PickleBytes()
        inst.mark(); inst.string("id"); inst.op(0x69, Array("subprocess\ncheck_output\n".utf8)); inst.op(0x2E)
        try expectRefused(checkpointZip(pickle: inst.bytes), "refused global subprocess.check_output")

        var newobj = PickleBytes()
        newobj.global("builtins", "object"); newobj.op(0x29); newobj.op(0x81); newobj.op(0x2E)
        try expectRefused(checkpointZip(pickle: newobj.bytes), "refused global builtins.object")

        var obj = PickleBytes()
        obj.mark(); obj.global("posix", "system"); obj.string("id"); obj.op(0x6F); obj.op(0x2E)
        try expectRefused(checkpointZip(pickle: obj.bytes), "refused global posix.system")

        // A rebuild wrapper cannot smuggle a call either.
        var wrapped = PickleBytes()
        wrapped.global("torch._tensor", "_rebuild_from_type_v2"); wrapped.mark(); wrapped.global("os", "system")
        wrapped.global("torch", "Tensor"); wrapped.mark(); wrapped.string("id"); wrapped.op(0x74); wrapped.op(0x7D)
        wrapped.op(0x74); wrapped.op(0x52); wrapped.op(0x2E)
        try expectRefused(checkpointZip(pickle: wrapped.bytes), "refused rebuild function os.system")
    }

    @Test func aGlobalThatIsNeverCalledIsJustData() throws {
        var reference = PickleBytes()
        reference.op(0x7D); reference.string("who"); reference.global("os", "system"); reference.op(0x73); reference.op(0x2E)
        let url = try scratchFile(checkpointZip(pickle: reference.bytes))
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let checkpoint = try TorchCheckpoint(contentsOf: url)
        #expect(checkpoint.contents == .dict([CheckpointEntry(key: "who", value: .other("class os.system"))]))
        #expect(checkpoint.keys.isEmpty)
    }

    @Test func resourceBombsAreBounded() throws {
        // 200k TUPLE1 opcodes: tuples nested 200k deep.
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x4E] + Array(repeating: 0x85, count: 200_000) + [0x2E]), "tuples nested deeper than 1000")
        // 20k MARKs.
        try expectRefused(checkpointZip(pickle: [0x80, 2] + Array(repeating: 0x28, count: 20_000)), "marks nested deeper")
        // A list that contains itself.
        try expectRefused(checkpointZip(pickle: [0x80, 2, 0x5D, 0x32, 0x61, 0x2E]), "nested deeper than 100 (or a cycle)")
        // 60k lists chained through the memo (deeper than any recursion could release).
        var chain = PickleBytes()
        let depth = 60_000
        for index in 0..<depth { chain.op(0x5D); chain.op(0x72, littleEndian(UInt32(index))); chain.op(0x30) }
        for index in 0 ..< depth - 1 {
            chain.op(0x6A, littleEndian(UInt32(index))); chain.op(0x6A, littleEndian(UInt32(index + 1))); chain.op(0x61); chain.op(0x30)
        }
        chain.op(0x6A, littleEndian(UInt32(0))); chain.op(0x2E)
        try expectRefused(checkpointZip(pickle: chain.bytes), "nested deeper than 100")
        // Shared structure: L(i+1) = [L(i), L(i)] is 2^60 values once expanded.
        var dag = PickleBytes()
        dag.op(0x4E)
        for _ in 0..<60 { dag.op(0x32); dag.op(0x86) }
        dag.op(0x2E)
        try expectRefused(checkpointZip(pickle: dag.bytes), "more than 2000000 values")
    }

    @Test func memoAndStackLimitsAreEnforced() throws {
        var limits = RestrictedUnpickler.Limits()
        limits.memoEntries = 10
        limits.stackValues = 10
        let manyPuts: [UInt8] = [0x80, 2, 0x4E] + (0..<11).flatMap { [0x71, UInt8($0)] } + [0x2E]
        let manyPushes: [UInt8] = [0x80, 2] + Array(repeating: 0x4E, count: 11) + [0x2E]
        for (pickle, expected) in [(manyPuts, "memo exceeds 10"), (manyPushes, "stack exceeds 10")] {
            #expect {
                try pickle.withUnsafeBytes { try RestrictedUnpickler.withValue(of: $0, limits: limits) { _ in () } }
            } throws: { "\($0)".contains(expected) }
        }
    }

    @Test func ambiguousDottedNamesAreRefused() throws {
        var pickle = PickleBytes()
        pickle.op(0x7D)
        pickle.string("a.b"); pickle.tensor(storage: "0", numel: 6, size: [6], stride: [1]); pickle.op(0x73)
        pickle.string("a"); pickle.op(0x7D); pickle.string("b"); pickle.tensor(storage: "0", numel: 6, size: [6], stride: [1])
        pickle.op(0x73); pickle.op(0x73); pickle.op(0x2E)
        try expectRefused(checkpointZip(pickle: pickle.bytes, storages: sixFloats), "'a.b'", "two tensors have this dotted name")
    }

    @Test func brokenZipStructures() throws {
        let good = checkpointZip(pickle: tensorPickle(), storages: sixFloats)
        #expect(try openError(good) == nil)
        let end = good.count - 22
        func patched(_ offset: Int, _ bytes: [UInt8]) -> [UInt8] {
            var copy = good
            copy.replaceSubrange(offset ..< offset + bytes.count, with: bytes)
            return copy
        }
        try expectRefused(Array(good.dropLast(5)), "no end-of-central-directory")
        try expectRefused(patched(end + 16, littleEndian(UInt32(good.count + 10))), "central directory", "outside the file")
        try expectRefused(patched(end + 10, littleEndian(UInt16(500))), "cannot fit")
        try expectRefused(patched(end + 4, littleEndian(UInt16(1))), "multi-disk")
        let directoryStart = Int(good[end + 16]) | Int(good[end + 17]) << 8 | Int(good[end + 18]) << 16
        try expectRefused(patched(directoryStart, [0, 0, 0, 0]), "central directory entry 0")
        try expectRefused(patched(directoryStart + 42, littleEndian(UInt32(3))), "local header at byte 3 is missing")
        try expectRefused(patched(directoryStart + 20, littleEndian(UInt32(1 << 30)) + littleEndian(UInt32(1 << 30))), "run past the end")
        try expectRefused(patched(directoryStart + 10, littleEndian(UInt16(8))), "compressed (method 8)")
        try expectRefused(patched(directoryStart + 8, littleEndian(UInt16(1))), "encrypted")
        try expectRefused(patched(end + 10, littleEndian(UInt16(0xFFFF))), "ZIP64 fields without a ZIP64 locator")
        try expectRefused(storedZip([("archive/data.pkl", tensorPickle()), ("archive/data.pkl", [])]), "duplicate entry")
        try expectRefused(storedZip([("archive/other", [1])]), "no archive/data.pkl")
        try expectRefused(storedZip([("data.pkl", tensorPickle())]), "without a top folder")
        try expectRefused(storedZip([("a/data.pkl", tensorPickle()), ("a/byteorder", Array("big".utf8))]), "byte order 'big'")
        try expectRefused(Array(repeating: 0, count: 10), "too short")
    }

    @Test func truncatedCheckpointFilesAtEveryOffset() throws {
        let bytes = try [UInt8](Data(contentsOf: FixtureFiles.url("pt_lightning.ckpt")))
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            #expect(try openError(Array(bytes[..<cut])) != nil, "cut at \(cut)")
        }
    }
}
