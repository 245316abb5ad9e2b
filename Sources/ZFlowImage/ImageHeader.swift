import Foundation

// The format and size of a PNG or JPEG file from its header alone (PNG IHDR, JPEG SOF),
// without decoding pixels: cheap enough to check every file of a dataset before a run.

public struct ImageHeader: Sendable, Equatable {
    public let format: String
    public let width: Int
    public let height: Int

    /// Reads the header of `url`; throws `ImageError` naming the file for anything else than
    /// a readable PNG or JPEG header with a nonzero size.
    public init(contentsOf url: URL) throws {
        let origin = url.path
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw ImageError.io(path: origin, message: "cannot read: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        var reader = HeaderReader(handle: handle)
        let magic = reader.read(16)
        switch ImageFormat(magic: magic) {
        case .png?:
            reader.offset = 8
            (width, height) = try Self.pngSize(&reader, origin: origin)
            format = "PNG"
        case .jpeg?:
            reader.offset = 2
            (width, height) = try Self.jpegSize(&reader, origin: origin)
            format = "JPEG"
        case nil:
            throw ImageError.unrecognizedFormat(origin: origin, found: Self.describe(magic, fileSize: (try? handle.seekToEnd()) ?? 0))
        }
    }

    /// `ImageFormat.describe` names known formats by their first bytes; its generic form counts
    /// the bytes it is given, here only a prefix, so the file's size is said instead.
    private static func describe(_ prefix: [UInt8], fileSize: UInt64) -> String {
        let text = ImageFormat.describe(prefix), generic = "\(prefix.count) bytes "
        guard text.hasPrefix(generic), UInt64(prefix.count) < fileSize else { return text }
        return "\(fileSize) bytes " + text.dropFirst(generic.count)
    }

    private static func pngSize(_ reader: inout HeaderReader, origin: String) throws -> (Int, Int) {
        let chunk = reader.read(8 + 8)
        guard chunk.count == 16, Array(chunk[4..<8]) == Array("IHDR".utf8), bigEndian(chunk[0..<4]) == 13 else {
            throw ImageError.corrupt(origin: origin, format: "PNG", message: "no IHDR chunk after the signature")
        }
        return try checked(bigEndian(chunk[8..<12]), bigEndian(chunk[12..<16]), format: "PNG", origin: origin)
    }

    /// Walks the marker segments up to the first start-of-frame (SOF0...SOF15 without DHT,
    /// JPG and DAC, which share the range), which holds the height and width.
    private static func jpegSize(_ reader: inout HeaderReader, origin: String) throws -> (Int, Int) {
        let truncated = ImageError.corrupt(origin: origin, format: "JPEG", message: "the header ends before the frame size")
        while true {
            guard let prefix = reader.read(1).first else { throw truncated }
            guard prefix == 0xFF else {
                throw ImageError.corrupt(origin: origin, format: "JPEG",
                                         message: "expected a marker at byte \(reader.offset - 1)")
            }
            var marker: UInt8 = 0xFF
            while marker == 0xFF {  // fill bytes
                guard let next = reader.read(1).first else { throw truncated }
                marker = next
            }
            if marker == 0xD9 || marker == 0xDA { throw truncated }  // end of image / scan before a frame
            if (0xD0...0xD7).contains(marker) || marker == 0x01 { continue }  // no length field
            let lengthBytes = reader.read(2)
            guard lengthBytes.count == 2 else { throw truncated }
            let length = bigEndian(lengthBytes[...])
            guard length >= 2 else {
                throw ImageError.corrupt(origin: origin, format: "JPEG", message: "segment length \(length) at byte \(reader.offset - 2)")
            }
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                let frame = reader.read(5)
                guard frame.count == 5 else { throw truncated }
                return try checked(bigEndian(frame[3..<5]), bigEndian(frame[1..<3]), format: "JPEG", origin: origin)
            }
            reader.offset += UInt64(length - 2)
        }
    }

    private static func checked(_ width: Int, _ height: Int, format: String, origin: String) throws -> (Int, Int) {
        guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw ImageError.corrupt(origin: origin, format: format, message: "the header declares a \(width)x\(height) image")
        }
        return (width, height)
    }

    private static func bigEndian(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.reduce(0) { $0 << 8 | Int($1) }
    }
}

/// Reads at an offset of a file, returning fewer bytes at its end.
private struct HeaderReader {
    let handle: FileHandle
    var offset: UInt64 = 0

    mutating func read(_ count: Int) -> [UInt8] {
        guard (try? handle.seek(toOffset: offset)) != nil,
              let data = try? handle.read(upToCount: count) else { return [] }
        offset += UInt64(data.count)
        return [UInt8](data)
    }
}
