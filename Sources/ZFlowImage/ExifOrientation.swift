// Matches Pillow's `Image.getexif()[0x0112]` (Exif.load + TiffImagePlugin's
// ImageFileDirectory_v2.load) for the IFD0 Orientation tag, and
// `PIL.ImageOps.exif_transpose` for applying it.

/// The Orientation value (normally 1...8) in a TIFF-structured EXIF payload, or nil
/// when there is none or Pillow would not read it as an integer. Never traps:
/// every read is bounds-checked, as the payload comes from the file.
func exifOrientation(_ payload: [UInt8]) -> Int? {
    let exifHeader: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0] // "Exif\0\0", stripped once more like Pillow
    let tiff = payload.starts(with: exifHeader) ? Array(payload.dropFirst(6)) : payload
    let reader: ByteReader
    if tiff.starts(with: [0x49, 0x49, 0x2A, 0x00]) {
        reader = ByteReader(bytes: tiff, littleEndian: true)
    } else if tiff.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) {
        reader = ByteReader(bytes: tiff, littleEndian: false)
    } else {
        return nil
    }
    guard let ifdOffset = reader.unsigned(at: 4, size: 4), let entryCount = reader.unsigned(at: ifdOffset, size: 2)
    else { return nil }
    for index in 0..<entryCount {
        let entry = ifdOffset + 2 + 12 * index
        guard let tag = reader.unsigned(at: entry, size: 2), let type = reader.unsigned(at: entry + 2, size: 2),
              let count = reader.unsigned(at: entry + 4, size: 4)
        else { return nil } // truncated IFD: Pillow keeps the tags read so far
        guard tag == 0x0112, let unitSize = tiffUnitSizes[type], count > 0 else { continue }
        let size = count * unitSize
        var valueOffset = entry + 8
        if size > 4 {
            guard let offset = reader.unsigned(at: entry + 8, size: 4) else { return nil }
            valueOffset = offset
        }
        guard valueOffset <= tiff.count - size else { continue } // Pillow skips a tag whose data lies outside the payload
        // The first complete occurrence decides; only integer types give a number.
        return reader.integer(at: valueOffset, type: type)
    }
    return nil
}

/// Unit sizes of the TIFF field types Pillow loads (others are skipped).
private let tiffUnitSizes: [Int: Int] = [1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4,
                                         12: 8, 13: 4, 16: 8]

private struct ByteReader {
    let bytes: [UInt8]
    let littleEndian: Bool

    /// An unsigned integer of `size` bytes at `offset`, or nil past the end.
    func unsigned(at offset: Int, size: Int) -> Int? {
        guard offset >= 0, size >= 0, offset <= bytes.count - size else { return nil }
        var value: UInt64 = 0
        for i in 0..<size {
            value = (value &<< 8) | UInt64(bytes[offset + (littleEndian ? size - 1 - i : i)])
        }
        return Int(truncatingIfNeeded: value)
    }

    /// The first value of an integer-typed field, as Pillow would produce it.
    func integer(at offset: Int, type: Int) -> Int? {
        switch type {
        case 3: return unsigned(at: offset, size: 2)
        case 4, 13: return unsigned(at: offset, size: 4)
        case 16: return unsigned(at: offset, size: 8)
        case 6: return unsigned(at: offset, size: 1).map { Int(Int8(truncatingIfNeeded: $0)) }
        case 8: return unsigned(at: offset, size: 2).map { Int(Int16(truncatingIfNeeded: $0)) }
        case 9: return unsigned(at: offset, size: 4).map { Int(Int32(truncatingIfNeeded: $0)) }
        default: return nil // BYTE loads as bytes, ASCII as text, rationals as fractions
        }
    }
}
