// Matches Pillow's `Image.resize(size, Image.LANCZOS)` on 8-bit RGB images
// (libImaging/Resample.c: precompute_coeffs, normalize_coeffs_8bpc,
// ImagingResampleHorizontal_8bpc / Vertical_8bpc, ImagingResampleInner),
// bit for bit: same double-precision filter weights, 22-bit fixed-point
// coefficients, rounding by the 1 << 21 bias and clipping to 0...255, and the
// same pass order (each pass rounds to 8 bits, so the order shows in the result).
import Foundation

extension RGBImage {
    /// Resized with Pillow's LANCZOS filter (support 3, antialiased when shrinking).
    /// Throws for non-positive sizes and for results over `maxPixels` pixels.
    public func resizedLanczos(width newWidth: Int, height newHeight: Int,
                               maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        guard let pixelCount = byteCount(newWidth, newHeight, channels: 1), pixelCount <= maxPixels else {
            throw ImageError.invalidArgument(
                "resize: target size \(newWidth)x\(newHeight) must be positive and at most \(maxPixels) pixels")
        }
        let vertical = FixedPointKernel(inputSize: height, outputSize: newHeight)
        let horizontal = FixedPointKernel(inputSize: width, outputSize: newWidth)
        switch (newWidth != width, newHeight != height) {
        case (false, false):
            return self
        case (true, false):
            return horizontalPass(horizontal, rows: 0..<height)
        case (false, true):
            return verticalPass(vertical, rowShift: 0)
        case (true, true):
            // Pillow 12.3+ (read off the 13.0.0 wheel's ImagingResample; the
            // published Resample.c before it always goes horizontal first)
            // shrinks vertically first when it shrinks rows more than twice as much as columns.
            if newHeight < height && height - newHeight > 2 * (width - newWidth) {
                return verticalPass(vertical, rowShift: 0).horizontalPass(horizontal, rows: 0..<newHeight)
            }
            // Horizontal first, over only the rows the vertical pass reads.
            let firstRow = vertical.bounds[0].start
            let lastRow = vertical.bounds[newHeight - 1].start + vertical.bounds[newHeight - 1].count
            return horizontalPass(horizontal, rows: firstRow..<lastRow).verticalPass(vertical, rowShift: firstRow)
        }
    }

    private func horizontalPass(_ kernel: FixedPointKernel, rows: Range<Int>) -> RGBImage {
        let outWidth = kernel.bounds.count
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
        pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                kernel.weights.withUnsafeBufferPointer { weights in
                    for (outRow, row) in rows.enumerated() {
                        let rowBase = row * width * 3
                        for x in 0..<outWidth {
                            let (start, count) = kernel.bounds[x]
                            let k = x * kernel.stride
                            var s0 = pillowRoundingBias, s1 = pillowRoundingBias, s2 = pillowRoundingBias
                            for i in 0..<count {
                                let p = rowBase + (start + i) * 3
                                let w = weights[k + i]
                                s0 = s0 &+ Int32(input[p]) &* w
                                s1 = s1 &+ Int32(input[p + 1]) &* w
                                s2 = s2 &+ Int32(input[p + 2]) &* w
                            }
                            let o = (outRow * outWidth + x) * 3
                            output[o] = clip8(s0)
                            output[o + 1] = clip8(s1)
                            output[o + 2] = clip8(s2)
                        }
                    }
                }
            }
        }
        return RGBImage(validatedWidth: outWidth, height: rows.count, pixels: out)
    }

    /// `rowShift`: the first source row this image holds (after a horizontal pass).
    private func verticalPass(_ kernel: FixedPointKernel, rowShift: Int) -> RGBImage {
        let outHeight = kernel.bounds.count
        let rowBytes = width * 3
        var out = [UInt8](repeating: 0, count: rowBytes * outHeight)
        pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                kernel.weights.withUnsafeBufferPointer { weights in
                    for y in 0..<outHeight {
                        let (start, count) = kernel.bounds[y]
                        let k = y * kernel.stride
                        for column in 0..<rowBytes {
                            var sum = pillowRoundingBias
                            for i in 0..<count {
                                sum = sum &+ Int32(input[(start - rowShift + i) * rowBytes + column]) &* weights[k + i]
                            }
                            output[y * rowBytes + column] = clip8(sum)
                        }
                    }
                }
            }
        }
        return RGBImage(validatedWidth: width, height: outHeight, pixels: out)
    }
}

/// Resample.c's PRECISION_BITS: 32 - 8 - 2.
private let precisionBits: Int32 = 22
private let pillowRoundingBias: Int32 = 1 << (precisionBits - 1)

private func clip8(_ sum: Int32) -> UInt8 {
    UInt8(clamping: sum >> precisionBits)
}

/// Per output index: the first input index, the number of taps, and the taps'
/// fixed-point weights (`stride` slots each), as `precompute_coeffs` followed by
/// `normalize_coeffs_8bpc` computes them for the box (0, 0, inputSize).
private struct FixedPointKernel {
    let bounds: [(start: Int, count: Int)]
    let weights: [Int32]
    let stride: Int

    init(inputSize: Int, outputSize: Int) {
        let support = 3.0 // LANCZOS
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1.0)
        let scaledSupport = support * filterScale
        stride = Int(scaledSupport.rounded(.up)) * 2 + 1
        var bounds: [(start: Int, count: Int)] = []
        var weights = [Int32](repeating: 0, count: outputSize * stride)
        var taps = [Double](repeating: 0, count: stride)
        let inverseScale = 1.0 / filterScale
        for out in 0..<outputSize {
            let center = (Double(out) + 0.5) * scale
            let start = max(Int(center - scaledSupport + 0.5), 0)
            let end = min(Int(center + scaledSupport + 0.5), inputSize)
            let count = max(end - start, 0)
            var total = 0.0
            for i in 0..<count {
                let w = lanczos((Double(i + start) - center + 0.5) * inverseScale)
                taps[i] = w
                total += w
            }
            for i in 0..<count {
                let normalized = total != 0 ? taps[i] / total : taps[i]
                let fixed = normalized * Double(1 << precisionBits)
                weights[out * stride + i] = Int32(normalized < 0 ? fixed - 0.5 : fixed + 0.5)
            }
            bounds.append((start, count))
        }
        self.bounds = bounds
        self.weights = weights
    }
}

private func sinc(_ x: Double) -> Double {
    if x == 0 { return 1 }
    let t = x * Double.pi
    return sin(t) / t
}

private func lanczos(_ x: Double) -> Double {
    (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0
}
