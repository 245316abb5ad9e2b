import Foundation
import ZFlowTensor

/// Direct-loop definitions of a few ops, for self-checks that need no fixture files.
enum Naive {
    static func matmul(_ a: [[Float]], _ b: [[Float]]) -> [[Float]] {
        a.map { row in (0..<b[0].count).map { j in zip(row, b).reduce(0) { $0 + $1.0 * $1.1[j] } } }
    }

    /// x [N,C,H,W], w [O,C,kh,kw]: the convolution sum written out.
    static func conv2d(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, stride: Int, padding: Int) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let ho = (h + 2 * padding - kh) / stride + 1, wo = (wd + 2 * padding - kw) / stride + 1
        var out = [Float](repeating: 0, count: n * o * ho * wo)
        for b in 0..<n { for oc in 0..<o { for y in 0..<ho { for xx in 0..<wo {
            var s: Float = bias?.pointer[oc] ?? 0
            for ic in 0..<c { for i in 0..<kh { for j in 0..<kw {
                let iy = y * stride - padding + i, ix = xx * stride - padding + j
                if iy >= 0, iy < h, ix >= 0, ix < wd {
                    s += x.pointer[((b * c + ic) * h + iy) * wd + ix] * w.pointer[((oc * c + ic) * kh + i) * kw + j]
                }
            } } }
            out[((b * o + oc) * ho + y) * wo + xx] = s
        } } } }
        return Tensor(shape: [n, o, ho, wo], scalars: out)
    }

    /// x [N,Cin,H,W], w [Cin,Cout,kh,kw]: every input pixel scattered through the kernel.
    static func convTranspose2d(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, stride: Int, padding: Int) -> Tensor {
        let (n, ci, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (co, kh, kw) = (w.shape[1], w.shape[2], w.shape[3])
        let ho = (h - 1) * stride - 2 * padding + kh, wo = (wd - 1) * stride - 2 * padding + kw
        var out = [Float](repeating: 0, count: n * co * ho * wo)
        for b in 0..<n { for oc in 0..<co {
            for p in 0..<(ho * wo) { out[(b * co + oc) * ho * wo + p] = bias?.pointer[oc] ?? 0 }
            for ic in 0..<ci { for y in 0..<h { for xx in 0..<wd { for i in 0..<kh { for j in 0..<kw {
                let oy = y * stride - padding + i, ox = xx * stride - padding + j
                if oy >= 0, oy < ho, ox >= 0, ox < wo {
                    out[((b * co + oc) * ho + oy) * wo + ox] +=
                        x.pointer[((b * ci + ic) * h + y) * wd + xx] * w.pointer[((ic * co + oc) * kh + i) * kw + j]
                }
            } } } } }
        } }
        return Tensor(shape: [n, co, ho, wo], scalars: out)
    }

    /// One head at a time, softmax in Double.
    static func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, causal: Bool) -> Tensor {
        let (tq, d, tk, dv) = (q.shape[0], q.shape[1], k.shape[0], v.shape[1])
        let hd = d / heads, hv = dv / heads
        var out = [Float](repeating: 0, count: tq * dv)
        for h in 0..<heads { for i in 0..<tq {
            var s = (0..<tk).map { j -> Double in
                if causal && j > i { return -.infinity }
                var dot = 0.0
                for c in 0..<hd { dot += Double(q.pointer[i * d + h * hd + c]) * Double(k.pointer[j * d + h * hd + c]) }
                return dot / Double(hd).squareRoot()
            }
            let peak = s.max()!
            s = s.map { ($0 - peak).isNaN ? 0 : Foundation.exp($0 - peak) }
            let total = s.reduce(0, +)
            for c in 0..<hv {
                var acc = 0.0
                for j in 0..<tk { acc += s[j] / total * Double(v.pointer[j * dv + h * hv + c]) }
                out[i * dv + h * hv + c] = Float(acc)
            }
        } }
        return Tensor(shape: [tq, dv], scalars: out)
    }
}

/// Deterministic pseudo-random values in [-1, 1) (a 64-bit LCG), for inputs of self-checks.
func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    let values = (0..<Tensor.elementCount(shape)).map { _ -> Float in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 23) - 1
    }
    return Tensor(shape: shape, scalars: values)
}
