import Foundation
import ZFlowTensor

/// Writes `tensors` as a PyTorch checkpoint in the zip format `torch.save` writes (the `.ckpt` of
/// Lightning), which `torch.load(path, weights_only=True)` reads and `TorchCheckpoint` reads back
/// bit for bit. The top object is `{"state_dict": OrderedDict(key: tensor, ...)}` with the keys in
/// sorted order, plus `"metadata": {name: value}` (strings) when `metadata` is not empty. Every
/// tensor is a contiguous Float32 tensor on its own storage (`torch.FloatStorage`, on "cpu").
/// Written atomically (readers see the old file or the new one).
public func writeTorchCheckpoint(_ tensors: [String: Tensor], to url: URL, metadata: [String: String] = [:]) throws {
    try TorchCheckpointWriter(tensors: tensors, metadata: metadata).write(to: url)
}

/// The mirror image of `TorchCheckpoint` + `ZipArchive` + `RestrictedUnpickler`: a pickle of
/// protocol 2 that uses only what torch's weights_only unpickler allows (the globals
/// `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage`, and
/// persistent ids `('storage', torch.FloatStorage, key, 'cpu', numel)`), and a zip archive laid out
/// as PyTorchStreamWriter lays it out: `archive/data.pkl`, `archive/byteorder`, one entry
/// `archive/data/<i>` per tensor (the i-th key in sorted order) and `archive/version`, every entry
/// stored uncompressed with its data 64-byte aligned (padding in a local "FB" extra field, as torch
/// pads), with CRC-32s, and ZIP64 records for what does not fit 32 bits.
struct TorchCheckpointWriter {
    static let folder = "archive"
    static let alignment = 64
    /// torch's serialization format version (`archive/version`).
    static let formatVersion = "3\n"

    let tensors: [String: Tensor]
    let metadata: [String: String]
    /// Sizes and offsets above this are written in ZIP64 fields (tests lower it to exercise them).
    var zip64Above = 0xFFFF_FFFE

    private enum Content {
        case bytes([UInt8])
        case tensor(Tensor)
    }

    func write(to url: URL) throws {
        let names = tensors.keys.sorted()
        var entries: [(name: String, content: Content)] = [
            ("\(Self.folder)/data.pkl", .bytes(pickle(names))),
            ("\(Self.folder)/byteorder", .bytes(Array("little".utf8))),
        ]
        for (index, name) in names.enumerated() { entries.append(("\(Self.folder)/data/\(index)", .tensor(tensors[name]!))) }
        entries.append(("\(Self.folder)/version", .bytes(Array(Self.formatVersion.utf8))))

        try AtomicFileWriter.write(to: url) { file in
            var directory = ZipBytes()
            for entry in entries {
                var crc = CRC32()
                let size: Int
                switch entry.content {
                case let .bytes(bytes):
                    bytes.withUnsafeBytes { crc.update($0) }
                    size = bytes.count
                case let .tensor(tensor):
                    withLittleEndianBytes(of: tensor) { crc.update($0) }
                    size = tensor.count * MemoryLayout<Float>.size
                }
                let start = file.offset
                try file.write(localHeader(entry.name, size: size, crc: crc.value, at: start).bytes)
                switch entry.content {
                case let .bytes(bytes): try file.write(bytes)
                case let .tensor(tensor): try file.write(tensor)
                }
                directory.append(centralRecord(entry.name, size: size, crc: crc.value, localHeader: start))
            }
            let directoryStart = file.offset
            try file.write(directory.bytes)
            try file.write(end(entries: entries.count, directoryStart: directoryStart, directorySize: directory.bytes.count).bytes)
        }
    }

    // MARK: Pickle

