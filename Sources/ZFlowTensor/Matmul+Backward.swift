/// C = op(A) op(B) per batch item: d op(A) = g op(B)ᵀ, d op(B) = op(A)ᵀ g, each written in the
/// operand's stored layout (a transposed operand receives the transposed product).
func matmulBackward(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> GradientTape.Pullback {
    { gradient, needed in
        let batch = a.rank == 3 ? a.shape[0] : 1
        let aRows = a.shape[a.rank - 2], aCols = a.shape[a.rank - 1]
        let bRows = b.shape[b.rank - 2], bCols = b.shape[b.rank - 1]
        let (m, k) = transposeA ? (aCols, aRows) : (aRows, aCols)
        let n = transposeB ? bRows : bCols
        let da = needed[0] ? Tensor(uninitialized: a.shape) : nil
        let db = needed[1] ? Tensor(uninitialized: b.shape) : nil
        for index in 0..<batch {
            let aItem = a.pointer + index * aRows * aCols, bItem = b.pointer + index * bRows * bCols
            let g = gradient.pointer + index * m * n
            if let da {
                let target = da.mutablePointer + index * aRows * aCols
                if transposeA {  // A is [k, m]: dA = op(B) gᵀ
                    sgemm(m: k, n: m, k: n, a: bItem, lda: bCols, transposeA: transposeB,
                          b: g, ldb: n, transposeB: true, c: target, ldc: aCols)
                } else {  // dA = g op(B)ᵀ
                    sgemm(m: m, n: k, k: n, a: g, lda: n, b: bItem, ldb: bCols, transposeB: !transposeB,
                          c: target, ldc: aCols)
                }
            }
            if let db {
                let target = db.mutablePointer + index * bRows * bCols
                if transposeB {  // B is [n, k]: dB = gᵀ op(A)
                    sgemm(m: n, n: k, k: m, a: g, lda: n, transposeA: true,
                          b: aItem, ldb: aCols, transposeB: transposeA, c: target, ldc: bCols)
                } else {  // dB = op(A)ᵀ g
                    sgemm(m: k, n: n, k: m, a: aItem, lda: aCols, transposeA: !transposeA,
                          b: g, ldb: n, c: target, ldc: bCols)
                }
            }
        }
        return [da, db]
    }
}
