import Foundation
import ZFlowTensor

/// A safetensors file, mapped read-only. Matches the Hugging Face `safetensors`
/// format: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
/// then the data section the offsets point into.
///
/// The header is validated in full when the file is opened; tensor bytes are
/// read only when `tensor(_:)` asks. Aligned little-endian F32 tensors borrow
/// the mapping without a copy; other types are converted to Float32.
/// Unlike the reference, gaps between tensors' byte ranges are accepted
/// (overlaps and ranges outside the data section are not).
public final class SafeTensorsFile: TensorSource {
    /// The largest header accepted, as in the reference implementation.
    public static let maxHeaderBytes = 100_000_000

    public let origin: String
    public let keys: [String]
    /// The free-form `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    private let file: MappedFile
    private let entries: [String: StoredTensor]

    public convenience init(contentsOf url: URL) throws {
        try self.init(file: MappedFile(path: url.path))
    }

    /// Reads safetensors bytes held in memory (e.g. from `encodeSafeTensors`); `origin` names them in errors.
    public convenience init(bytes: [UInt8], origin: String) throws {
        try self.init(file: MappedFile(copying: bytes, origin: origin))
    }

    init(file: MappedFile) throws {
        self.file = file
        origin = file.path
        let header = try SafeTensorsHeader(file: file)
        metadata = header.metadata
        entries = header.entries
        keys = header.entries.keys.sorted()
    }

    public func shape(of key: String) -> [Int]? { entries[key]?.shape }

    /// The stored element type of `key` ("F32", "F16", "BF16", ...), or nil when there is no such key.
    public func storedType(of key: String) -> String? { entries[key]?.type.rawValue }

    public func tensor(_ key: String) throws -> Tensor {
        guard let entry = entries[key] else {
            throw TensorFileError(file: origin, key: key, "no such tensor (the file has \(keys.count) tensors)")
        }
        return entry.materialize(from: file)
    }

    public func tensorOnDemand(_ key: String) throws -> Tensor {
        guard let entry = entries[key] else { return try tensor(key) }
        return try entry.materializeOnDemand(from: file)
    }
}

/// The parsed and validated header of a safetensors file.
private struct SafeTensorsHeader {
    var metadata: [String: String] = [:]
    var entries: [String: StoredTensor] = [:]

    init(file: MappedFile) throws {
        let path = file.path
        func fail(_ key: String?, _ reason: String) -> TensorFileError { TensorFileError(file: path, key: key, reason) }

        guard file.count >= 8 else { throw fail(nil, "not a safetensors file: \(file.count) bytes, shorter than the 8-byte header length") }
        let declared = file.bytes(0..<8).loadUnaligned(as: UInt64.self).littleEndian
        guard declared <= UInt64(SafeTensorsFile.maxHeaderBytes) else {
            throw fail(nil, "header length \(declared) exceeds the limit of \(SafeTensorsFile.maxHeaderBytes) bytes")
        }
        let headerLength = Int(declared)
        guard headerLength <= file.count - 8 else {
            throw fail(nil, "header length \(headerLength) goes beyond the end of the file (\(file.count) bytes)")
        }
        let headerBytes = file.bytes(8 ..< 8 + headerLength)
        guard headerBytes.first == UInt8(ascii: "{") else { throw fail(nil, "header does not start with '{' (not a safetensors file?)") }
        let json: JSONValue
        do { json = try JSONReader.parse(headerBytes) } catch { throw fail(nil, "header: \(error)") }
        guard case let .object(members) = json else { throw fail(nil, "header is not a JSON object") }

        let dataStart = 8 + headerLength
        let dataLength = file.count - dataStart
        var ranges: [(range: Range<Int>, key: String)] = []
        for (key, value) in members {
            if key == "__metadata__" {
                guard case let .object(pairs) = value else { throw fail(nil, "__metadata__ is not an object") }
                for (name, item) in pairs {
                    guard case let .string(text) = item else { throw fail(nil, "__metadata__ entry '\(name)' is not a string") }
                    metadata[name] = text
                }
                continue
            }
            guard case let .object(fields) = value else { throw fail(key, "header entry is not an object") }
            let field = Dictionary(fields.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            guard case let .string(dtypeName)? = field["dtype"] else { throw fail(key, "missing or non-string dtype") }
            guard let type = StoredElementType(rawValue: dtypeName) else {
                let known = StoredElementType.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail(key, "unsupported dtype \(dtypeName) (supported: \(known))")
            }
            guard case let .array(dimensions)? = field["shape"] else { throw fail(key, "missing or non-array shape") }
            let shape = dimensions.compactMap(\.nonNegativeInteger)
            guard shape.count == dimensions.count else { throw fail(key, "shape entries must be non-negative integers") }
            guard case let .array(offsets)? = field["data_offsets"], offsets.count == 2,
                  let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger else {
                throw fail(key, "data_offsets must be two non-negative integers")
            }
            guard begin <= end, end <= dataLength else {
                throw fail(key, "data_offsets [\(begin), \(end)] outside the data section of \(dataLength) bytes")
            }
            var elements = 1
            for size in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: size)
                guard !overflow else { throw fail(key, "shape \(shape) has too many elements") }
                elements = product
            }
            let (byteCount, overflow) = elements.multipliedReportingOverflow(by: type.byteSize)
            guard !overflow, byteCount == end - begin else {
                throw fail(key, "shape \(shape) of \(dtypeName) needs \(overflow ? "too many" : String(byteCount)) bytes but data_offsets give \(end - begin)")
            }
            entries[key] = StoredTensor(type: type, shape: shape, storageStart: dataStart + begin, storageCount: elements,
                                        offset: 0, strides: StoredTensor.contiguousStrides(shape))
            ranges.append((begin..<end, key))
        }
        // Empty ranges overlap nothing; among the others, sorted by start, any overlap shows between neighbours.
        ranges = ranges.filter { !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.range.lowerBound < previous.range.upperBound {
            throw fail(next.key, "byte range \(next.range) overlaps tensor '\(previous.key)' at \(previous.range)")
        }
    }
}
