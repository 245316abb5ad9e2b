// Matches Pillow's `Image.convert("RGB")` for the modes PNG and JPEG decode to:
// gray replicated, alpha dropped without compositing, CMYK through `cmyk2rgb`
// (libImaging/Convert.c) after the Adobe inversion of JpegImagePlugin's "CMYK;I".

/// The sample layout the C decoders return (`enum zf_layout`).
enum PixelLayout: Int32 {
    case gray = 1, grayAlpha = 2, rgb = 3, rgba = 4, cmyk = 5

    var channels: Int {
        switch self {
        case .gray: return 1
        case .grayAlpha: return 2
        case .rgb: return 3
        case .rgba, .cmyk: return 4
        }
    }
}

func pillowRGB(_ source: UnsafeBufferPointer<UInt8>, layout: PixelLayout, pixelCount count: Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count * 3) { out, initialized in
        switch layout {
        case .gray, .grayAlpha:
            let stride = layout.channels
            for i in 0..<count {
                let value = source[i * stride]
                out[3 * i] = value
                out[3 * i + 1] = value
                out[3 * i + 2] = value
            }
        case .rgb:
            for i in 0..<(count * 3) { out[i] = source[i] }
        case .rgba:
            for i in 0..<count {
                out[3 * i] = source[4 * i]
                out[3 * i + 1] = source[4 * i + 1]
                out[3 * i + 2] = source[4 * i + 2]
            }
        case .cmyk:
            for i in 0..<count {
                // Stored inverted, so the stored K byte is Pillow's `255 - k`.
                let inverseK = Int(source[4 * i + 3])
                for c in 0..<3 {
                    let ink = 255 - Int(source[4 * i + c])
                    out[3 * i + c] = UInt8(clamping: inverseK - multiplyDivide255(ink, inverseK))
                }
            }
        }
        initialized = count * 3
    }
}

/// Pillow's MULDIV255: a * b / 255 with its rounding.
private func multiplyDivide255(_ a: Int, _ b: Int) -> Int {
    let t = a * b + 128
    return ((t >> 8) + t) >> 8
}
