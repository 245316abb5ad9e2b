// 8-bit images as Pillow holds them after `convert("RGB")` / `convert("L")`.

/// An 8-bit RGB image: `height` rows of `width` pixels, interleaved R, G, B.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    /// Throws `ImageError.invalidArgument` unless `pixels` holds exactly width*height*3 bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard byteCount(width, height, channels: 3) == pixels.count else {
            throw ImageError.invalidArgument("RGB image \(width)x\(height) cannot hold \(pixels.count) bytes")
        }
        self.init(validatedWidth: width, height: height, pixels: pixels)
    }

    init(validatedWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// An 8-bit single-channel image (a mask, a gray photo), row-major.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    /// Throws `ImageError.invalidArgument` unless `pixels` holds exactly width*height bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard byteCount(width, height, channels: 1) == pixels.count else {
            throw ImageError.invalidArgument("gray image \(width)x\(height) cannot hold \(pixels.count) bytes")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// width * height * channels, or nil for non-positive sides or overflow.
func byteCount(_ width: Int, _ height: Int, channels: Int) -> Int? {
    guard width > 0, height > 0 else { return nil }
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    let (bytes, overflow2) = pixels.multipliedReportingOverflow(by: channels)
    return overflow || overflow2 ? nil : bytes
}
