// ZFlow's only door to BLAS: single-precision GEMM on row-major matrices, from a CBLAS library
// loaded at run time (OpenBLAS on Debian; see blas_loader.c for how it is found and configured).
#ifndef ZFLOW_CBLAS_H
#define ZFLOW_CBLAS_H

#include <stdbool.h>

/// C = alpha * op(A) op(B) + beta * C, row-major; op(A) is m x k, op(B) is k x n.
/// Loads the library at the first call; exits with a message naming the files tried if none loads.
void zflow_sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/// What was loaded, e.g. "libopenblas.so.0 (OpenBLAS 0.3.21 DYNAMIC_ARCH ..., core SkylakeX, 2 threads)";
/// loads the library if needed. The string lives as long as the process.
const char *zflow_blas_description(void);

#endif
