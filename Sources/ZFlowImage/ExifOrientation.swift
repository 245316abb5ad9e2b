// Matches Pillow's `Image.getexif().get(0x0112)` as `ImageOps.exif_transpose`
// reads it: Exif.load + TiffImagePlugin's ImageFileDirectory_v2.load for the
// IFD0 Orientation tag, PNG's "Raw profile type exif" text when there is no
// EXIF, and the XMP `tiff:Orientation` fallback when EXIF has no such tag.
// Every read is bounds-checked: all of it comes from the file.

/// The EXIF header Pillow keeps in `info["exif"]` and strips (up to twice) when parsing.
let exifHeader: [UInt8] = Array("Exif".utf8) + [0, 0]

/// The orientation Pillow's `exif_transpose` would apply, from the metadata its
/// plugins collect (`info["exif"]`, `info["Raw profile type exif"]`, the XMP packet).
/// Where Pillow would raise (EXIF that is not TIFF, a malformed hex profile) we
/// treat the metadata as absent instead of failing the image.
func pillowOrientation(exif: [UInt8]?, exifProfile: [UInt8]?, xmp: [UInt8]?) -> Int? {
    let payload = exif ?? exifProfile.flatMap(decodeRawExifProfile)
    if case .present(let value) = payload.map(exifOrientationTag) ?? .absent { return value }
    return xmp.flatMap(xmpOrientation)
}

enum OrientationTag: Hashable {
    case absent
    /// The tag exists; its value is nil when Pillow would not read it as an integer.
    case present(Int?)
}

/// The IFD0 Orientation tag of an EXIF payload (`info["exif"]` form).
func exifOrientationTag(_ payload: [UInt8]) -> OrientationTag {
    var tiff = payload[...]
    for _ in 0..<2 where tiff.starts(with: exifHeader) { tiff = tiff.dropFirst(6) }
    let reader: ByteReader
    if tiff.starts(with: [0x49, 0x49, 0x2A, 0x00]) {
        reader = ByteReader(bytes: Array(tiff), littleEndian: true)
    } else if tiff.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) {
        reader = ByteReader(bytes: Array(tiff), littleEndian: false)
    } else {
        return .absent
    }
    guard let ifdOffset = reader.unsigned(at: 4, size: 4), let entryCount = reader.unsigned(at: ifdOffset, size: 2)
    else { return .absent }
    for index in 0..<entryCount {
        let entry = ifdOffset + 2 + 12 * index
        guard let tag = reader.unsigned(at: entry, size: 2), let type = reader.unsigned(at: entry + 2, size: 2),
              let count = reader.unsigned(at: entry + 4, size: 4)
        else { return .absent } // truncated IFD: Pillow keeps the tags read so far
        guard tag == 0x0112, let unitSize = tiffUnitSizes[type], count > 0 else { continue }
        let size = count * unitSize
        var valueOffset = entry + 8
        if size > 4 {
            guard let offset = reader.unsigned(at: entry + 8, size: 4) else { return .absent }
            valueOffset = offset
        }
        guard valueOffset <= reader.bytes.count - size else { continue } // Pillow skips data outside the payload
        // The first complete occurrence decides; only integer types give a number.
        return .present(reader.integer(at: valueOffset, type: type))
    }
    return .absent
}

/// `bytes.fromhex("".join(text.split("\n")[3:]))`: ImageMagick's hex EXIF profile.
func decodeRawExifProfile(_ text: [UInt8]) -> [UInt8]? {
    let newline = UInt8(ascii: "\n")
    let lines = text.split(separator: newline, omittingEmptySubsequences: false)
    guard lines.count > 3 else { return [] }
    var bytes: [UInt8] = []
    var high: UInt8?
    for character in lines.dropFirst(3).joined() {
        if [0x20, 0x09, 0x0B, 0x0C, 0x0D].contains(character), high == nil { continue } // fromhex skips whitespace
        guard let digit = hexDigitValue(character) else { return nil }
        if let first = high {
            bytes.append(first << 4 | digit)
            high = nil
        } else {
            high = digit
        }
    }
    return high == nil ? bytes : nil
}

private func hexDigitValue(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// The first match of Pillow's `tiff:Orientation(="|>)([0-9])` in an XMP packet.
func xmpOrientation(_ xmp: [UInt8]) -> Int? {
    let key = Array("tiff:Orientation".utf8)
    var index = 0
    while index + key.count < xmp.count {
        if xmp[index..<index + key.count].elementsEqual(key) {
            var next = index + key.count
            if xmp[next] == UInt8(ascii: ">") {
                next += 1
            } else if xmp[next] == UInt8(ascii: "="), next + 1 < xmp.count, xmp[next + 1] == UInt8(ascii: "\"") {
                next += 2
            } else {
                index += 1
                continue
            }
            if next < xmp.count, let digit = hexDigitValue(xmp[next]), digit < 10 { return Int(digit) }
        }
        index += 1
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
