// Matches `PIL.ImageOps.exif_transpose`: EXIF orientation 2...8 mapped to
// `Image.transpose` methods (ROTATE_90 is counter-clockwise in Pillow).

extension RGBImage {
    /// The image as `ImageOps.exif_transpose` shows it for EXIF `orientation`;
    /// values outside 2...8 leave it as it is.
    public func applyingEXIFOrientation(_ orientation: Int) -> RGBImage {
        let swapsAxes = (5...8).contains(orientation)
        let outWidth = swapsAxes ? height : width
        let outHeight = swapsAxes ? width : height
        // Source pixel (column, row) for output pixel (x, y).
        let source: (Int, Int) -> (Int, Int)
        switch orientation {
        case 2: source = { x, y in (width - 1 - x, y) }                  // FLIP_LEFT_RIGHT
        case 3: source = { x, y in (width - 1 - x, height - 1 - y) }     // ROTATE_180
        case 4: source = { x, y in (x, height - 1 - y) }                 // FLIP_TOP_BOTTOM
        case 5: source = { x, y in (y, x) }                              // TRANSPOSE
        case 6: source = { x, y in (y, height - 1 - x) }                 // ROTATE_270
        case 7: source = { x, y in (width - 1 - y, height - 1 - x) }     // TRANSVERSE
        case 8: source = { x, y in (width - 1 - y, x) }                  // ROTATE_90
        default: return self
        }
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { input in
            for y in 0..<outHeight {
                for x in 0..<outWidth {
                    let (sx, sy) = source(x, y)
                    let from = 3 * (sy * width + sx), to = 3 * (y * outWidth + x)
                    out[to] = input[from]
                    out[to + 1] = input[from + 1]
                    out[to + 2] = input[from + 2]
                }
            }
        }
        return RGBImage(validatedWidth: outWidth, height: outHeight, pixels: out)
    }
}
