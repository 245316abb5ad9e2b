import Foundation

/// FNV-1a (64 bit) of bytes, as 16 hex digits: tells a results folder whether a manifest or a
/// plugin library changed. It detects edits, it does not resist forgery (a results folder is
/// not a security boundary). ZFlowGraph's SHA-256 is internal to the graph core.
enum ContentDigest {
    static func hex(_ data: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return String(hash, radix: 16).leftPadded(to: 16)
    }

    static func hex(_ text: String) -> String { hex(Data(text.utf8)) }
}

private extension String {
    func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}
