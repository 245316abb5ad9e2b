// Matches GPT-2/CLIP `bytes_to_unicode`: each byte maps to a printable character
// so that BPE runs on strings; printable Latin-1 bytes map to themselves, the
// others to U+0100 upwards in byte order.

enum ByteLevelAlphabet {
    /// The character standing for each byte value 0...255.
    static let characters: [Character] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var table = [Character](repeating: " ", count: 256)
        var next = 256
        for byte in 0..<256 {
            let code = printable.contains(byte) ? byte : { defer { next += 1 }; return next }()
            table[byte] = Character(Unicode.Scalar(UInt32(code))!)
        }
        return table
    }()

    /// The characters in the order CLIP's vocabulary lists them (printable bytes first).
    static let vocabularyOrder: [Character] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        let others = (0..<256).filter { !printable.contains($0) }
        return (printable + others).map { characters[$0] }
    }()

    /// The UTF-8 bytes of `text` spelled in the byte-level alphabet.
    static func encode(_ text: Substring) -> [Character] {
        text.utf8.map { characters[Int($0)] }
    }
}