    /// The top object, protocol 2; storage i holds the tensor of `names[i]`.
    private func pickle(_ names: [String]) -> [UInt8] {
        var pickle = PickleBuilder()
        pickle.op(.emptyDict)
        pickle.op(.mark)
        pickle.string("state_dict")
        pickle.orderedDict()
        pickle.op(.mark)
        for (index, name) in names.enumerated() {
            pickle.string(name)
            pickle.tensor(storage: String(index), shape: tensors[name]!.shape)
        }
        pickle.op(.setItems)
        if !metadata.isEmpty {
            pickle.string("metadata")
            pickle.op(.emptyDict)
            pickle.op(.mark)
            for key in metadata.keys.sorted() {
                pickle.string(key)
                pickle.string(metadata[key]!)
            }
            pickle.op(.setItems)
        }
        pickle.op(.setItems)
        pickle.op(.stop)
        return pickle.bytes
    }

    // MARK: Zip

    private static let saturated16 = 0xFFFF, saturated32 = 0xFFFF_FFFF

    private func localHeader(_ name: String, size: Int, crc: UInt32, at start: Int) -> ZipBytes {
        let wide = size > zip64Above
        let nameBytes = Array(name.utf8)
        var extra = ZipBytes()
        if wide {
            extra.u16(0x0001)  // ZIP64: uncompressed, then compressed size
            extra.u16(16)
            extra.u64(size)
            extra.u64(size)
        }
        let unpadded = start + 30 + nameBytes.count + extra.bytes.count + 4
        let padding = (Self.alignment - unpadded % Self.alignment) % Self.alignment
        extra.u16(0x4246)  // "FB", torch's padding field
        extra.u16(padding)
        extra.bytes += [UInt8](repeating: 0x5A, count: padding)

        var header = ZipBytes()
        header.u32(0x0403_4B50)
        header.u16(wide ? 45 : 20)  // version needed: 4.5 for ZIP64
        header.u16(0)  // flags
        header.u16(0)  // stored
        header.u16(0)  // time
        header.u16(0)  // date
        header.u32(Int(crc))
        header.u32(wide ? Self.saturated32 : size)
        header.u32(wide ? Self.saturated32 : size)
        header.u16(nameBytes.count)
        header.u16(extra.bytes.count)
        header.bytes += nameBytes + extra.bytes
        return header
    }

    private func centralRecord(_ name: String, size: Int, crc: UInt32, localHeader: Int) -> ZipBytes {
        let wideSize = size > zip64Above, wideOffset = localHeader > zip64Above
        let nameBytes = Array(name.utf8)
        var extra = ZipBytes()
        if wideSize || wideOffset {
            extra.u16(0x0001)  // ZIP64: the saturated fields' values, in this order
            extra.u16((wideSize ? 16 : 0) + (wideOffset ? 8 : 0))
            if wideSize {
                extra.u64(size)
                extra.u64(size)
            }
            if wideOffset { extra.u64(localHeader) }
        }
        var record = ZipBytes()
        record.u32(0x0201_4B50)
        record.u16(extra.bytes.isEmpty ? 20 : 45)  // version made by
        record.u16(extra.bytes.isEmpty ? 20 : 45)  // version needed
        record.u16(0)
        record.u16(0)
        record.u16(0)
        record.u16(0)
        record.u32(Int(crc))
        record.u32(wideSize ? Self.saturated32 : size)
        record.u32(wideSize ? Self.saturated32 : size)
        record.u16(nameBytes.count)
        record.u16(extra.bytes.count)
        record.u16(0)  // comment
        record.u16(0)  // disk
        record.u16(0)  // internal attributes
        record.u32(0)  // external attributes
        record.u32(wideOffset ? Self.saturated32 : localHeader)
        record.bytes += nameBytes + extra.bytes
        return record
    }

