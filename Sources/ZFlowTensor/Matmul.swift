import CBLAS

/// Matrix product: [M,K] x [K,N] -> [M,N], or batched [B,M,K] x [B,K,N] -> [B,M,N].
/// `transposeA` / `transposeB` read the operand as its transpose (no copy is made).
/// Matches `torch.matmul` for these ranks.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
    guard (a.rank == 2 && b.rank == 2) || (a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0]) else {
        throw ShapeError("matmul", "operands \(a.shape) and \(b.shape) must both be rank 2, or rank 3 with equal batch")
    }
    let batch = a.rank == 3 ? a.shape[0] : 1
    let aRows = a.shape[a.rank - 2], aCols = a.shape[a.rank - 1]
    let bRows = b.shape[b.rank - 2], bCols = b.shape[b.rank - 1]
    let (m, k) = transposeA ? (aCols, aRows) : (aRows, aCols)
    let (kB, n) = transposeB ? (bCols, bRows) : (bRows, bCols)
    guard k == kB else {
        throw ShapeError("matmul", "inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") x \(b.shape)\(transposeB ? "ᵀ" : "")")
    }
    let result = Tensor(uninitialized: a.rank == 3 ? [batch, m, n] : [m, n])
    for index in 0..<batch {
        sgemm(m: m, n: n, k: k,
              a: a.pointer + index * aRows * aCols, lda: aCols, transposeA: transposeA,
              b: b.pointer + index * bRows * bCols, ldb: bCols, transposeB: transposeB,
              c: result.mutablePointer + index * m * n, ldc: n)
    }
    return result
}

/// C = alpha * op(A) op(B) + beta * C on row-major matrices, where op(A) is [m,k] and op(B) is [k,n].
func sgemm(m: Int, n: Int, k: Int,
           a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
           b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
           c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        for row in 0..<m {
            for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
        }
        return
    }
    #if ZFLOW_AVX512
    packedSgemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
                c: c, ldc: ldc, alpha: alpha, beta: beta)
    #else
    zflow_sgemm(transposeA, transposeB, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    #endif
}

/// The BLAS library in use and its settings, for benchmark reports.
public var blasDescription: String { String(cString: zflow_blas_description()) }
