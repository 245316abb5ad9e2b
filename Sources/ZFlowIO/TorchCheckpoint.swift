import Foundation
import ZFlowTensor

/// A PyTorch checkpoint in the zip format `torch.save` writes (`.ckpt`,
/// `.pt`, `.pth`), read without executing its pickle (see
/// `RestrictedUnpickler`). Matches what `torch.load(weights_only=True)`
/// reconstructs for tensors: storages `<archive>/data/<key>`, views with an
/// offset, shape and stride.
///
/// Tensor keys are the dotted paths below the root: by default the
/// `state_dict` entry when the top object is a dict holding one (Lightning
/// checkpoints), else the top object. Lists contribute their indices.
/// Values are read only when `tensor(_:)` asks: contiguous aligned f32 is
/// borrowed from the mapping, other types and strided views are converted.
public final class TorchCheckpoint: TensorSource {
    /// The largest tensor a stride-0 (expanded) view may materialize to, when larger than the file's byte size.
    public static let maxExpandedElements = 1 << 28

    public let origin: String
    public let keys: [String]
    /// The path of the root below the top object ([] for the top object itself).
    public let root: [String]
    /// The whole decoded top object, tensors included as descriptions.
    public let contents: CheckpointValue
    private let file: MappedFile
    private let tensors: [String: StoredTensor]

    /// - Parameter root: a path of dict keys; nil picks `["state_dict"]` when the top object holds it, else `[]`.
    public convenience init(contentsOf url: URL, root: [String]? = nil) throws {
        try self.init(file: MappedFile(path: url.path), root: root)
    }

    init(file: MappedFile, root requestedRoot: [String]?) throws {
        let path = file.path
        func fail(_ key: String?, _ reason: String) -> TensorFileError { TensorFileError(file: path, key: key, reason) }
        let archive: ZipArchive
        do {
            archive = try ZipArchive(file: file)
        } catch let error as TensorFileError {
            if file.count > 0, file.bytes(0..<1)[0] == 0x80 {
                throw fail(nil, "unsupported legacy (non-zip, pre-1.6) PyTorch format; re-save it with torch.save in PyTorch >= 1.6")
            }
            throw error
        }
        guard let first = archive.entries.first, let slash = first.name.firstIndex(of: "/") else {
            throw fail(nil, "zip archive without a top folder: not a torch.save checkpoint")
        }
        let prefix = String(first.name[..<slash])
        if let order = archive.entry(named: "\(prefix)/byteorder") {
            let text = String(decoding: file.bytes(order.data), as: UTF8.self)
            guard text == "little" else { throw fail(nil, "byte order '\(text)' is not supported (only little-endian)") }
        }
        guard let pickle = archive.entry(named: "\(prefix)/data.pkl") else {
            throw fail(nil, "no \(prefix)/data.pkl entry: not a torch.save checkpoint")
        }
        let contents: CheckpointValue
        do {
            contents = try RestrictedUnpickler.withValue(of: file.bytes(pickle.data)) { try CheckpointValue.converting($0) }
        } catch let error as PickleError {
            throw fail(nil, "\(prefix)/data.pkl: \(error)")
        }

        let root = requestedRoot ?? TorchCheckpoint.defaultRoot(of: contents)
        var rootValue = contents
        for (depth, key) in root.enumerated() {
            guard let next = rootValue[key] else {
                let parent = depth == 0 ? "the top" : root[..<depth].joined(separator: ".")
                throw fail(nil, "root \(root.joined(separator: ".")): no entry '\(key)' at \(parent)")
            }
            rootValue = next
        }
        var found: [String: CheckpointTensor] = [:]
        try TorchCheckpoint.collectTensors(in: rootValue, path: "", into: &found, file: path)

        var tensors: [String: StoredTensor] = [:]
        for key in found.keys.sorted() {  // sorted: the first bad tensor reported is always the same
            tensors[key] = try TorchCheckpoint.locate(found[key]!.record, key: key, in: archive, prefix: prefix, file: file)
        }
        self.file = file
        origin = path
        self.root = root
        self.contents = contents
        self.tensors = tensors
        keys = tensors.keys.sorted()
    }

    public func shape(of key: String) -> [Int]? { tensors[key]?.shape }

    /// The stored element type of `key` ("F32", "F16", "BF16", ...), or nil when there is no such key.
    public func storedType(of key: String) -> String? { tensors[key]?.type.rawValue }

    public func tensor(_ key: String) throws -> Tensor {
        guard let stored = tensors[key] else {
            throw TensorFileError(file: origin, key: key, "no such tensor (\(keys.count) tensors under root '\(root.joined(separator: "."))')")
        }
        return stored.materialize(from: file)
    }

    public func tensorOnDemand(_ key: String) throws -> Tensor {
        guard let stored = tensors[key] else { return try tensor(key) }
        return try stored.materializeOnDemand(from: file)
    }

    /// Checks that `record` fits its storage entry and says where its elements lie.
    private static func locate(_ record: PickleTensor, key: String, in archive: ZipArchive, prefix: String, file: MappedFile) throws -> StoredTensor {
        func fail(_ reason: String) -> TensorFileError { TensorFileError(file: file.path, key: key, reason) }
        let storageName = "\(prefix)/data/\(record.storage.key)"
        guard let entry = archive.entry(named: storageName) else { throw fail("storage entry \(storageName) does not exist") }
        let storageBytes = record.storage.count.multipliedReportingOverflow(by: record.storage.type?.byteSize ?? 1)
        guard !storageBytes.overflow, storageBytes.partialValue <= entry.data.count else {
            throw fail("storage \(storageName) of \(record.storage.count) \(record.storage.typeName) elements needs more than its \(entry.data.count) bytes")
        }
        let elements = storageBytes.partialValue / record.type.byteSize
        if let problem = StoredTensor.boundsProblem(shape: record.shape, strides: record.strides, offset: record.offset, storageCount: elements) {
            throw fail(problem)
        }
        // A view reads each stored byte at most once unless it repeats elements with stride 0
        // (an expanded tensor); materializing one must not turn a small file into a huge allocation.
        let count = Tensor.elementCount(record.shape)
        guard count <= max(file.count, maxExpandedElements) else {
            throw fail("a view of \(count) elements (shape \(record.shape), stride \(record.strides)) repeats stored values "
                + "beyond the limit of \(maxExpandedElements) elements")
        }
        return StoredTensor(type: record.type, shape: record.shape, storageStart: entry.data.lowerBound,
                            storageCount: elements, offset: record.offset, strides: record.strides)
    }

    /// `["state_dict"]` when the top object is a dict holding a dict under that key (Lightning), else the top.
    private static func defaultRoot(of contents: CheckpointValue) -> [String] {
        if case .dict? = contents["state_dict"] { return ["state_dict"] }
        return []
    }

    private static func collectTensors(in value: CheckpointValue, path: String, into found: inout [String: CheckpointTensor], file: String) throws {
        func child(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
        switch value {
        case let .tensor(tensor):
            guard found.updateValue(tensor, forKey: path) == nil else {
                throw TensorFileError(file: file, key: path, "two tensors have this dotted name")
            }
        case let .dict(entries):
            for entry in entries { try collectTensors(in: entry.value, path: child(entry.key), into: &found, file: file) }
        case let .list(items):
            for (index, item) in items.enumerated() { try collectTensors(in: item, path: child(String(index)), into: &found, file: file) }
        default:
            break
        }
    }
}
