/// exp on 16 lanes: Cephes `expf` range reduction and polynomial (within ~2 ulp of libm over
/// the finite range); inputs below -87.3 give 0, above 88.7 give the largest finite value's
/// neighbourhood (inputs here are max-subtracted or bounded, so never that large). The reduction
/// and the polynomial are fused multiply-adds (`addingProduct`): Swift does not contract `a * b + c`
/// itself, and the separate multiplies and adds made this twice the instructions.
@inline(__always) func exp16(_ input: SIMD16<Float>) -> SIMD16<Float> {
    let high = SIMD16<Float>(repeating: 88.72283), low = SIMD16<Float>(repeating: -87.33654)
    let x = input.replacing(with: high, where: input .> high).replacing(with: low, where: input .< low)
    // Round x * log2(e) to the nearest integer n with the 1.5 * 2^23 trick (no libm calls).
    let magic = SIMD16<Float>(repeating: 12582912)
    let shifted = magic.addingProduct(x, 1.44269504088896341)
    let n = shifted - magic
    let r = x.addingProduct(n, -0.693359375).addingProduct(n, 2.12194440e-4)
    var p = SIMD16<Float>(repeating: 1.3981999507e-3).addingProduct(r, 1.9875691500e-4)
    p = SIMD16<Float>(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 5.0000001201e-1).addingProduct(p, r)
    p = (r + 1).addingProduct(p, r * r)
    let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self) &+ 127) &<< 23
    let scaled = p * unsafeBitCast(exponent, to: SIMD16<Float>.self)
    return scaled.replacing(with: 0, where: input .< -87.33654)
}

/// exp of each of `count` values in place, scaled by `scale` first; returns their sum.
func expInPlace(_ values: UnsafeMutablePointer<Float>, count: Int, subtracting offset: Float, scale: Float) -> Float {
    var lanes = SIMD16<Float>(repeating: 0)
    var index = 0
    while index + 16 <= count {
        let value = exp16((load16(values + index) - offset) * scale)
        store16(value, values + index)
        lanes += value
        index += 16
    }
    if index < count {
        var tail = SIMD16<Float>(repeating: -.infinity)
        for lane in 0..<(count - index) { tail[lane] = values[index + lane] }
        let value = exp16((tail - offset) * scale)
        for lane in 0..<(count - index) { values[index + lane] = value[lane] }
        lanes += value
    }
    return lanes.sum()
}

/// The largest of `count` values (-inf for none).
func maximum(_ values: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD16<Float>(repeating: -.infinity)
    var index = 0
    while index + 16 <= count {
        let next = load16(values + index)
        lanes.replace(with: next, where: next .> lanes)
        index += 16
    }
    var peak = lanes.max()
    while index < count {
        peak = max(peak, values[index])
        index += 1
    }
    return peak
}

// Comparisons with `replacing(with:where:)` compile to vector compare-and-blend; the standard
// library's `pointwiseMin`/`pointwiseMax` on SIMD16 do not (they go lane by lane), so they are not used here.

/// |x| on 16 lanes (clears the sign bits).
@inline(__always) func magnitude16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
}
