import Foundation
import ZFlowTensor

/// The bytes of a safetensors header for `tensors` (length prefix included) and
/// the tensor names in data order: shared by the file writer and `encodeSafeTensors`.
private func safeTensorsHeader(_ tensors: [String: Tensor], metadata: [String: String], path: String) throws
    -> (bytes: [UInt8], names: [String]) {
    guard !tensors.keys.contains("__metadata__") else {
        throw TensorFileError(file: path, key: "__metadata__", "this name is reserved for the metadata map")
    }
    let names = tensors.keys.sorted()
    var header: [String] = []
    if !metadata.isEmpty {
        let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
        header.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
    }
    var offset = 0
    for name in names {
        let tensor = tensors[name]!
        let end = offset + tensor.count * MemoryLayout<Float>.size
        let shape = tensor.shape.map(String.init).joined(separator: ",")
        header.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
        offset = end
    }
    var headerBytes = Array("{\(header.joined(separator: ","))}".utf8)
    headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)

    var length = UInt64(headerBytes.count).littleEndian
    return (withUnsafeBytes(of: &length) { Array($0) } + headerBytes, names)
}

/// The safetensors file `writeSafeTensors` would write, as bytes in memory.
public func encodeSafeTensors(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> [UInt8] {
    let (header, names) = try safeTensorsHeader(tensors, metadata: metadata, path: "<memory>")
    var bytes = header
    bytes.reserveCapacity(header.count + names.reduce(0) { $0 + tensors[$1]!.count * MemoryLayout<Float>.size })
    for name in names {
        bytes += littleEndianBytes(tensors[name]!)
    }
    return bytes
}

/// The tensor's values as little-endian f32 bytes.
private func littleEndianBytes(_ tensor: Tensor) -> [UInt8] {
    withLittleEndianBytes(of: tensor) { Array($0) }
}

/// Runs `body` on the tensor's values as little-endian f32 bytes (its own memory on a
/// little-endian machine, a converted copy elsewhere).
func withLittleEndianBytes<Result>(of tensor: Tensor, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
    if 1.littleEndian == 1 { return try body(UnsafeRawBufferPointer(tensor.buffer)) }
    return try tensor.scalars.map { $0.bitPattern.littleEndian }.withUnsafeBytes(body)
}

/// Writes `tensors` as an F32 safetensors file the reference library reads:
/// tensors in key order, `__metadata__` first, the header padded with spaces
/// to a multiple of 8 bytes so every tensor's data is 4-byte aligned.
/// The file is written to a temporary name in the same folder, then renamed
/// over `url`, so readers never see a half-written file.
public func writeSafeTensors(_ tensors: [String: Tensor], to url: URL, metadata: [String: String] = [:]) throws {
    let (header, names) = try safeTensorsHeader(tensors, metadata: metadata, path: url.path)
    try AtomicFileWriter.write(to: url) { file in
        try file.write(header)
        for name in names { try file.write(tensors[name]!) }
    }
}

/// `text` as a JSON string literal.
private func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}
