import Foundation
import Testing
import ZFlowIO
import ZFlowTensor

/// A path a node cannot use is named with what is wrong with it: missing (with the folder a
/// relative path was resolved against), a folder where a file is needed, a file in the way of a
/// folder, unreadable, or a file of the wrong kind.
@Suite struct PathErrorTests {
    /// A folder with a text file `notes.txt` and a small tensor file `t.safetensors` in it.
    private func scratch() throws -> URL {
        let folder = temporaryPath("")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("just some notes\n".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        try writeSafeTensors(["t": Tensor(shape: [1, 1, 2, 2], scalars: [0, 1, 1, 0])], to: folder.appendingPathComponent("t.safetensors"))
        return folder
    }

    @Test func loadImageSaysMissingFolderOrNotAnImage() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try await failureMessage("p = LoadImage(path: \"\(folder.path)\")") == "\(folder.path) is a folder, expected a file")
        let cwd = FileManager.default.currentDirectoryPath
        #expect(try await failureMessage("p = LoadImage(path: \"no-such-photo.png\")")
                == "no such file or folder: no-such-photo.png (relative to \(cwd))")
        let notes = folder.appendingPathComponent("notes.txt").path
        #expect(try await failureMessage("p = LoadImage(path: \"\(notes)\")") == "\(notes): not a PNG or JPEG image (found text)")
    }

    @Test func loadTensorSaysMissingFolderOrNotATensorFile() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = folder.appendingPathComponent("gone.safetensors").path
        #expect(try await failureMessage("t = LoadTensor(path: \"\(missing)\")") == "no such file or folder: \(missing)")
        #expect(try await failureMessage("t = LoadTensor(path: \"\(folder.path)\")") == "\(folder.path) is a folder, expected a file")
        let notes = folder.appendingPathComponent("notes.txt").path
        let message = try await failureMessage("t = LoadTensor(path: \"\(notes)\")")
        #expect(message.hasPrefix("\(notes): unrecognized tensor file"), "\(message)")
    }

    @Test func sinksSayWhatIsInTheWayOfTheirOutputPath() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = "t = LoadTensor(path: \"\(folder.appendingPathComponent("t.safetensors").path)\", name: \"t\", as: Mask)\n"
        let notes = folder.appendingPathComponent("notes.txt").path
        for sink in ["SaveTensor(value: t", "SaveMask(mask: t"] {
            #expect(try await failureMessage(input + "\(sink), path: \"\(folder.path)\")") == "\(folder.path) is a folder, expected a file")
            let blocked = notes + "/sub/out.file"
            #expect(try await failureMessage(input + "\(sink), path: \"\(blocked)\")")
                    == "cannot write \(blocked): \(notes) is a file, expected a folder")
        }
        let written = folder.appendingPathComponent("new/deeper/mask.png").path
        let (report, _) = try await runGraph(input + "SaveMask(mask: t, path: \"\(written)\")")
        #expect(report.failures.isEmpty && FileManager.default.fileExists(atPath: written), "\(report.failures)")
    }

    /// Root reads and writes everything, so only another user can see these refusals.
    @Test(.enabled(if: getuid() != 0)) func unreadableAndUnwritablePathsAreNamedSo() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let notes = folder.appendingPathComponent("notes.txt").path
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: notes)
        #expect(try await failureMessage("p = LoadImage(path: \"\(notes)\")") == "cannot read \(notes): permission denied")
        let locked = folder.appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o500])
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: locked.path) }
        let output = locked.appendingPathComponent("out.safetensors").path
        #expect(try await failureMessage("""
            t = LoadTensor(path: "\(folder.appendingPathComponent("t.safetensors").path)", name: "t")
            SaveTensor(value: t, path: "\(output)")
            """) == "cannot write \(output): the folder \(locked.path) is not writable")
    }

    /// Before, a `tokenizer/` without `vocab.json` fell back to the bundled vocabulary silently,
    /// and a folder named `vocab.json` gave `(NSCocoaErrorDomain error 256.)`.
    @Test func anIncompleteTokenizerFolderIsNamedNotReplacedByTheBundledOne() async throws {
        let root = temporaryPath("-diffusers")
        defer { try? FileManager.default.removeItem(at: root) }
        let tokenizer = root.appendingPathComponent("tokenizer")
        try FileManager.default.createDirectory(at: tokenizer, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: root.appendingPathComponent("text_encoder"),
            withDestinationURL: repository.appendingPathComponent("Tests/ZFlowModelsTests/Fixtures/clip/tiny/text_encoder"))
        let small = repository.appendingPathComponent("Tests/ZFlowModelsTests/Fixtures/clip/tokenizer_small")
        try FileManager.default.copyItem(at: small.appendingPathComponent("merges.txt"), to: tokenizer.appendingPathComponent("merges.txt"))
        let graph = "text = CLIPTextEncode(text: \"a cat\", weights: \"\(root.path)\")"
        let vocabulary = tokenizer.appendingPathComponent("vocab.json")
        #expect(try await failureMessage(graph) == "no such file or folder: \(vocabulary.path)")
        try FileManager.default.createDirectory(at: vocabulary, withIntermediateDirectories: false)
        #expect(try await failureMessage(graph) == "\(vocabulary.path) is a folder, expected a file")
        try FileManager.default.removeItem(at: vocabulary)
        try FileManager.default.copyItem(at: small.appendingPathComponent("vocab.json"), to: vocabulary)
        // The folder's small tokenizer is used now: its ids, not the bundled one's start token 49406,
        // are what the tiny encoder's 1024-token vocabulary cannot hold.
        let message = try await failureMessage(graph)
        #expect(message.contains("outside the vocabulary of 1024") && !message.contains("49406"), "\(message)")
    }
}
