import Foundation

/// Prompt token ids ready for the text encoder.
public struct CLIPTokens: Sendable, Equatable {
    /// `[BOS] + tokens + [EOS]`, padded to the context length.
    public let ids: [Int]
    /// Whether the prompt had more tokens than fit and was cut (callers should warn).
    public let truncated: Bool
}

/// CLIP's byte-level BPE tokenizer. This implementation matches transformers'
/// `CLIPTokenizer` and what the Stable Diffusion pipelines call:
/// `tokenizer(prompt, padding="max_length", max_length=77, truncation=True)`.
public struct CLIPTokenizer: Sendable {
    public static let contextLength = 77
    public static let startOfTextID = 49406
    public static let endOfTextID = 49407

    private let encoder: BytePairEncoder
    public let startID: Int
    public let endID: Int
    /// `<|endoftext|>` for SD v1 (openai/clip-vit-large-patch14); SD 2.x uses "!" (id 0).
    public let padID: Int

    /// The OpenAI CLIP vocabulary shipped with ZFlow (from open_clip, MIT licence).
    public static func bundled() throws -> CLIPTokenizer {
        guard let url = Bundle.module.url(forResource: "clip-merges", withExtension: "txt") else {
            throw CLIPTokenizerError.unreadable(path: "clip-merges.txt (ZFlowModels resource)", reason: "not in the bundle")
        }
        let merges = try readMerges(url)
        return CLIPTokenizer(merges: merges, vocabulary: openAIVocabulary(merges: merges))
    }

    /// A diffusers/transformers `tokenizer/` folder: `vocab.json`, `merges.txt`, and
    /// optionally `special_tokens_map.json` / `tokenizer_config.json` naming the pad token.
    /// Given a pipeline root, its `tokenizer/` subfolder.
    public init(folder: URL) throws {
        var folder = folder
        let sub = folder.appendingPathComponent("tokenizer")
        if FileManager.default.fileExists(atPath: sub.appendingPathComponent("merges.txt").path) { folder = sub }
        let merges = try Self.readMerges(folder.appendingPathComponent("merges.txt"))
        let vocabularyURL = folder.appendingPathComponent("vocab.json")
        let vocabulary: [String: Int]
        do {
            vocabulary = try JSONDecoder().decode([String: Int].self, from: Data(contentsOf: vocabularyURL))
        } catch {
            throw CLIPTokenizerError.unreadable(path: vocabularyURL.path, reason: "\(error)")
        }
        let padToken = try Self.padToken(in: folder) ?? CLIPTextSplitter.specialTokens[1]
        guard let padID = vocabulary[padToken] else {
            throw CLIPTokenizerError.missingToken(padToken, path: vocabularyURL.path)
        }
        try self.init(merges: merges, vocabulary: vocabulary, padID: padID, origin: vocabularyURL.path)
    }

    private init(merges: [(String, String)], vocabulary: [String: Int], padID: Int, origin: String) throws {
        for token in CLIPTextSplitter.specialTokens where vocabulary[token] == nil {
            throw CLIPTokenizerError.missingToken(token, path: origin)
        }
        self.init(merges: merges, vocabulary: vocabulary, padID: padID)
    }

    private init(merges: [(String, String)], vocabulary: [String: Int], padID: Int? = nil) {
        let end = vocabulary[CLIPTextSplitter.specialTokens[1]] ?? Self.endOfTextID
        encoder = BytePairEncoder(merges: merges, vocabulary: vocabulary, unknownID: end)
        startID = vocabulary[CLIPTextSplitter.specialTokens[0]] ?? Self.startOfTextID
        endID = end
        self.padID = padID ?? end
    }

    /// The token ids of `text` without BOS/EOS, padding or truncation.
    /// `<|startoftext|>` / `<|endoftext|>` written in the text become their ids.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let next = CLIPTextSplitter.specialTokens.compactMap { token in
                rest.range(of: token).map { (token, $0) }
            }.min { $0.1.lowerBound < $1.1.lowerBound }
            let plain = next.map { rest[..<$0.1.lowerBound] } ?? rest
            let normalized = CLIPTextSplitter.normalize(String(plain))
            for piece in CLIPTextSplitter.pieces(of: normalized) { ids += encoder.encode(piece) }
            guard let (token, range) = next else { break }
            ids.append(token == CLIPTextSplitter.specialTokens[0] ? startID : endID)
            rest = rest[range.upperBound...]
        }
        return ids
    }

    /// `[BOS] + ids + [EOS]` padded with `padID` to `length`; longer prompts keep
    /// their first `length - 2` tokens and still end with EOS.
    public func tokenize(_ text: String, length: Int = CLIPTokenizer.contextLength) -> CLIPTokens {
        let body = encode(text)
        let room = max(length - 2, 0)
        let kept = [startID] + body.prefix(room) + [endID]
        let padded = kept + Array(repeating: padID, count: max(length - kept.count, 0))
        return CLIPTokens(ids: padded, truncated: body.count > room)
    }

    // MARK: Vocabulary files

    /// `merges.txt`: an optional `#version` line, then one "left right" pair per line.
    private static func readMerges(_ url: URL) throws -> [(String, String)] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw CLIPTokenizerError.unreadable(path: url.path, reason: "\(error)")
        }
        var merges: [(String, String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (number == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw CLIPTokenizerError.malformedMerge(line: number + 1, path: url.path)
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }

    /// OpenAI CLIP's vocabulary order: the 256 byte characters, the same with "</w>",
    /// each merge's result, then `<|startoftext|>` and `<|endoftext|>`.
    private static func openAIVocabulary(merges: [(String, String)]) -> [String: Int] {
        let bytes = ByteLevelAlphabet.vocabularyOrder.map(String.init)
        let tokens = bytes + bytes.map { $0 + "</w>" } + merges.map { $0.0 + $0.1 } + CLIPTextSplitter.specialTokens
        return Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The pad token named by `special_tokens_map.json` or `tokenizer_config.json`, if any.
    private static func padToken(in folder: URL) throws -> String? {
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) } catch {
                throw CLIPTokenizerError.unreadable(path: url.path, reason: "\(error)")
            }
            let pad = (object as? [String: Any])?["pad_token"]
            if let token = pad as? String { return token }
            if let token = (pad as? [String: Any])?["content"] as? String { return token }
        }
        return nil
    }
}

/// A problem with tokenizer files, naming the file.
public enum CLIPTokenizerError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformedMerge(line: Int, path: String)
    case missingToken(String, path: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read tokenizer file: \(reason)"
        case let .malformedMerge(line, path): return "\(path):\(line): a merge line must be two tokens separated by a space"
        case let .missingToken(token, path): return "\(path): the vocabulary has no '\(token)'"
        }
    }
}
