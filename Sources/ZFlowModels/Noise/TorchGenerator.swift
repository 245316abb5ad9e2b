import Foundation
import ZFlowTensor

/// A seeded random source that reproduces `torch.Generator().manual_seed(seed)`
/// on CPU: `randn(shape)` returns bit for bit what
/// `torch.randn(shape, generator=generator)` returns in float32, and successive
/// calls continue the same stream as successive torch calls do.
///
/// This implementation matches PyTorch's `CPUGeneratorImpl` and `normal_kernel`
/// (aten/src/ATen/native/cpu/DistributionTemplates.h, AVX2 build, as shipped
/// in the x86 CPU wheels):
/// - 16 values or more: all uniforms are drawn first (24 random bits each), then
///   Box-Muller runs on 16-value segments (first 8 as u1, next 8 as u2); when the
///   count is not a multiple of 16, 16 fresh uniforms replace the last 16 values
///   and are transformed again.
/// - fewer than 16 values: double-precision Box-Muller from 53-bit uniforms, one
///   value per call, the sine half cached in the generator for the next value.
public struct TorchGenerator: Sendable {
    private var engine: MersenneTwister
    private var cachedNormal: Double?

    public init(seed: UInt64) {
        engine = MersenneTwister(seed: seed)
        cachedNormal = nil
    }

    /// Standard normal float32 values in the shape `shape` (row-major).
    public mutating func randn(_ shape: [Int]) -> Tensor {
        let result = Tensor(uninitialized: shape)
        fillNormal(result.mutablePointer, count: result.count)
        return result
    }

    private mutating func fillNormal(_ values: UnsafeMutablePointer<Float>, count: Int) {
        guard count >= 16 else {
            for i in 0..<count { values[i] = Float(nextDoubleNormal()) }
            return
        }
        for i in 0..<count { values[i] = nextFloatUniform() }
        var start = 0
        while start + 16 <= count {
            BoxMullerAVX2.transform16(values + start)
            start += 16
        }
        if count % 16 != 0 {
            let tail = values + count - 16
            for i in 0..<16 { tail[i] = nextFloatUniform() }
            BoxMullerAVX2.transform16(tail)
        }
    }

    /// `uniform_real_distribution<float>(0, 1)`: 24 random bits times 2^-24.
    private mutating func nextFloatUniform() -> Float {
        Float(engine.next() & 0xFF_FFFF) * 0x1p-24
    }

    /// `uniform_real_distribution<double>(0, 1)`: 53 bits of `random64()`
    /// (first draw in the high word) times 2^-53.
    private mutating func nextDoubleUniform() -> Double {
        let high = UInt64(engine.next())
        let low = UInt64(engine.next())
        return Double(((high << 32) | low) & ((1 << 53) - 1)) * 0x1p-53
    }

    /// `normal_distribution<double>(0, 1)` with the generator's cached second value.
    private mutating func nextDoubleNormal() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached
        }
        let u1 = nextDoubleUniform()
        let u2 = nextDoubleUniform()
        let radius = (-2.0 * Foundation.log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = radius * Foundation.sin(theta)
        return radius * Foundation.cos(theta)
    }
}
