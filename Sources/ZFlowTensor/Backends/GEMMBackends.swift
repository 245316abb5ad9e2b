import CBLAS
import CDNNL

/// C = alpha * op(A) op(B) + beta * C on row-major matrices, where op(A) is [m,k] and op(B) is [k,n],
/// on the backend the tuner chose for this shape (KernelTuner).
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
    let operands = GEMMCall(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
                            transposeB: transposeB, alpha: alpha, beta: beta)
    let backend = KernelTuner.shared.backend(for: .gemm, shape: "\(m)x\(n)x\(k) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N")",
                                             work: m * n * k) { candidate in
        let scratch = Tensor(zeros: [m, n])
        return operands.run(on: candidate, c: scratch.mutablePointer, ldc: n)
    }
    if !operands.run(on: backend, c: c, ldc: ldc) {
        _ = operands.run(on: .openblas, c: c, ldc: ldc)
    }
}

/// The operands of one GEMM, runnable on any backend into any C.
struct GEMMCall {
    let m, n, k: Int
    let a: UnsafePointer<Float>, lda: Int, transposeA: Bool
    let b: UnsafePointer<Float>, ldb: Int, transposeB: Bool
    let alpha, beta: Float

    /// Computes into `c`; false if the backend could not (oneDNN absent or refusing).
    func run(on backend: KernelBackend, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        switch backend {
        case .own:
            packedSgemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
                        transposeB: transposeB, c: c, ldc: ldc, alpha: alpha, beta: beta)
            return true
        case .openblas:
            WorkerPool.shared.handOff(work: m * n * k)
            zflow_sgemm(transposeA, transposeB, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                        beta, c, Int32(ldc))
            return true
        case .onednn:
            WorkerPool.shared.handOff(work: m * n * k)
            return zflow_dnnl_sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0
        }
    }
}
