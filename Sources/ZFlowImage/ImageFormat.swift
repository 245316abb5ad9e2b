// Recognizes PNG and JPEG by their magic bytes, and names the common other formats.

enum ImageFormat {
    case png, jpeg

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    init?(magic data: [UInt8]) {
        if data.starts(with: ImageFormat.pngSignature) {
            self = .png
        } else if data.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else {
            return nil
        }
    }

    /// A short description of what the bytes look like, for error messages.
    static func describe(_ data: [UInt8]) -> String {
        if data.isEmpty { return "an empty file" }
        let known: [(prefix: [UInt8], name: String)] = [
            (Array("GIF8".utf8), "GIF data"), (Array("BM".utf8), "BMP data"),
            ([0x49, 0x49, 0x2A, 0x00], "TIFF data"), ([0x4D, 0x4D, 0x00, 0x2A], "TIFF data"),
            (Array("%PDF".utf8), "PDF data"), ([0x00, 0x00, 0x01, 0x00], "ICO data"),
        ]
        if let match = known.first(where: { data.starts(with: $0.prefix) }) { return match.name }
        if data.count >= 12, data.starts(with: Array("RIFF".utf8)), Array(data[8..<12]) == Array("WEBP".utf8) {
            return "WebP data"
        }
        if data.count >= 12, Array(data[4..<8]) == Array("ftyp".utf8) { return "HEIF/AVIF/MP4 data" }
        if looksLikeText(data.prefix(512)) { return "text" }
        let head = data.prefix(8).map(hexByte).joined(separator: " ")
        return "\(data.count) bytes starting with \(head)"
    }
}

/// Whether `bytes` are UTF-8 without control characters other than tabs and line ends (a
/// multi-byte character cut at the end of the sample still counts).
private func looksLikeText(_ bytes: ArraySlice<UInt8>) -> Bool {
    guard !bytes.contains(where: { $0 < 0x20 && ![0x09, 0x0A, 0x0D].contains($0) || $0 == 0x7F }) else { return false }
    var sample = Array(bytes)
    for _ in 0..<3 where String(validating: sample, as: UTF8.self) == nil && !sample.isEmpty { sample.removeLast() }
    return !sample.isEmpty && String(validating: sample, as: UTF8.self) != nil
}

private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}
