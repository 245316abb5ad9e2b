import Foundation

/// Builds pickles opcode by opcode and stores them in torch.save-shaped zips,
/// for tests that need files no honest writer produces.
struct PickleBytes {
    var bytes: [UInt8] = [0x80, 2]

    @discardableResult mutating func op(_ opcode: UInt8, _ argument: [UInt8] = []) -> Self {
        bytes += [opcode] + argument
        return self
    }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        op(0x58, littleEndian(UInt32(utf8.count)) + utf8)
    }

    mutating func global(_ module: String, _ name: String) { op(0x63, Array("\(module)\n\(name)\n".utf8)) }
    mutating func int(_ value: Int) { op(0x4A, littleEndian(Int32(value))) }
    mutating func mark() { op(0x28) }

    mutating func intTuple(_ values: [Int]) {
        mark()
        for value in values { int(value) }
        op(0x74)
    }

    /// `torch._utils._rebuild_tensor_v2(storage(key, type, numel), offset, size, stride, False, {})`.
    mutating func tensor(storage key: String, type: String = "FloatStorage", numel: Int, offset: Int = 0, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark()
        string("storage")
        global("torch", type)
        string(key)
        string("cpu")
        int(numel)
        op(0x74) // TUPLE
        op(0x51) // BINPERSID
        int(offset)
        intTuple(size)
        intTuple(stride)
        op(0x89) // NEWFALSE
        op(0x7D) // EMPTY_DICT
        op(0x74) // TUPLE
        op(0x52) // REDUCE
    }

    /// `{name: tensor, ...}` then STOP.
    static func dict(_ entries: [(String, (inout PickleBytes) -> Void)]) -> [UInt8] {
        var pickle = PickleBytes()
        pickle.op(0x7D)
        for (name, value) in entries {
            pickle.string(name)
            value(&pickle)
            pickle.op(0x73) // SETITEM
        }
        pickle.op(0x2E)
        return pickle.bytes
    }
}

func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// A stored (uncompressed) zip of `entries` in order, as PyTorchStreamWriter lays it out.
func storedZip(_ entries: [(name: String, data: [UInt8])]) -> [UInt8] {
    var file: [UInt8] = [], directory: [UInt8] = []
    for (name, data) in entries {
        let offset = file.count
        let encoded = Array(name.utf8)
        file += littleEndian(UInt32(0x0403_4B50)) + littleEndian(UInt16(20)) + [0, 0, 0, 0, 0, 0, 0, 0]
        file += littleEndian(UInt32(0)) + littleEndian(UInt32(data.count)) + littleEndian(UInt32(data.count))
        file += littleEndian(UInt16(encoded.count)) + littleEndian(UInt16(0)) + encoded + data
        directory += littleEndian(UInt32(0x0201_4B50)) + littleEndian(UInt16(20)) + littleEndian(UInt16(20))
        directory += [0, 0, 0, 0, 0, 0, 0, 0] + littleEndian(UInt32(0))
        directory += littleEndian(UInt32(data.count)) + littleEndian(UInt32(data.count))
        directory += littleEndian(UInt16(encoded.count)) + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        directory += littleEndian(UInt32(offset)) + encoded
    }
    let directoryStart = file.count
    file += directory
    file += littleEndian(UInt32(0x0605_4B50)) + [0, 0, 0, 0]
    file += littleEndian(UInt16(entries.count)) + littleEndian(UInt16(entries.count))
    file += littleEndian(UInt32(directory.count)) + littleEndian(UInt32(directoryStart)) + [0, 0]
    return file
}

/// A checkpoint zip with `pickle` as archive/data.pkl and float storages.
func checkpointZip(pickle: [UInt8], storages: [String: [Float]] = [:]) -> [UInt8] {
    var entries: [(name: String, data: [UInt8])] = [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))]
    for key in storages.keys.sorted() {
        entries.append(("archive/data/\(key)", storages[key]!.flatMap { littleEndian($0.bitPattern) }))
    }
    return storedZip(entries)
}

/// Writes `bytes` to a fresh scratch file; the caller removes its folder.
func scratchFile(_ bytes: [UInt8], name: String = "file.ckpt") throws -> URL {
    let url = try FixtureFiles.scratchFolder().appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}
