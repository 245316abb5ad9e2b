import Testing
import ZFlowTestSupport
@testable import ZFlowTensor

/// `sgemm` on every available backend (the packed GEMM of the build's vector width, OpenBLAS,
/// oneDNN) against the sum written out in Float64, on shapes that cross every edge of the packed
/// GEMM's blocking: partial 6 x 32 (or 6 x 16) tiles, several depth blocks (beta applied once, then accumulation), several column blocks,
/// both two-thread splits, and both orders (a few rows multiplied a panel of B at a time, more a block at a time).
struct GEMMTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let m, n, k: Int
        var transposeA = false, transposeB = false
        var alpha: Float = 1, beta: Float = 0
        var testDescription: String { "\(m)x\(n)x\(k) tA \(transposeA) tB \(transposeB) alpha \(alpha) beta \(beta)" }
    }

    static let cases: [Case] = [
        Case(m: 1, n: 1, k: 1),
        Case(m: 7, n: 33, k: 5),
        Case(m: 13, n: 70, k: 800, transposeA: true),
        Case(m: 130, n: 2100, k: 40, transposeB: true),            // two column blocks, split by columns
        Case(m: 300, n: 20, k: 1600, transposeA: true, transposeB: true, alpha: 0.5, beta: 2),  // three depth blocks, split by rows
        Case(m: 96, n: 64, k: 768, beta: -1),
        // Few rows, B packed a panel at a time: CLIP's 77 tokens, a depth that ends in a partial
        // group of four (B's transposed packing) and three depth blocks, columns split by the cores.
        Case(m: 77, n: 700, k: 1543, transposeB: true, beta: 0.5),
        Case(m: 600, n: 70, k: 1030, transposeB: true),  // the same packing on the block-at-a-time path (up to 4 cores)
    ]

    @Test(arguments: cases)
    func sgemmMatchesTheWrittenOutSum(_ shape: Case) throws {
        try onEachBackend { backend in
        var generator = SeededGenerator(seed: UInt64(shape.m * 1_000_003 + shape.n * 1009 + shape.k))
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &generator) } }
        let a = values(shape.m * shape.k), b = values(shape.k * shape.n), c = values(shape.m * shape.n)
        let lda = shape.transposeA ? shape.m : shape.k, ldb = shape.transposeB ? shape.k : shape.n
        func aValue(_ i: Int, _ p: Int) -> Float { shape.transposeA ? a[p * lda + i] : a[i * lda + p] }
        func bValue(_ p: Int, _ j: Int) -> Float { shape.transposeB ? b[j * ldb + p] : b[p * ldb + j] }
        var result = c
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                result.withUnsafeMutableBufferPointer { out in
                    sgemm(m: shape.m, n: shape.n, k: shape.k, a: a.baseAddress!, lda: lda, transposeA: shape.transposeA,
                          b: b.baseAddress!, ldb: ldb, transposeB: shape.transposeB,
                          c: out.baseAddress!, ldc: shape.n, alpha: shape.alpha, beta: shape.beta)
                }
            }
        }
        var worst = 0.0, failures = 0
        for i in 0..<shape.m {
            for j in 0..<shape.n {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<shape.k {
                    let product = Double(aValue(i, p)) * Double(bValue(p, j))
                    sum += product
                    magnitude += abs(product)
                }
                let expected = Double(shape.alpha) * sum + Double(shape.beta) * Double(c[i * shape.n + j])
                let error = abs(Double(result[i * shape.n + j]) - expected)
                // float32 accumulation: a few ulps of the sum of magnitudes
                let bound = 1e-6 * Double(shape.k).squareRoot() * (abs(Double(shape.alpha)) * magnitude + abs(Double(shape.beta))) + 1e-7
                worst = max(worst, error / bound)
                if error > bound { failures += 1 }
            }
        }
        #expect(failures == 0, "\(backend): \(failures) of \(shape.m * shape.n) values outside the bound; worst error / bound \(worst)")
        }
    }
}
