import Foundation
import Testing
import ZFlowIO
import ZFlowTensor
import ZFlowTestSupport

/// `ShardedTensorSource`: an index and its shards read as one source; hostile indexes written
/// here into scratch folders, each refused with a `TensorFileError` naming the index and the problem.
@Suite struct ShardedTensorSourceTests {
    static let indexName = "model.safetensors.index.json"

    /// A scratch folder with two safetensors shards: `a` (`a.w`, `a.b`) and `b` (`b.w`).
    private func shardedFolder() throws -> (folder: URL, tensors: [String: Tensor]) {
        let folder = try FixtureFiles.scratchFolder()
        let tensors = ["a.w": Tensor(shape: [2, 3], scalars: [1, -2, 3, -0.0, .infinity, 6]),
                       "a.b": Tensor(shape: [2], scalars: [0.5, 0.25]),
                       "b.w": Tensor(shape: [1, 1, 2], scalars: [7, 8])]
        try writeSafeTensors(["a.w": tensors["a.w"]!, "a.b": tensors["a.b"]!],
                             to: folder.appendingPathComponent("model-00001-of-00002.safetensors"))
        try writeSafeTensors(["b.w": tensors["b.w"]!], to: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        return (folder, tensors)
    }

    /// The honest map of `shardedFolder`.
    private static let goodMap = #"{"a.w": "model-00001-of-00002.safetensors", "a.b": "model-00001-of-00002.safetensors", "b.w": "model-00002-of-00002.safetensors"}"#

    private func write(_ text: String, in folder: URL, name: String = indexName) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Opening `index` must throw a TensorFileError whose message names `file` (default: the index) and every fragment.
    private func expectRefused(_ index: URL, naming file: URL? = nil, mentioning fragments: [String],
                               sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try ShardedTensorSource(indexAt: index)
            Issue.record("accepted a hostile index", sourceLocation: sourceLocation)
        } catch let error as TensorFileError {
            let text = error.description
            #expect(text.contains((file ?? index).path), "\(text)", sourceLocation: sourceLocation)
            for fragment in fragments { #expect(text.contains(fragment), "\(text)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: - accepted

    @Test func theShardsReadAsOneSource() throws {
        let (folder, tensors) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = try write(#"{"metadata": {"total_size": 40}, "weight_map": \#(Self.goodMap)}"#, in: folder)
        let source = try ShardedTensorSource(indexAt: index)
        #expect(source.origin == index.path)
        #expect(source.keys == ["a.b", "a.w", "b.w"])
        #expect(source.shardNames == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        #expect(source.shard(of: "b.w") == "model-00002-of-00002.safetensors" && source.shard(of: "nope") == nil)
        for (key, tensor) in tensors {
            #expect(source.shape(of: key) == tensor.shape)
            #expect(source.storedType(of: key) == "F32")
            #expect(bitwiseEqual(try source.tensor(key), tensor), "\(key)")
        }
        #expect(source.shape(of: "nope") == nil)
        #expect { try source.tensor("nope") } throws: { error in
            let text = "\(error)"
            return text.contains(index.path) && text.contains("'nope'") && text.contains("no such tensor")
        }
    }

    /// As diffusers and transformers (which load every tensor of every listed shard): a tensor the
    /// map does not list is served from its shard; files the map does not name are not opened.
    @Test func openTensorSourceOpensAnIndexAsTheShardedSource() throws {
        let (folder, tensors) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = try write(#"{"weight_map": \#(Self.goodMap)}"#, in: folder)
        let source = try openTensorSource(index)
        #expect(source is ShardedTensorSource && source.origin == index.path)
        #expect(bitwiseEqual(try source.tensor("b.w"), tensors["b.w"]!))
    }

    @Test func anIndexNamingAnIndexIsRefused() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Itself, and another index: either would recurse through openTensorSource.
        let itself = try write(#"{"weight_map": {"a.w": "\#(Self.indexName)"}}"#, in: folder)
        expectRefused(itself, mentioning: ["'\(Self.indexName)'", "not indexes"])
        _ = try write(#"{"weight_map": {"a.w": "\#(Self.indexName)"}}"#, in: folder, name: "other.index.json")
        let chained = try write(#"{"weight_map": {"a.w": "other.index.json"}}"#, in: folder)
        expectRefused(chained, mentioning: ["'other.index.json'", "not indexes"])
    }

    @Test func unlistedTensorsOfAListedShardAreServedAndUnlistedFilesIgnored() throws {
        let (folder, tensors) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("not a tensor file".utf8).write(to: folder.appendingPathComponent("model-00003-of-00003.safetensors"))
        let index = try write(#"{"metadata": {}, "weight_map": {"a.w": "model-00001-of-00002.safetensors", "b.w": "model-00002-of-00002.safetensors"}}"#, in: folder)
        let source = try ShardedTensorSource(indexAt: index)
        #expect(source.keys == ["a.b", "a.w", "b.w"])
        #expect(bitwiseEqual(try source.tensor("a.b"), tensors["a.b"]!))
        #expect(source.shard(of: "a.b") == "model-00001-of-00002.safetensors")
    }

    @Test func metadataIsOptionalAndOtherMembersAreIgnored() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = try write(#"{"weight_map": \#(Self.goodMap), "note": [1, 2]}"#, in: folder)
        #expect(try ShardedTensorSource(indexAt: index).keys.count == 3)
    }

    /// `.bin` shards (torch.save zips) are read by content through the restricted unpickler.
    @Test func pytorchShardsBitwiseEqualTheirFiles() throws {
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var map: [String: String] = [:]
        var direct: [String: Tensor] = [:]
        for (number, fixture) in ["pt_ordered.pth", "pt_nested.pt"].enumerated() {
            let name = "pytorch_model-0000\(number + 1)-of-00002.bin"
            try FileManager.default.copyItem(at: FixtureFiles.url(fixture), to: folder.appendingPathComponent(name))
            let checkpoint = try TorchCheckpoint(contentsOf: FixtureFiles.url(fixture))
            for key in checkpoint.keys {
                map[key] = name
                direct[key] = try checkpoint.tensor(key)
            }
        }
        let json = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 0], "weight_map": map])
        let index = folder.appendingPathComponent("pytorch_model.bin.index.json")
        try json.write(to: index)
        let source = try ShardedTensorSource(indexAt: index)
        #expect(source.keys == direct.keys.sorted())
        for (key, tensor) in direct {
            #expect(bitwiseEqual(try source.tensor(key), tensor), "\(key)")
        }
        #expect(source.storedType(of: "half") == "F16")
    }

    // MARK: - refused

    @Test func notJSONOrNotAnObject() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        expectRefused(try write("", in: folder), mentioning: ["invalid JSON", "unexpected end"])
        expectRefused(try write("PK\u{3}\u{4} not json", in: folder), mentioning: ["invalid JSON", "unexpected character"])
        expectRefused(try write(#"{"weight_map": {"a.w": "x"}} trailing"#, in: folder), mentioning: ["after the value"])
        expectRefused(try write(#"[{"weight_map": {}}]"#, in: folder), mentioning: ["not an object"])
        expectRefused(try write(#"{"weight_map": {"a.w": "model-00001-of-00002.safetensors", "a.w": "model-00002-of-00002.safetensors"}}"#, in: folder),
                      mentioning: ["duplicate key 'a.w'"])
        let bom = folder.appendingPathComponent(Self.indexName)
        try Data([0xEF, 0xBB, 0xBF] + Array(#"{"weight_map": \#(Self.goodMap)}"#.utf8)).write(to: bom)
        expectRefused(bom, mentioning: ["invalid JSON at byte 0"])
        try Data([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]).write(to: bom)
        expectRefused(bom, mentioning: ["not valid UTF-8"])
        let directory = folder.appendingPathComponent("folder.index.json")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        #expect(throws: PathProblem(path: directory.path, kind: .folderWhereFileNeeded, resolvedAgainst: nil)) {
            try ShardedTensorSource(indexAt: directory)
        }
        let absent = folder.appendingPathComponent("absent.index.json")
        #expect(throws: PathProblem(path: absent.path, kind: .missing, resolvedAgainst: nil)) {
            try ShardedTensorSource(indexAt: absent)
        }
    }

    /// Every truncation of a valid index is refused (never a crash), naming the index.
    @Test func everyTruncationIsRefused() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = Array(#"{"metadata": {"total_size": 40}, "weight_map": \#(Self.goodMap)}"#.utf8)
        let index = folder.appendingPathComponent(Self.indexName)
        for length in 0 ..< text.count {
            try Data(text[..<length]).write(to: index)
            expectRefused(index, mentioning: ["invalid JSON"])
        }
    }

    @Test func noUsableWeightMap() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        expectRefused(try write(#"{}"#, in: folder), mentioning: ["no \"weight_map\""])
        expectRefused(try write(#"{"metadata": {"total_size": 1}}"#, in: folder), mentioning: ["no \"weight_map\""])
        expectRefused(try write(#"{"weight_map": ["a.w"]}"#, in: folder), mentioning: ["\"weight_map\" is not an object"])
        expectRefused(try write(#"{"weight_map": null}"#, in: folder), mentioning: ["\"weight_map\" is not an object"])
        expectRefused(try write(#"{"weight_map": {}}"#, in: folder), mentioning: ["lists no tensors"])
        expectRefused(try write(#"{"metadata": [], "weight_map": \#(Self.goodMap)}"#, in: folder),
                      mentioning: ["\"metadata\" is not an object"])
    }

    @Test func nonStringShardNames() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for value in ["1", "null", "true", #"["model-00001-of-00002.safetensors"]"#, #"{"file": "x"}"#] {
            expectRefused(try write(#"{"weight_map": {"a.w": \#(value)}}"#, in: folder),
                          mentioning: ["'a.w'", "not a string"])
        }
    }

    /// Only plain file names in the index's folder: no path can reach another folder.
    @Test func shardNamesThatAreNotPlainFileNames() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A real shard one level up, so that a reader following the path would find it.
        let sub = folder.appendingPathComponent("unet")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: false)
        let cases: [(String, String)] = [
            ("../model-00001-of-00002.safetensors", "path separator"),
            ("unet/../model-00001-of-00002.safetensors", "path separator"),
            (folder.appendingPathComponent("model-00001-of-00002.safetensors").path, "path separator"),
            ("/etc/passwd", "path separator"),
            (#"..\\model-00001-of-00002.safetensors"#, "path separator"),
            ("..", "folder reference"),
            (".", "folder reference"),
            ("", "is empty"),
            (#"model\u0000.safetensors"#, "NUL"),
        ]
        for (name, problem) in cases {
            let index = try write(#"{"weight_map": {"a.w": "\#(name)"}}"#, in: sub)
            expectRefused(index, mentioning: ["'a.w'", problem, "only plain file names"])
        }
    }

    @Test func aMissingShardIsNamed() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        expectRefused(try write(#"{"weight_map": \#(Self.goodMap)}"#, in: folder),
                      mentioning: ["shard 'model-00002-of-00002.safetensors'", "listed for 1 tensor(s), e.g. 'b.w'", "is missing"])
    }

    @Test func aListedTensorAbsentFromItsShard() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let extra = #"{"weight_map": {"a.w": "model-00001-of-00002.safetensors", "b.w": "model-00002-of-00002.safetensors", "c.w": "model-00002-of-00002.safetensors", "d.w": "model-00001-of-00002.safetensors"}}"#
        expectRefused(try write(extra, in: folder), mentioning: [
            "tensor 'c.w'", "listed in shard 'model-00002-of-00002.safetensors' but absent from it and from every other shard",
            "1 more listed tensor(s)",
        ])
        // Both shards listed, two tensors under the wrong one.
        let swapped = #"{"weight_map": {"a.w": "model-00001-of-00002.safetensors", "a.b": "model-00002-of-00002.safetensors", "b.w": "model-00001-of-00002.safetensors"}}"#
        expectRefused(try write(swapped, in: folder), mentioning: [
            "tensor 'a.b'", "listed in shard 'model-00002-of-00002.safetensors' but absent from it (it is in 'model-00001-of-00002.safetensors')",
            "1 more listed tensor(s)",
        ])
    }

    @Test func oneTensorInTwoShards() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeSafeTensors(["a.b": Tensor(zeros: [2]), "c": Tensor(zeros: [1])],
                             to: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        expectRefused(try write(#"{"weight_map": {"a.w": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}"#, in: folder),
                      mentioning: ["tensor 'a.b'", "in two shards, 'model-00001-of-00002.safetensors' and 'model-00002-of-00002.safetensors'"])
    }

    @Test func anIndexOver64MiB() throws {
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = folder.appendingPathComponent(Self.indexName)
        #expect(FileManager.default.createFile(atPath: index.path, contents: Data("{".utf8)))
        let handle = try FileHandle(forWritingTo: index)
        try handle.truncate(atOffset: UInt64(ShardedTensorSource.maxIndexBytes + 1))  // sparse: costs no memory or disk
        try handle.close()
        expectRefused(index, mentioning: ["index of 67108865 bytes exceeds the limit of 67108864 bytes"])
    }

    /// A shard's own problems are its errors, naming the shard file.
    @Test func hostileOrCorruptShards() throws {
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let evil = folder.appendingPathComponent("pytorch_model-00001-of-00002.bin")
        try FileManager.default.copyItem(at: FixtureFiles.url("evil_os_system.ckpt"), to: evil)
        let index = try write(#"{"weight_map": {"w": "pytorch_model-00001-of-00002.bin"}}"#, in: folder, name: "pytorch_model.bin.index.json")
        expectRefused(index, naming: evil, mentioning: ["posix.system"])

        let truncated = folder.appendingPathComponent("model-00001-of-00001.safetensors")
        try writeSafeTensors(["w": Tensor(zeros: [4])], to: truncated)
        let bytes = try Data(contentsOf: truncated)
        try bytes.prefix(bytes.count - 3).write(to: truncated)
        expectRefused(try write(#"{"weight_map": {"w": "model-00001-of-00001.safetensors"}}"#, in: folder),
                      naming: truncated, mentioning: ["'w'", "outside the data section"])

        try Data("{}".utf8).write(to: truncated)
        expectRefused(try write(#"{"weight_map": {"w": "model-00001-of-00001.safetensors"}}"#, in: folder),
                      naming: truncated, mentioning: ["unrecognized tensor file"])
    }

    /// Bounded random mutations of an index over real shards: refused or fully readable, never a crash.
    @Test func indexMutations() throws {
        let (folder, _) = try shardedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = Array(#"{"metadata": {"total_size": 40}, "weight_map": \#(Self.goodMap)}"#.utf8)
        let index = folder.appendingPathComponent(Self.indexName)
        var generator = SeededGenerator(seed: 11)
        var opened = 0, refused = 0
        for iteration in 0..<300 {
            var bytes = original
            for _ in 0 ..< Int.random(in: 1...3, using: &generator) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<10, using: &generator) {
                case 0..<4: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                case 4..<9: bytes[at] = Array(#"/."{}[]:,\0"#.utf8).randomElement(using: &generator)!
                default: bytes.removeSubrange(at...)
                }
            }
            try Data(bytes).write(to: index)
            do {
                let source = try ShardedTensorSource(indexAt: index)
                for key in source.keys { #expect(try source.tensor(key).shape == source.shape(of: key)) }
                opened += 1
            } catch is TensorFileError {
                refused += 1
            } catch {
                Issue.record("iteration \(iteration): unexpected error type \(type(of: error)): \(error)")
            }
        }
        print("shard index fuzz: \(opened) opened, \(refused) refused")
        #expect(opened > 0 && refused > 0)
    }
}
