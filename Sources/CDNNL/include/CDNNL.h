// ZFlow's door to oneDNN (the CPU library PyTorch uses for convolutions and more), loaded at run
// time with dlopen so that the zflow binary runs where oneDNN is absent: every entry point reports
// whether it ran, and callers fall back to another backend. Built against the headers of
// libdnnl-dev when they are present at build time; without them the shim compiles to "unavailable".
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

/// torch.nn.functional.layer_norm over the last dimension: src and dst [rows, width] (row-major),
/// scale (the weight) and shift (the bias) [width]; each row is normalized with its mean and biased
/// variance, (x - mean) / sqrt(variance + eps) * scale + shift. Returns 0 on success.
int zflow_dnnl_layer_norm(long rows, long width, float eps, const float *src, const float *scale, const float *shift,
                          float *dst);

/// The gradients of zflow_dnnl_layer_norm: src [rows, width], its per-row mean and biased variance
/// [rows], scale [width] and diff_dst [rows, width] give diff_src [rows, width], diff_scale and
/// diff_shift [width]. Returns 0 on success.
int zflow_dnnl_layer_norm_backward(long rows, long width, float eps, const float *src, const float *mean,
                                   const float *variance, const float *scale, const float *diff_dst, float *diff_src,
                                   float *diff_scale, float *diff_shift);

/// torch.softmax(x, dim=-1) on src [rows, width] into dst [rows, width]. Returns 0 on success.
/// Its gradient has no counterpart here: oneDNN 2.6's softmax backward runs its reference
/// implementation below AVX-512, 0.06-0.14x of ZFlow's own on AVX2 (docs/benchmarks.md).
int zflow_dnnl_softmax(long rows, long width, const float *src, float *dst);

/// The activations of oneDNN's eltwise primitive that ZFlow has, each the same function as ZFlow's
/// (Activations.swift): 0.5 x (1 + erf(x / sqrt 2)); 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
/// x sigmoid(alpha x) (SiLU with alpha 1, QuickGELU with 1.702); sigmoid(x).
typedef enum {
    zflow_dnnl_gelu_erf,
    zflow_dnnl_gelu_tanh,
    zflow_dnnl_swish,
    zflow_dnnl_logistic,
} zflow_dnnl_activation;

/// dst = activation(src) elementwise on `count` values (alpha: swish's factor, ignored by the
/// others). Returns 0 on success.
int zflow_dnnl_eltwise(zflow_dnnl_activation activation, float alpha, long count, const float *src, float *dst);

/// diff_src = diff_dst * activation'(x) on `count` values, from `data`: the forward's output for
/// zflow_dnnl_logistic (sigmoid' = y (1 - y)), its input for the others. Returns 0 on success.
int zflow_dnnl_eltwise_backward(zflow_dnnl_activation activation, float alpha, long count, const float *data,
                                const float *diff_dst, float *diff_src);

#endif
