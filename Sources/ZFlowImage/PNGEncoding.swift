// PNG output through libpng (8-bit gray and RGB).
import CImageCodecs
import Foundation

/// PNG bytes of an 8-bit gray image.
public func encodePNG(gray image: GrayImage) throws -> [UInt8] {
    try encodePNG(pixels: image.pixels, width: image.width, height: image.height, channels: 1)
}

/// PNG bytes of an 8-bit RGB image.
public func encodePNG(rgb image: RGBImage) throws -> [UInt8] {
    try encodePNG(pixels: image.pixels, width: image.width, height: image.height, channels: 3)
}

/// Writes a gray image as PNG.
public func savePNG(gray image: GrayImage, to url: URL) throws {
    try write(encodePNG(gray: image), to: url)
}

/// Writes an RGB image as PNG.
public func savePNG(rgb image: RGBImage, to url: URL) throws {
    try write(encodePNG(rgb: image), to: url)
}

private func encodePNG(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
    guard width <= Int(Int32.max), height <= Int(Int32.max) else {
        throw ImageError.invalidArgument("PNG encode: \(width)x\(height) is too large")
    }
    var output: UnsafeMutablePointer<UInt8>?
    var size = 0
    var message = [CChar](repeating: 0, count: 512)
    let status = pixels.withUnsafeBufferPointer { buffer in
        zf_png_encode(buffer.baseAddress, Int32(width), Int32(height), Int32(channels), &output, &size,
                      &message, message.count)
    }
    defer { zf_buffer_free(output) }
    guard status == 0, let output else {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw ImageError.invalidArgument(text)
    }
    return Array(UnsafeBufferPointer(start: output, count: size))
}

private func write(_ bytes: [UInt8], to url: URL) throws {
    do {
        try Data(bytes).write(to: url, options: .atomic)
    } catch {
        throw ImageError.io(path: url.path, message: "cannot write PNG: \(error.localizedDescription)")
    }
}
