import Foundation
import ZFlowTensor

/// A checkpoint split into shards by `save_pretrained(max_shard_size:)` (diffusers,
/// transformers), seen as one source through its index file:
/// `diffusion_pytorch_model.safetensors.index.json`, `model.safetensors.index.json`,
/// `pytorch_model.bin.index.json` or a variant (`....safetensors.index.fp16.json`), holding
/// `{"metadata": {...}, "weight_map": {"tensor key": "shard file name", ...}}`.
///
/// Opening reads the index strictly (RFC 8259, at most `maxIndexBytes`), then maps every shard
/// it names with `openTensorSource` (by content: safetensors or a torch.save zip) and checks the
/// map against the shards; tensor bytes are read only when `tensor(_:)` asks, as for one file.
///
/// Refused, naming the index (and the shard and key when there is one): not JSON or not an
/// object; no `weight_map` object, or an empty one; a shard name that is not a string or not a
/// plain file name of the index's folder (empty, `.`, `..`, containing `/`, `\` or NUL); a
/// missing shard file; a `metadata` that is not an object; a key listed for a shard that does
/// not hold it; one key in two shards. A shard's own problems are its `TensorFileError`.
///
/// Accepted as diffusers and transformers do: a tensor a shard holds but the map does not list
/// is a key of the source (both libraries load every tensor of every listed shard; the map only
/// says which shards to open); files in the folder that the map does not name are not opened.
public final class ShardedTensorSource: TensorSource {
    /// The largest index file read (the UNet of SD v1 needs ~100 KB; 64 MiB is far beyond any real one).
    public static let maxIndexBytes = 64 << 20

    /// The index file's path.
    public let origin: String
    public let keys: [String]
    /// The shard file names the index lists, sorted.
    public let shardNames: [String]
    private let shards: [TensorSource]
    /// Key -> position in `shards` / `shardNames`.
    private let shardOfKey: [String: Int]

    public init(indexAt url: URL) throws {
        let path = url.path
        let index = try ShardIndex(file: MappedFile(path: path))
        let folder = url.deletingLastPathComponent()
        let names = Set(index.weightMap.values).sorted()
        // `openTensorSource` opens a `.json` file as an index: a shard may not be one, so that an
        // index cannot name itself (or a cycle of indexes) and recurse without end.
        if let nested = names.first(where: { $0.lowercased().hasSuffix(".json") }) {
            throw TensorFileError(file: path, "shard '\(nested)' is a .json file: shards must be weight files, not indexes")
        }
        for name in names where !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            let listed = index.weightMap.filter { $0.value == name }.keys.sorted()
            throw TensorFileError(file: path, "shard '\(name)' (listed for \(listed.count) tensor(s), e.g. '\(listed[0])') "
                + "is missing: no such file in \(folder.path)")
        }
        let shards = try names.map { try openTensorSource(folder.appendingPathComponent($0)) }
        let positionOfName = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, $0.offset) })

        var shardOfKey: [String: Int] = [:]
        for (position, shard) in shards.enumerated() {
            for key in shard.keys {
                if let other = shardOfKey.updateValue(position, forKey: key) {
                    throw TensorFileError(file: path, key: key, "in two shards, '\(names[other])' and '\(names[position])'")
                }
            }
        }
        let absent = index.weightMap.filter { key, name in shardOfKey[key] != positionOfName[name] }
        if let key = absent.keys.min(), let name = absent[key] {
            let elsewhere = shardOfKey[key].map { " (it is in '\(names[$0])')" } ?? " and from every other shard"
            let more = absent.count > 1 ? " (\(absent.count - 1) more listed tensor(s) are absent from their shards)" : ""
            throw TensorFileError(file: path, key: key, "listed in shard '\(name)' but absent from it\(elsewhere)\(more)")
        }
        origin = path
        shardNames = names
        self.shards = shards
        self.shardOfKey = shardOfKey
        keys = shardOfKey.keys.sorted()
    }

    /// The file name of the shard holding `key`, or nil when there is no such key.
    public func shard(of key: String) -> String? { shardOfKey[key].map { shardNames[$0] } }

    public func shape(of key: String) -> [Int]? { shardOfKey[key].flatMap { shards[$0].shape(of: key) } }

    /// The stored element type of `key` ("F32", "F16", ...), as its shard reports it.
    public func storedType(of key: String) -> String? {
        guard let position = shardOfKey[key] else { return nil }
        switch shards[position] {
        case let file as SafeTensorsFile: return file.storedType(of: key)
        case let checkpoint as TorchCheckpoint: return checkpoint.storedType(of: key)
        default: return nil
        }
    }

    /// The tensor from its shard; errors name the shard file (and the key).
    public func tensor(_ key: String) throws -> Tensor {
        guard let position = shardOfKey[key] else {
            throw TensorFileError(file: origin, key: key, "no such tensor (the \(shards.count) shard(s) hold \(keys.count) tensors)")
        }
        return try shards[position].tensor(key)
    }

    public func tensorOnDemand(_ key: String) throws -> Tensor {
        guard let position = shardOfKey[key] else { return try tensor(key) }
        return try shards[position].tensorOnDemand(key)
    }
}

/// The parsed and validated JSON of a shard index: only `weight_map` is used.
private struct ShardIndex {
    /// Tensor key -> shard file name (a plain file name).
    var weightMap: [String: String] = [:]

    init(file: MappedFile) throws {
        let path = file.path
        func fail(_ key: String?, _ reason: String) -> TensorFileError { TensorFileError(file: path, key: key, reason) }

        guard file.count <= ShardedTensorSource.maxIndexBytes else {
            throw fail(nil, "index of \(file.count) bytes exceeds the limit of \(ShardedTensorSource.maxIndexBytes) bytes (64 MiB)")
        }
        let json: JSONValue
        do { json = try JSONReader.parse(file.bytes(0 ..< file.count)) } catch { throw fail(nil, "shard index: \(error)") }
        guard case let .object(members) = json else { throw fail(nil, "not a shard index: the JSON is not an object") }
        let member = Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        switch member["metadata"] {
        case nil, .object?: break
        default: throw fail(nil, "\"metadata\" is not an object")
        }
        guard let map = member["weight_map"] else { throw fail(nil, "not a shard index: no \"weight_map\"") }
        guard case let .object(entries) = map else { throw fail(nil, "\"weight_map\" is not an object") }
        guard !entries.isEmpty else { throw fail(nil, "\"weight_map\" lists no tensors") }
        for (key, value) in entries {
            guard case let .string(name) = value else { throw fail(key, "weight_map value is not a string (a shard file name)") }
            if let problem = ShardIndex.fileNameProblem(name) {
                throw fail(key, "shard name '\(name)' \(problem): only plain file names in the index's folder are allowed")
            }
            weightMap[key] = name
        }
    }

    /// Why `name` is not a plain file name, or nil.
    private static func fileNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name == "." || name == ".." { return "is a folder reference" }
        if name.contains("/") || name.contains("\\") { return "contains a path separator" }
        if name.utf8.contains(0) { return "contains a NUL byte" }
        return nil
    }
}
