// A picture for people: a segmentation mask tinted over the photo, with its outline.

/// An RGB colour for overlays.
public struct OverlayColor: Sendable, Equatable {
    public var red: UInt8, green: UInt8, blue: UInt8
    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }
    public static let red = OverlayColor(red: 255, green: 40, blue: 40)
}

/// `image` with `mask` (same size; 0 = background, 255 = object, values between
/// blend proportionally) tinted in `color` at opacity `alpha`, and the mask's
/// outline (pixels at >= 128 with a 4-neighbour below 128) drawn fully in `color`.
public func overlay(_ image: RGBImage, mask: GrayImage, color: OverlayColor = .red, alpha: Double = 0.5) throws -> RGBImage {
    guard mask.width == image.width, mask.height == image.height else {
        throw ImageError.invalidArgument(
            "overlay: mask \(mask.width)x\(mask.height) does not match image \(image.width)x\(image.height)")
    }
    guard alpha.isFinite, (0...1).contains(alpha) else {
        throw ImageError.invalidArgument("overlay: alpha \(alpha) must be in 0...1")
    }
    let width = image.width, height = image.height
    let tint = [Double(color.red), Double(color.green), Double(color.blue)]
    var out = image.pixels
    for y in 0..<height {
        for x in 0..<width {
            let m = mask.pixels[y * width + x]
            guard m > 0 else { continue }
            let weight = alpha * Double(m) / 255
            let isOutline = m >= 128 && hasBackgroundNeighbour(mask, x: x, y: y)
            for c in 0..<3 {
                let i = 3 * (y * width + x) + c
                let blended = isOutline ? tint[c] : Double(out[i]) * (1 - weight) + tint[c] * weight
                out[i] = UInt8(blended.rounded())
            }
        }
    }
    return RGBImage(validatedWidth: width, height: height, pixels: out)
}

private func hasBackgroundNeighbour(_ mask: GrayImage, x: Int, y: Int) -> Bool {
    func isBackground(_ nx: Int, _ ny: Int) -> Bool {
        nx >= 0 && ny >= 0 && nx < mask.width && ny < mask.height && mask.pixels[ny * mask.width + nx] < 128
    }
    return isBackground(x - 1, y) || isBackground(x + 1, y) || isBackground(x, y - 1) || isBackground(x, y + 1)
}

/// `overlay` with the mask given as `width * height` bytes of the image's size.
public func overlay(_ image: RGBImage, mask: [UInt8], color: OverlayColor = .red, alpha: Double = 0.5) throws -> RGBImage {
    try overlay(image, mask: GrayImage(width: image.width, height: image.height, pixels: mask), color: color, alpha: alpha)
}
