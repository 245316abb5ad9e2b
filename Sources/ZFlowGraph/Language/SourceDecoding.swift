import Foundation

// Graph files are read as bytes and decoded here, so that a file that is not UTF-8 gets a
// diagnostic at its first bad byte, like every other error of a file, instead of a decoding
// failure without a location.

extension SourceFile {
    /// Decodes `bytes` as UTF-8; throws `GraphDiagnostics` locating the first byte that is not.
    public init(name: String, bytes: Data) throws {
        guard let offset = UTF8Validation.firstInvalidByte(in: bytes) else {
            self.init(name: name, text: String(decoding: bytes, as: UTF8.self))
            return
        }
        let valid = bytes.prefix(offset)
        let lineStart = valid.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? valid.startIndex
        let line = valid.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        let column = String(decoding: valid[lineStart...], as: UTF8.self).unicodeScalars.count + 1
        // The shown source stops at the bad byte (as U+FFFD): the rest of a binary file, perhaps
        // megabytes without a line end, never reaches the terminal.
        let shown = SourceFile(name: name, text: String(decoding: valid, as: UTF8.self) + "\u{FFFD}")
        let byte = String(bytes[bytes.startIndex + offset], radix: 16, uppercase: true)
        throw GraphDiagnostics(source: shown, diagnostics: [
            Diagnostic(SourceRange(SourceLocation(line: line, column: column)),
                       "invalid UTF-8 byte 0x\(byte.count == 1 ? "0" + byte : byte)"),
        ])
    }
}

enum UTF8Validation {
    /// The offset of the first byte that does not start or continue a well-formed UTF-8
    /// sequence (Unicode table 3-7: no overlong forms, surrogates or values above U+10FFFF).
    /// For a sequence cut short, that is its first byte.
    static func firstInvalidByte(in bytes: Data) -> Int? {
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int? in
            var index = 0
            while index < raw.count {
                let lead = raw[index]
                if lead < 0x80 {
                    index += 1
                    continue
                }
                // The length of the sequence and the allowed range of its second byte.
                let length: Int, second: ClosedRange<UInt8>
                switch lead {
                case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
                case 0xE0: (length, second) = (3, 0xA0...0xBF)
                case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
                case 0xED: (length, second) = (3, 0x80...0x9F)
                case 0xF0: (length, second) = (4, 0x90...0xBF)
                case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
                case 0xF4: (length, second) = (4, 0x80...0x8F)
                default: return index
                }
                guard index + length <= raw.count, second.contains(raw[index + 1]),
                      (2..<length).allSatisfy({ (0x80...0xBF).contains(raw[index + $0]) }) else { return index }
                index += length
            }
            return nil
        }
    }
}
