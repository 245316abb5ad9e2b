import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
import ZFlowTestSupport

// Seeded byte and line mutations of the example manifest, read with the full pre-run check
// (DatasetFiles.load: JSON, fields, ids, files, image headers). Every case must either load or
// fail with ManifestErrors whose every line is `MANIFEST:LINE:COL: ...` for a line of the file.

@Test func mutatedManifestsFailWithFileAndLine() throws {
    let folder = temporaryFolder("manifest-fuzz")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("examples/dataset"), to: folder)
    // A text file posing as a mask, so that mutated paths can hit a bad header too.
    try "not a png".write(to: folder.appendingPathComponent("masks/text.png"), atomically: true, encoding: .utf8)
    let original = try Data(contentsOf: folder.appendingPathComponent("manifest.jsonl"))
    let url = folder.appendingPathComponent("fuzzed.jsonl")
    var random = SeededGenerator(seed: 10)
    let interesting: [UInt8] = [0x00, 0xFF, 0xC3, UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "}"),
                                UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "\n"), UInt8(ascii: "\\"), UInt8(ascii: "x")]
    var loaded = 0, failed = 0
    for _ in 0..<400 {
        var bytes = [UInt8](original)
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            mutate(&bytes, interesting: interesting, using: &random)
        }
        try Data(bytes).write(to: url)
        do {
            _ = try DatasetFiles.load(url)
            loaded += 1
        } catch let errors as ManifestErrors {
            failed += 1
            let lineCount = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            #expect(!errors.errors.isEmpty)
            for error in errors.errors {
                #expect(error.description.hasPrefix("\(url.path):\(error.line):\(error.column): "), "\(error)")
                #expect((1...lineCount).contains(error.line), "\(error) (file has \(lineCount) lines)")
                #expect(error.column >= 1 && !error.message.isEmpty, "\(error)")
            }
        }
    }
    // The mutations must exercise both outcomes, or the test proves nothing.
    #expect(loaded > 10 && failed > 100, "loaded \(loaded), failed \(failed)")
}

private func mutate(_ bytes: inout [UInt8], interesting: [UInt8], using random: inout SeededGenerator) {
    let lines = bytes.split(separator: UInt8(ascii: "\n")).map(Array.init)
    switch Int.random(in: 0..<7, using: &random) {
    case 0 where !bytes.isEmpty:
        bytes.remove(at: Int.random(in: 0..<bytes.count, using: &random))
    case 1:
        bytes.insert(interesting.randomElement(using: &random)!, at: Int.random(in: 0...bytes.count, using: &random))
    case 2 where !bytes.isEmpty:
        bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
    case 3:
        bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
    case 4 where !lines.isEmpty:
        let line = lines.randomElement(using: &random)!
        bytes += [UInt8(ascii: "\n")] + line + [UInt8(ascii: "\n")]
    case 5:
        // A path to a missing file, or to a file that is no image.
        let target = Bool.random(using: &random) ? "masks/gone.png" : "masks/text.png"
        var text = String(decoding: bytes, as: UTF8.self)
        guard let start = text.ranges(of: "\"mask\": \"").randomElement(using: &random)?.upperBound,
              let end = text[start...].firstIndex(of: "\"") else { return }
        text.replaceSubrange(start..<end, with: target)
        bytes = Array(text.utf8)
    default:
        // A no-op draw: the unmutated manifest loads.
        break
    }
}