    /// The end-of-central-directory record, preceded by the ZIP64 record and its locator when a
    /// count, size or offset does not fit it.
    private func end(entries: Int, directoryStart: Int, directorySize: Int) -> ZipBytes {
        let wideCount = entries >= Self.saturated16, wideSize = directorySize > zip64Above
        let wideStart = directoryStart > zip64Above
        var end = ZipBytes()
        if wideCount || wideSize || wideStart {
            let recordStart = directoryStart + directorySize
            end.u32(0x0606_4B50)
            end.u64(44)  // the record's size after this field
            end.u16(45)
            end.u16(45)
            end.u32(0)
            end.u32(0)
            end.u64(entries)
            end.u64(entries)
            end.u64(directorySize)
            end.u64(directoryStart)
            end.u32(0x0706_4B50)  // locator
            end.u32(0)
            end.u64(recordStart)
            end.u32(1)
        }
        end.u32(0x0605_4B50)
        end.u16(0)
        end.u16(0)
        end.u16(wideCount ? Self.saturated16 : entries)
        end.u16(wideCount ? Self.saturated16 : entries)
        end.u32(wideSize ? Self.saturated32 : directorySize)
        end.u32(wideStart ? Self.saturated32 : directoryStart)
        end.u16(0)  // comment
        return end
    }
}

/// Little-endian fields of zip records.
private struct ZipBytes {
    var bytes: [UInt8] = []
    mutating func u16(_ value: Int) { append(UInt16(truncatingIfNeeded: value)) }
    mutating func u32(_ value: Int) { append(UInt32(truncatingIfNeeded: value)) }
    mutating func u64(_ value: Int) { append(UInt64(value)) }
    mutating func append(_ other: ZipBytes) { bytes += other.bytes }
    private mutating func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
}

/// The pickle opcodes of protocol 2 a checkpoint needs.
private struct PickleBuilder {
    enum Opcode: UInt8 {
        case mark = 0x28, stop = 0x2E, emptyTuple = 0x29, emptyDict = 0x7D, setItems = 0x75, reduce = 0x52
        case binPersId = 0x51, newFalse = 0x89, tuple = 0x74, tuple1 = 0x85, tuple2 = 0x86, tuple3 = 0x87
        case binInt1 = 0x4B, binInt2 = 0x4D, binInt = 0x4A, long1 = 0x8A, binUnicode = 0x58, global = 0x63
    }

    private(set) var bytes: [UInt8] = [0x80, 2]  // PROTO 2

    mutating func op(_ opcode: Opcode) { bytes.append(opcode.rawValue) }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        op(.binUnicode)
        withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes += $0 }
        bytes += utf8
    }

    mutating func int(_ value: Int) {
        switch value {
        case 0...0xFF:
            op(.binInt1)
            bytes.append(UInt8(value))
        case 0...0xFFFF:
            op(.binInt2)
            withUnsafeBytes(of: UInt16(value).littleEndian) { bytes += $0 }
        case Int(Int32.min)...Int(Int32.max):
            op(.binInt)
            withUnsafeBytes(of: Int32(value).littleEndian) { bytes += $0 }
        default:  // LONG1: two's complement, little-endian, 8 bytes are enough for an Int
            op(.long1)
            bytes.append(8)
            withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 }
        }
    }

    mutating func global(_ module: String, _ name: String) {
        op(.global)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    mutating func intTuple(_ values: [Int]) {
        switch values.count {
        case 0: op(.emptyTuple)
        case 1...3:
            values.forEach { int($0) }
            op([.tuple1, .tuple2, .tuple3][values.count - 1])
        default:
            op(.mark)
            values.forEach { int($0) }
            op(.tuple)
        }
    }

    /// `collections.OrderedDict()`.
    mutating func orderedDict() {
        global("collections", "OrderedDict")
        op(.emptyTuple)
        op(.reduce)
    }

    /// `torch._utils._rebuild_tensor_v2(storage, 0, shape, contiguous strides, False, OrderedDict())`
    /// over the whole Float32 storage `key`.
    mutating func tensor(storage key: String, shape: [Int]) {
        let count = Tensor.elementCount(shape)
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.dropLast().reversed() { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        global("torch._utils", "_rebuild_tensor_v2")
        op(.mark)
        op(.mark)
        string("storage")
        global("torch", "FloatStorage")
        string(key)
        string("cpu")
        int(count)
        op(.tuple)
        op(.binPersId)
        int(0)
        intTuple(shape)
        intTuple(strides)
        op(.newFalse)
        orderedDict()
        op(.tuple)
        op(.reduce)
    }
}
