// ZFlow's door to oneDNN (the CPU library PyTorch uses for convolutions), loaded at run time with
// dlopen so that the zflow binary runs where oneDNN is absent: every entry point reports whether it
// ran, and callers fall back to another backend. Built against the headers of libdnnl-dev when they
// are present at build time; without them the shim compiles to "unavailable".
#ifndef ZFLOW_CDNNL_H
#define ZFLOW_CDNNL_H

#include <stdbool.h>

/// True when libdnnl.so.2 loaded and a CPU engine was created (loads it at the first call).
bool zflow_dnnl_available(void);

/// "libdnnl.so.2 (oneDNN 2.6.3, OpenMP)", or why it is unavailable. Lives as long as the process.
const char *zflow_dnnl_description(void);

/// C = alpha * op(A) op(B) + beta * C, row-major (dnnl_sgemm). Returns 0 on success.
int zflow_dnnl_sgemm(bool transpose_a, bool transpose_b, long m, long n, long k, float alpha,
                     const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc);

/// torch.nn.functional.conv2d (groups 1, dilation 1, symmetric padding): src [N,C,H,W], weights
/// [O,C,KH,KW], bias [O] or NULL, dst [N,O,HO,WO], all dense NCHW. oneDNN picks its own layouts
/// and algorithm (winograd allowed when `allow_winograd`); inputs and outputs are reordered.
/// Returns 0 on success; `implementation` (may be NULL) receives oneDNN's implementation name.
int zflow_dnnl_conv2d(long n, long c, long h, long w, long o, long kh, long kw, long stride, long padding,
                      const float *src, const float *weights, const float *bias, float *dst,
                      bool allow_winograd, char *implementation, int implementation_size);

/// torch.nn.functional.conv_transpose2d (groups 1, no output padding): src [N,C,H,W], weights
/// [C,O,KH,KW] (PyTorch's layout), bias [O] or NULL, dst [N,O,HO,WO]. Returns 0 on success.
int zflow_dnnl_deconv2d(long n, long c, long h, long w, long o, long kh, long kw, long stride, long padding,
                        const float *src, const float *weights, const float *bias, float *dst);

/// The input gradient of zflow_dnnl_conv2d: diff_dst [N,O,HO,WO] and weights [O,C,KH,KW] give
/// diff_src [N,C,H,W] (input rows and columns the forward's floor dropped get zeros).
/// Returns 0 on success.
int zflow_dnnl_conv2d_backward_data(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                    long padding, const float *diff_dst, const float *weights, float *diff_src);

/// The weight gradient of zflow_dnnl_conv2d: src [N,C,H,W] and diff_dst [N,O,HO,WO] give
/// diff_weights [O,C,KH,KW] and, unless diff_bias is NULL, diff_bias [O]. Returns 0 on success.
int zflow_dnnl_conv2d_backward_weights(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                       long padding, const float *src, const float *diff_dst, float *diff_weights,
                                       float *diff_bias);

/// The weight gradient of zflow_dnnl_deconv2d: src [N,C,H,W] and diff_dst [N,O,HO,WO] give
/// diff_weights [C,O,KH,KW] (PyTorch's layout) and, unless diff_bias is NULL, diff_bias [O].
/// Its input gradient is a forward convolution (zflow_dnnl_conv2d). Returns 0 on success.
int zflow_dnnl_deconv2d_backward_weights(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                         long padding, const float *src, const float *diff_dst, float *diff_weights,
                                         float *diff_bias);

#endif
