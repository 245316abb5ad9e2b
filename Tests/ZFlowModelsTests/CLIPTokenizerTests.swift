import Foundation
import Testing
import ZFlowModels

/// One phrase and the ids transformers' CLIPTokenizer gives it (tools/fixtures/clip.py).
private struct TokenizerCase: Decodable {
    let text: String
    let ids: [Int]
    let input_ids: [Int]?
    let truncated: Bool?
}

private func fixtureURL(_ name: String) throws -> URL {
    try #require(Bundle.module.url(forResource: "Fixtures/clip/\(name)", withExtension: nil))
}

private func cases(_ name: String) throws -> [TokenizerCase] {
    try JSONDecoder().decode([TokenizerCase].self, from: Data(contentsOf: fixtureURL(name)))
}

@Suite struct CLIPTokenizerTests {
    static let bundled = Result { try CLIPTokenizer.bundled() }

    @Test func bundledVocabularyMatchesTransformersOnEveryPhrase() throws {
        let tokenizer = try Self.bundled.get()
        let all = try cases("tokenizer_cases.json")
        #expect(all.count >= 40)
        for phrase in all {
            #expect(tokenizer.encode(phrase.text) == phrase.ids, "\(phrase.text.debugDescription)")
            let tokens = tokenizer.tokenize(phrase.text)
            #expect(tokens.ids == phrase.input_ids, "padded \(phrase.text.debugDescription)")
            #expect(tokens.truncated == phrase.truncated, "truncation flag of \(phrase.text.debugDescription)")
        }
    }

    @Test func stableDiffusionLayout() throws {
        let tokens = try Self.bundled.get().tokenize("a photo of a cat.")
        #expect(tokens.ids.count == 77)
        #expect(Array(tokens.ids.prefix(8)) == [49406, 320, 1125, 539, 320, 2368, 269, 49407])
        #expect(tokens.ids.dropFirst(8).allSatisfy { $0 == 49407 })
        #expect(!tokens.truncated)
    }

    @Test func longPromptsKeepEndOfTextLast() throws {
        let tokens = try Self.bundled.get().tokenize(String(repeating: "a dog ", count: 60))
        #expect(tokens.truncated)
        #expect(tokens.ids.count == 77 && tokens.ids.first == 49406 && tokens.ids.last == 49407)
        #expect(tokens.ids.dropFirst().dropLast().allSatisfy { $0 != 49407 })
    }

    @Test func tokenizerFolderMatchesTransformers() throws {
        let tokenizer = try CLIPTokenizer(folder: fixtureURL("tokenizer_small"))
        #expect(tokenizer.padID == 49407 - 48894 + 2000)   // vocabulary cut to 2000 merges
        for phrase in try cases("tokenizer_small_cases.json") {
            #expect(tokenizer.encode(phrase.text) == phrase.ids, "\(phrase.text.debugDescription)")
        }
    }

    @Test func pipelineRootUsesItsTokenizerFolder() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("clip-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixtureURL("tokenizer_small"), to: root.appendingPathComponent("tokenizer"))
        try Data(#"{"pad_token": "!"}"#.utf8).write(to: root.appendingPathComponent("tokenizer/special_tokens_map.json"))
        let tokenizer = try CLIPTokenizer(folder: root)
        #expect(tokenizer.padID == 0)   // "!" is the first byte character, as in SD 2.x
        #expect(tokenizer.tokenize("a").ids.suffix(3) == [0, 0, 0])
    }

    @Test func missingFolderNamesTheFile() {
        let folder = URL(fileURLWithPath: "/nonexistent/tokenizer")
        #expect {
            try CLIPTokenizer(folder: folder)
        } throws: { error in
            "\(error)".contains("/nonexistent/tokenizer/merges.txt")
        }
    }
}
