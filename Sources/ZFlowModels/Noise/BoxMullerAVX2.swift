// Matches the float32 Box-Muller step of PyTorch's CPU `normal_fill_16_AVX2`
// (aten/src/ATen/native/cpu/DistributionTemplates.h), whose `log256_ps` and
// `sincos256_ps` come from avx_mathfun.h (Cephes polynomials, zlib licence).
// PyTorch's x86 wheels run this path (CPU capability AVX2 or better) and the
// compiler contracts several multiply-adds into FMAs; the `addingProduct`
// calls below are exactly those contractions, found by comparing with
// `torch.randn` bit for bit (tools/fixtures/noise.py).

enum BoxMullerAVX2 {
    /// Turns 16 uniforms in [0, 1) into 16 normals in place: lane j uses
    /// u1 = 1 - values[j] and u2 = values[j + 8] and writes cos to j, sin to j + 8.
    static func transform16(_ values: UnsafeMutablePointer<Float>) {
        let twoPi = Float(bitPattern: 0x40C9_0FDB)   // Float(2 * Double.pi)
        for j in 0..<8 {
            let u1 = 1 - values[j]
            let u2 = values[j + 8]
            let radius = (-2 * log(u1)).squareRoot()
            let (sine, cosine) = sincos(twoPi * u2)
            values[j] = radius * cosine
            values[j + 8] = radius * sine
        }
    }

    private static let sqrtHalf = Float(bitPattern: 0x3F35_04F3)
    private static let logPolynomial: [Float] = [
        0x3D90_21BB, 0xBDEB_D1B8, 0x3DEF_251A, 0xBDFE_5D4F, 0x3E11_E9BF,
        0xBE2A_AE50, 0x3E4C_CEAC, 0xBE7F_FFFC, 0x3EAA_AAAA,
    ].map { Float(bitPattern: $0) }
    private static let logQ1 = Float(bitPattern: 0xB95E_8083)   // -2.12194440e-4
    private static let logQ2 = Float(bitPattern: 0x3F31_8000)   // 0.693359375

    /// Cephes `logf` for x > 0 as `log256_ps` evaluates it.
    static func log(_ input: Float) -> Float {
        let x0 = max(input, Float(bitPattern: 0x0080_0000))
        let bits = x0.bitPattern
        var e = Float(Int32(bitPattern: bits >> 23) - 0x7F) + 1
        var x = Float(bitPattern: (bits & ~0x7F80_0000) | Float(0.5).bitPattern)
        let below = x < sqrtHalf
        let tmp: Float = below ? x : 0
        x -= 1
        if below { e -= 1 }
        x += tmp
        let z = x * x
        var y = logPolynomial[0]
        for coefficient in logPolynomial.dropFirst() { y = coefficient.addingProduct(y, x) }
        y *= x
        y = (e * logQ1).addingProduct(y, z)
        y -= z * 0.5
        x += y
        return x.addingProduct(e, logQ2)
    }

    private static let fourOverPi = Float(bitPattern: 0x3FA2_F983)
    private static let minusPiOver4Parts: [Float] = [0xBF49_0000, 0xB97D_A000, 0xB322_2169].map { Float(bitPattern: $0) }
    private static let sinPolynomial: [Float] = [0xB94C_A1F9, 0x3C08_839E, 0xBE2A_AAA3].map { Float(bitPattern: $0) }
    private static let cosPolynomial: [Float] = [0x37CC_F5CE, 0xBAB6_061A, 0x3D2A_AAA5].map { Float(bitPattern: $0) }

    /// Cephes `sincosf` as `sincos256_ps` evaluates it (arguments below 8192).
    static func sincos(_ input: Float) -> (sin: Float, cos: Float) {
        var sinNegative = input.sign == .minus
        var x = abs(input)
        var octant = Int32(x * fourOverPi)   // truncation, as cvttps
        octant = (octant &+ 1) & ~1
        let y = Float(octant)
        if octant & 4 != 0 { sinNegative.toggle() }
        let useCosPolynomialForCos = octant & 2 == 0
        let cosNegative = (~(octant &- 2)) & 4 != 0
        for part in minusPiOver4Parts { x = x.addingProduct(y, part) }

        let z = x * x
        var c = cosPolynomial[0]
        c = cosPolynomial[1].addingProduct(c, z)
        c = cosPolynomial[2].addingProduct(c, z)
        c *= z
        c = (-(z * 0.5)).addingProduct(c, z)
        c += 1
        var s = sinPolynomial[0]
        s = sinPolynomial[1].addingProduct(s, z)
        s = sinPolynomial[2].addingProduct(s, z)
        s *= z
        s = x.addingProduct(s, x)

        let sine = useCosPolynomialForCos ? s : c
        let cosine = useCosPolynomialForCos ? c : s
        return (sinNegative ? -sine : sine, cosNegative ? -cosine : cosine)
    }
}
