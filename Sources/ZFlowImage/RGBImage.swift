// 8-bit images as Pillow holds them after `convert("RGB")` / `convert("L")`.

/// An 8-bit RGB image: `height` rows of `width` pixels, interleaved R, G, B.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    /// Throws `ImageError.invalidArgument` unless `pixels` holds exactly width*height*3 bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw ImageError.invalidArgument(
                "RGB image \(width)x\(height) needs \(max(width, 0) * max(height, 0) * 3) bytes, got \(pixels.count)")
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
        guard width > 0, height > 0, pixels.count == width * height else {
            throw ImageError.invalidArgument(
                "gray image \(width)x\(height) needs \(max(width, 0) * max(height, 0)) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}
