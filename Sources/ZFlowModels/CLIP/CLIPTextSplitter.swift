import Foundation

// Matches the normalizer and pre-tokenizer of transformers' `CLIPTokenizer`
// (tokenizers backend): NFC, runs of whitespace to one space, lowercase, then the
// pieces matched by
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// with everything between matches (whitespace) dropped.

enum CLIPTextSplitter {
    static let specialTokens = ["<|startoftext|>", "<|endoftext|>"]
    private static let contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]

    /// NFC, whitespace runs collapsed to " ", each scalar lowercased on its own
    /// (tokenizers' `Lowercase` maps char by char: a final Σ becomes σ, not ς).
    static func normalize(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        var inWhitespace = false
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !inWhitespace { result.append(" ") }
                inWhitespace = true
            } else {
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                inWhitespace = false
            }
        }
        return String(result)
    }

    /// The pre-tokenizer pieces of normalized text.
    static func pieces(of text: String) -> [Substring] {
        var pieces: [Substring] = []
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index < scalars.endIndex {
            let rest = text.unicodeScalars[index...]
            if let literal = (specialTokens + contractions).first(where: { rest.starts(with: $0.unicodeScalars) }) {
                let end = scalars.index(index, offsetBy: literal.unicodeScalars.count)
                pieces.append(Substring(text.unicodeScalars[index..<end]))
                index = end
                continue
            }
            let kind = Kind(scalars[index])
            var end = scalars.index(after: index)
            switch kind {
            case .whitespace:
                index = end
                continue
            case .number:
                break
            case .letter, .other:
                while end < scalars.endIndex && Kind(scalars[end]) == kind { end = scalars.index(after: end) }
            }
            pieces.append(Substring(text.unicodeScalars[index..<end]))
            index = end
        }
        return pieces
    }

    private enum Kind {
        case letter, number, whitespace, other

        init(_ scalar: Unicode.Scalar) {
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
                self = .letter
            case .decimalNumber, .letterNumber, .otherNumber:
                self = .number
            default:
                self = scalar.properties.isWhitespace ? .whitespace : .other
            }
        }
    }
}
