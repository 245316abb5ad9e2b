// Matches `ImageOps.exif_transpose(Image.open(p)).convert("RGB")` for PNG and JPEG
// (deliberate differences, e.g. 16-bit gray, are listed in docs/parity/images.md).
import CImageCodecs
import Foundation
import ZFlowIO

/// Pillow's decompression-bomb threshold (`Image.MAX_IMAGE_PIXELS`), our default limit.
public let defaultMaxPixels = 89_478_485

/// Decodes PNG or JPEG bytes (recognized by magic bytes) to 8-bit RGB.
/// - Parameters:
///   - origin: names the data in errors (a path or URL).
///   - maxPixels: headers declaring more pixels are refused before any allocation.
///   - applyEXIFOrientation: rotate/flip as `ImageOps.exif_transpose` does.
public func decodeImage(data: [UInt8], origin: String = "<memory>", maxPixels: Int = defaultMaxPixels,
                        applyEXIFOrientation: Bool = true) throws -> RGBImage {
    guard let format = ImageFormat(magic: data) else {
        throw ImageError.unrecognizedFormat(origin: origin, found: ImageFormat.describe(data))
    }
    var decoded = zf_image()
    var message = [CChar](repeating: 0, count: 512)
    let limit = UInt64(max(maxPixels, 0))
    let status = data.withUnsafeBufferPointer { bytes in
        switch format {
        case .png: return zf_png_decode(bytes.baseAddress, bytes.count, limit, &decoded, &message, message.count)
        case .jpeg: return zf_jpeg_decode(bytes.baseAddress, bytes.count, limit, &decoded, &message, message.count)
        }
    }
    defer { zf_image_free(&decoded) }
    let formatName = format == .png ? "PNG" : "JPEG"
    let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    switch CodecStatus(rawValue: status) {
    case .ok: break
    case .tooLarge, .memory: throw ImageError.tooLarge(origin: origin, message: text)
    default: throw ImageError.corrupt(origin: origin, format: formatName, message: text)
    }
    guard let layout = PixelLayout(rawValue: decoded.layout), layout.channels == Int(decoded.channels),
          decoded.width > 0, decoded.height > 0, let pixelBytes = decoded.pixels
    else {
        throw ImageError.corrupt(origin: origin, format: formatName,
                                 message: "decoder returned an unusable \(decoded.width)x\(decoded.height) image")
    }
    let width = Int(decoded.width), height = Int(decoded.height)
    let source = UnsafeBufferPointer(start: pixelBytes, count: width * height * layout.channels)
    let image = RGBImage(validatedWidth: width, height: height,
                         pixels: pillowRGB(source, layout: layout, pixelCount: width * height))
    guard applyEXIFOrientation else { return image }
    // PngImagePlugin stores an eXIf chunk as `b"Exif\x00\x00" + data`.
    let exif = bytes(decoded.exif, decoded.exif_size).map { format == .png ? exifHeader + $0 : $0 }
    let orientation = pillowOrientation(exif: exif, exifProfile: bytes(decoded.exif_profile, decoded.exif_profile_size),
                                        xmp: bytes(decoded.xmp, decoded.xmp_size))
    return orientation.map(image.applyingEXIFOrientation) ?? image
}

private func bytes(_ pointer: UnsafeMutablePointer<UInt8>?, _ count: Int) -> [UInt8]? {
    pointer.map { Array(UnsafeBufferPointer(start: $0, count: count)) }
}

/// Reads and decodes a PNG or JPEG file; errors name the file, and say so when it is missing
/// (with the folder a relative path was resolved against), a folder, or unreadable.
public func loadImage(_ url: URL, maxPixels: Int = defaultMaxPixels, applyEXIFOrientation: Bool = true) throws -> RGBImage {
    // `relativePath` is the path as given for a URL made from a relative path, so that the error says what it was relative to.
    try PathCheck.require(url.relativePath)
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw ImageError.io(path: url.path, message: "cannot read image file: \(error.localizedDescription)")
    }
    return try decodeImage(data: [UInt8](data), origin: url.path, maxPixels: maxPixels,
                           applyEXIFOrientation: applyEXIFOrientation)
}

/// The C codecs' return codes (`enum zf_status`).
private enum CodecStatus: Int32 {
    case ok = 0, corrupt = 1, tooLarge = 2, memory = 3, argument = 4
}
