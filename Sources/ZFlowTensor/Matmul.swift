import CBLAS

/// Matrix product: [M,K] x [K,N] -> [M,N], or batched [B,M,K] x [B,K,N] -> [B,M,N].
/// `transposeA` / `transposeB` read the operand as its transpose (no copy is made).
/// Matches `torch.matmul` for these ranks.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
    let timing = timeOp("matmul")
    defer { timing?.stop() }
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
    GradientTape.note("matmul", inputs: [a, b], output: result,
                      pullback: matmulBackward(a, b, transposeA: transposeA, transposeB: transposeB))
    return result
}

/// The BLAS library in use and its settings, for benchmark reports.
public var blasDescription: String { String(cString: zflow_blas_description()) }
