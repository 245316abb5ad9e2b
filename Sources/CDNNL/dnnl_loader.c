// Loads oneDNN (libdnnl.so.2) with dlopen and runs its sgemm, convolution, deconvolution, layer
// normalization, softmax and eltwise primitives (forward, and the backward ones training needs) on
// ZFlow's dense tensors. Convolutions let oneDNN choose the layouts it runs
// fastest (blocked nChw8c / nChw16c and matching weights, as PyTorch's mkldnn path does) and
// reorder the plain tensors in and out; weights are reordered on every call rather than cached by
// pointer, because a freed and reused address would serve another model's weights.
// Debian's oneDNN runs on OpenMP (libgomp), whose idle workers spin after each parallel region
// by default; they then take turns on the cores with ZFlow's Dispatch kernels and OpenBLAS's
// threads (the same trouble OPENBLAS_THREAD_TIMEOUT fixes in blas_loader.c). OMP_WAIT_POLICY=
// PASSIVE (unless the user set it) makes them sleep instead; libgomp reads it when dlopen loads it.
#define _GNU_SOURCE
#include "CDNNL.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>

#define DNNL_FUNCTIONS(X)                                                                            \
    X(dnnl_version) X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_stream_wait)                 \
    X(dnnl_stream_destroy) X(dnnl_sgemm) X(dnnl_memory_desc_init_by_tag) X(dnnl_memory_desc_equal)  \
    X(dnnl_memory_create) X(dnnl_memory_destroy) X(dnnl_memory_get_data_handle)                     \
    X(dnnl_convolution_forward_desc_init) X(dnnl_deconvolution_forward_desc_init)                   \
    X(dnnl_convolution_backward_data_desc_init) X(dnnl_convolution_backward_weights_desc_init)      \
    X(dnnl_deconvolution_backward_weights_desc_init)                                                \
    X(dnnl_layer_normalization_forward_desc_init) X(dnnl_layer_normalization_backward_desc_init)    \
    X(dnnl_softmax_forward_desc_init)                                                               \
    X(dnnl_eltwise_forward_desc_init) X(dnnl_eltwise_backward_desc_init)                            \
    X(dnnl_primitive_desc_create) X(dnnl_primitive_desc_destroy) X(dnnl_primitive_desc_query_md)    \
    X(dnnl_primitive_desc_query) X(dnnl_primitive_create) X(dnnl_primitive_destroy)                 \
    X(dnnl_primitive_execute) X(dnnl_reorder_primitive_desc_create)

#define DECLARE(name) static __typeof__(name) *p_##name;
DNNL_FUNCTIONS(DECLARE)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static dnnl_engine_t engine;
static char description[256] = "oneDNN not loaded";

static void load(void) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    void *library = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(description, sizeof description, "oneDNN unavailable (libdnnl.so.2 not found; Debian: libdnnl2)");
        return;
    }
#define RESOLVE(name)                                                                                   \
    p_##name = (__typeof__(name) *)dlsym(library, #name);                                               \
    if (!p_##name) {                                                                                    \
        snprintf(description, sizeof description, "oneDNN unavailable (libdnnl.so.2 lacks %s)", #name); \
        return;                                                                                         \
    }
    DNNL_FUNCTIONS(RESOLVE)
    if (p_dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) {
        snprintf(description, sizeof description, "oneDNN unavailable (no CPU engine)");
        return;
    }
    const dnnl_version_t *version = p_dnnl_version();
    snprintf(description, sizeof description, "libdnnl.so.2 (oneDNN %d.%d.%d)", version->major, version->minor,
             version->patch);
    loaded = true;
}

bool zflow_dnnl_available(void) {
    pthread_once(&load_once, load);
    return loaded;
}

const char *zflow_dnnl_description(void) {
    pthread_once(&load_once, load);
    return description;
}

int zflow_dnnl_sgemm(bool transpose_a, bool transpose_b, long m, long n, long k, float alpha,
                     const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc) {
    if (!zflow_dnnl_available()) return -1;
    return p_dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c,
                        ldc) == dnnl_success ? 0 : -1;
}

static int reorder(const dnnl_memory_desc_t *from_md, dnnl_memory_t from, const dnnl_memory_desc_t *to_md,
                   dnnl_memory_t to, dnnl_stream_t stream) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t primitive = NULL;
    int status = -1;
    if (p_dnnl_reorder_primitive_desc_create(&pd, from_md, engine, to_md, engine, NULL) == dnnl_success
        && p_dnnl_primitive_create(&primitive, pd) == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        status = p_dnnl_primitive_execute(primitive, stream, 2, args) == dnnl_success ? 0 : -1;
    }
    if (primitive) p_dnnl_primitive_destroy(primitive);
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    return status;
}

/// One argument of a primitive: the caller's dense tensor, and the primitive's own copy when the
/// primitive wants another layout.
typedef struct {
    dnnl_memory_t plain, inner;
} argument;

static int bind(argument *argument, const dnnl_memory_desc_t *plain_md, const float *data,
                const dnnl_memory_desc_t *wanted_md, bool copy_in, dnnl_stream_t stream) {
    if (p_dnnl_memory_create(&argument->plain, plain_md, engine, (void *)data) != dnnl_success) return -1;
    if (p_dnnl_memory_desc_equal(plain_md, wanted_md)) return 0;
    if (p_dnnl_memory_create(&argument->inner, wanted_md, engine, DNNL_MEMORY_ALLOCATE) != dnnl_success) return -1;
    return copy_in ? reorder(plain_md, argument->plain, wanted_md, argument->inner, stream) : 0;
}

static dnnl_memory_t used(const argument *argument) { return argument->inner ? argument->inner : argument->plain; }

static void release(argument *argument) {
    if (argument->inner) p_dnnl_memory_destroy(argument->inner);
    if (argument->plain) p_dnnl_memory_destroy(argument->plain);
}

/// One tensor a primitive reads or writes: its execution argument (DNNL_ARG_SRC, ...), by which
/// the primitive descriptor says which layout it wants, and the caller's dense data in `plain_md`.
typedef struct {
    int arg;
    const dnnl_memory_desc_t *plain_md;
    const float *data;
    bool is_output;
} tensor;

/// Creates the primitive for `op_desc` (an operation descriptor, forward or backward; backward
/// ones need the forward primitive descriptor `hint`), moves the input tensors into its layouts,
/// runs it, and moves the outputs back into the caller's dense tensors.
static int run_primitive(const void *op_desc, const_dnnl_primitive_desc_t hint, const tensor *tensors, int count,
                         char *implementation, int implementation_size) {
    enum { most = 9 };  // layer normalization backward's arguments
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t primitive = NULL;
    dnnl_stream_t stream = NULL;
    argument bound[most] = {{0}};
    dnnl_exec_arg_t args[most];
    int status = -1;
    if (count > most || p_dnnl_primitive_desc_create(&pd, op_desc, NULL, engine, hint) != dnnl_success) goto done;
    if (implementation && implementation_size > 0) {
        const char *name = NULL;
        p_dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
        snprintf(implementation, (size_t)implementation_size, "%s", name ? name : "?");
    }
    if (p_dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) goto done;
    for (int i = 0; i < count; i++) {
        const dnnl_memory_desc_t *wanted = p_dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, tensors[i].arg);
        if (!wanted || bind(&bound[i], tensors[i].plain_md, tensors[i].data, wanted, !tensors[i].is_output, stream))
            goto done;
        args[i] = (dnnl_exec_arg_t){tensors[i].arg, used(&bound[i])};
    }
    if (p_dnnl_primitive_create(&primitive, pd) != dnnl_success) goto done;
    if (p_dnnl_primitive_execute(primitive, stream, count, args) != dnnl_success) goto done;
    for (int i = 0; i < count; i++) {
        if (tensors[i].is_output && bound[i].inner
            && reorder(p_dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, tensors[i].arg), bound[i].inner,
                       tensors[i].plain_md, bound[i].plain, stream)) goto done;
    }
    status = p_dnnl_stream_wait(stream) == dnnl_success ? 0 : -1;
done:
    if (primitive) p_dnnl_primitive_destroy(primitive);
    for (int i = 0; i < most; i++) release(&bound[i]);
    if (stream) p_dnnl_stream_destroy(stream);
    if (pd) p_dnnl_primitive_desc_destroy(pd);
    return status;
}

/// The dense NCHW descriptors of one (de)convolution, and the same shapes in any layout for
/// oneDNN to choose (`weights_tag`: oihw for convolutions, iohw for PyTorch's transposed ones).
typedef struct {
    dnnl_memory_desc_t src, weights, bias, dst, any_src, any_weights, any_dst;
    dnnl_dims_t strides, paddings;
} descriptors;

static descriptors describe(long n, long c, long h, long w, long o, long kh, long kw, long ho, long wo, long stride,
                            long padding, dnnl_format_tag_t weights_tag) {
    descriptors d = {.strides = {stride, stride}, .paddings = {padding, padding}};
    dnnl_dims_t src_dims = {n, c, h, w}, weights_dims = {o, c, kh, kw}, bias_dims = {o}, dst_dims = {n, o, ho, wo};
    p_dnnl_memory_desc_init_by_tag(&d.src, 4, src_dims, dnnl_f32, dnnl_nchw);
    p_dnnl_memory_desc_init_by_tag(&d.weights, 4, weights_dims, dnnl_f32, weights_tag);
    p_dnnl_memory_desc_init_by_tag(&d.bias, 1, bias_dims, dnnl_f32, dnnl_x);
    p_dnnl_memory_desc_init_by_tag(&d.dst, 4, dst_dims, dnnl_f32, dnnl_nchw);
    p_dnnl_memory_desc_init_by_tag(&d.any_src, 4, src_dims, dnnl_f32, dnnl_format_tag_any);
    p_dnnl_memory_desc_init_by_tag(&d.any_weights, 4, weights_dims, dnnl_f32, dnnl_format_tag_any);
    p_dnnl_memory_desc_init_by_tag(&d.any_dst, 4, dst_dims, dnnl_f32, dnnl_format_tag_any);
    return d;
}

/// Runs a forward (de)convolution descriptor on the dense tensors of `d`.
static int run_forward(const void *desc, const descriptors *d, const float *src, const float *weights,
                       const float *bias, float *dst, char *implementation, int implementation_size) {
    tensor tensors[] = {
        {DNNL_ARG_SRC, &d->src, src, false},
        {DNNL_ARG_WEIGHTS, &d->weights, weights, false},
        {DNNL_ARG_DST, &d->dst, dst, true},
        {DNNL_ARG_BIAS, &d->bias, bias, false},
    };
    return run_primitive(desc, NULL, tensors, bias ? 4 : 3, implementation, implementation_size);
}

/// Runs a backward operation descriptor, with the primitive descriptor of its forward training
/// descriptor as the hint oneDNN matches layouts and implementations against.
static int run_backward(const void *forward, const void *backward, const tensor *tensors, int count) {
    dnnl_primitive_desc_t hint = NULL;
    if (p_dnnl_primitive_desc_create(&hint, forward, NULL, engine, NULL) != dnnl_success) return -1;
    int status = run_primitive(backward, hint, tensors, count, NULL, 0);
    p_dnnl_primitive_desc_destroy(hint);
    return status;
}

static long convolved(long size, long kernel, long stride, long padding) { return (size + 2 * padding - kernel) / stride + 1; }
static long deconvolved(long size, long kernel, long stride, long padding) { return (size - 1) * stride - 2 * padding + kernel; }

int zflow_dnnl_conv2d(long n, long c, long h, long w, long o, long kh, long kw, long stride, long padding,
                      const float *src, const float *weights, const float *bias, float *dst, bool allow_winograd,
                      char *implementation, int implementation_size) {
    if (!zflow_dnnl_available()) return -1;
    descriptors d = describe(n, c, h, w, o, kh, kw, convolved(h, kh, stride, padding), convolved(w, kw, stride, padding),
                             stride, padding, dnnl_oihw);
    dnnl_convolution_desc_t desc;
    if (p_dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference,
                                             allow_winograd ? dnnl_convolution_auto : dnnl_convolution_direct,
                                             &d.any_src, &d.any_weights, bias ? &d.bias : NULL, &d.any_dst, d.strides,
                                             d.paddings, d.paddings) != dnnl_success) return -1;
    return run_forward(&desc, &d, src, weights, bias, dst, implementation, implementation_size);
}

int zflow_dnnl_deconv2d(long n, long c, long h, long w, long o, long kh, long kw, long stride, long padding,
                        const float *src, const float *weights, const float *bias, float *dst) {
    if (!zflow_dnnl_available()) return -1;
    // PyTorch stores transposed-convolution weights as [in, out, kh, kw]: oneDNN's iohw.
    descriptors d = describe(n, c, h, w, o, kh, kw, deconvolved(h, kh, stride, padding),
                             deconvolved(w, kw, stride, padding), stride, padding, dnnl_iohw);
    dnnl_deconvolution_desc_t desc;
    if (p_dnnl_deconvolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_deconvolution_direct, &d.any_src,
                                               &d.any_weights, bias ? &d.bias : NULL, &d.any_dst, d.strides,
                                               d.paddings, d.paddings) != dnnl_success) return -1;
    return run_forward(&desc, &d, src, weights, bias, dst, NULL, 0);
}

int zflow_dnnl_conv2d_backward_data(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                    long padding, const float *diff_dst, const float *weights, float *diff_src) {
    if (!zflow_dnnl_available()) return -1;
    descriptors d = describe(n, c, h, w, o, kh, kw, convolved(h, kh, stride, padding), convolved(w, kw, stride, padding),
                             stride, padding, dnnl_oihw);
    dnnl_convolution_desc_t forward, backward;
    if (p_dnnl_convolution_forward_desc_init(&forward, dnnl_forward_training, dnnl_convolution_direct, &d.any_src,
                                             &d.any_weights, NULL, &d.any_dst, d.strides, d.paddings, d.paddings)
            != dnnl_success
        || p_dnnl_convolution_backward_data_desc_init(&backward, dnnl_convolution_direct, &d.any_src, &d.any_weights,
                                                      &d.any_dst, d.strides, d.paddings, d.paddings) != dnnl_success)
        return -1;
    tensor tensors[] = {
        {DNNL_ARG_DIFF_DST, &d.dst, diff_dst, false},
        {DNNL_ARG_WEIGHTS, &d.weights, weights, false},
        {DNNL_ARG_DIFF_SRC, &d.src, diff_src, true},
    };
    return run_backward(&forward, &backward, tensors, 3);
}

/// The weight (and bias) gradient of a convolution or, when `transposed`, of a deconvolution.
static int backward_weights(bool transposed, long n, long c, long h, long w, long o, long kh, long kw, long stride,
                            long padding, const float *src, const float *diff_dst, float *diff_weights,
                            float *diff_bias) {
    if (!zflow_dnnl_available()) return -1;
    long (*output_size)(long, long, long, long) = transposed ? deconvolved : convolved;
    descriptors d = describe(n, c, h, w, o, kh, kw, output_size(h, kh, stride, padding),
                             output_size(w, kw, stride, padding), stride, padding, transposed ? dnnl_iohw : dnnl_oihw);
    const dnnl_memory_desc_t *bias_md = diff_bias ? &d.bias : NULL;
    dnnl_convolution_desc_t forward, backward;
    dnnl_status_t forward_status = transposed
        ? p_dnnl_deconvolution_forward_desc_init(&forward, dnnl_forward_training, dnnl_deconvolution_direct, &d.any_src,
                                                 &d.any_weights, bias_md, &d.any_dst, d.strides, d.paddings, d.paddings)
        : p_dnnl_convolution_forward_desc_init(&forward, dnnl_forward_training, dnnl_convolution_direct, &d.any_src,
                                               &d.any_weights, bias_md, &d.any_dst, d.strides, d.paddings, d.paddings);
    dnnl_status_t backward_status = transposed
        ? p_dnnl_deconvolution_backward_weights_desc_init(&backward, dnnl_deconvolution_direct, &d.any_src,
                                                          &d.any_weights, bias_md, &d.any_dst, d.strides, d.paddings,
                                                          d.paddings)
        : p_dnnl_convolution_backward_weights_desc_init(&backward, dnnl_convolution_direct, &d.any_src, &d.any_weights,
                                                        bias_md, &d.any_dst, d.strides, d.paddings, d.paddings);
    if (forward_status != dnnl_success || backward_status != dnnl_success) return -1;
    tensor tensors[] = {
        {DNNL_ARG_SRC, &d.src, src, false},
        {DNNL_ARG_DIFF_DST, &d.dst, diff_dst, false},
        {DNNL_ARG_DIFF_WEIGHTS, &d.weights, diff_weights, true},
        {DNNL_ARG_DIFF_BIAS, &d.bias, diff_bias, true},
    };
    return run_backward(&forward, &backward, tensors, diff_bias ? 4 : 3);
}

int zflow_dnnl_conv2d_backward_weights(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                       long padding, const float *src, const float *diff_dst, float *diff_weights,
                                       float *diff_bias) {
    return backward_weights(false, n, c, h, w, o, kh, kw, stride, padding, src, diff_dst, diff_weights, diff_bias);
}

int zflow_dnnl_deconv2d_backward_weights(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                         long padding, const float *src, const float *diff_dst, float *diff_weights,
                                         float *diff_bias) {
    return backward_weights(true, n, c, h, w, o, kh, kw, stride, padding, src, diff_dst, diff_weights, diff_bias);
}
/// A dense row-major [rows, width] tensor.
static dnnl_memory_desc_t matrix_md(long rows, long width) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {rows, width};
    p_dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab);
    return md;
}

/// A dense vector of `count` values.
static dnnl_memory_desc_t vector_md(long count) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {count};
    p_dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a);
    return md;
}

/// Layer normalization with a scale and a shift of their own ([width] each), as PyTorch's weight
/// and bias, rather than oneDNN's older packed [2, width] scaleshift.
static const unsigned layer_norm_flags = dnnl_use_scale | dnnl_use_shift;

int zflow_dnnl_layer_norm(long rows, long width, float eps, const float *src, const float *scale, const float *shift,
                          float *dst) {
    if (!zflow_dnnl_available()) return -1;
    dnnl_memory_desc_t data = matrix_md(rows, width), parameters = vector_md(width);
    dnnl_layer_normalization_desc_t desc;
    if (p_dnnl_layer_normalization_forward_desc_init(&desc, dnnl_forward_inference, &data, NULL, eps, layer_norm_flags)
        != dnnl_success) return -1;
    tensor tensors[] = {
        {DNNL_ARG_SRC, &data, src, false},
        {DNNL_ARG_SCALE, &parameters, scale, false},
        {DNNL_ARG_SHIFT, &parameters, shift, false},
        {DNNL_ARG_DST, &data, dst, true},
    };
    return run_primitive(&desc, NULL, tensors, 4, NULL, 0);
}

int zflow_dnnl_layer_norm_backward(long rows, long width, float eps, const float *src, const float *mean,
                                   const float *variance, const float *scale, const float *diff_dst, float *diff_src,
                                   float *diff_scale, float *diff_shift) {
    if (!zflow_dnnl_available()) return -1;
    dnnl_memory_desc_t data = matrix_md(rows, width), statistics = vector_md(rows), parameters = vector_md(width);
    dnnl_layer_normalization_desc_t forward, backward;
    if (p_dnnl_layer_normalization_forward_desc_init(&forward, dnnl_forward_training, &data, &statistics, eps,
                                                     layer_norm_flags) != dnnl_success
        || p_dnnl_layer_normalization_backward_desc_init(&backward, dnnl_backward, &data, &data, &statistics, eps,
                                                         layer_norm_flags) != dnnl_success) return -1;
    tensor tensors[] = {
        {DNNL_ARG_SRC, &data, src, false},
        {DNNL_ARG_MEAN, &statistics, mean, false},
        {DNNL_ARG_VARIANCE, &statistics, variance, false},
        {DNNL_ARG_SCALE, &parameters, scale, false},
        // oneDNN 2.6 counts the shift among this primitive's inputs (execution fails with
        // invalid_arguments without it) but the gradient never reads it: any [width] tensor does.
        {DNNL_ARG_SHIFT, &parameters, scale, false},
        {DNNL_ARG_DIFF_DST, &data, diff_dst, false},
        {DNNL_ARG_DIFF_SRC, &data, diff_src, true},
        {DNNL_ARG_DIFF_SCALE, &parameters, diff_scale, true},
        {DNNL_ARG_DIFF_SHIFT, &parameters, diff_shift, true},
    };
    return run_backward(&forward, &backward, tensors, 9);
}

int zflow_dnnl_softmax(long rows, long width, const float *src, float *dst) {
    if (!zflow_dnnl_available()) return -1;
    dnnl_memory_desc_t data = matrix_md(rows, width);
    dnnl_softmax_desc_t desc;
    if (p_dnnl_softmax_forward_desc_init(&desc, dnnl_forward_inference, &data, 1) != dnnl_success) return -1;
    tensor tensors[] = {{DNNL_ARG_SRC, &data, src, false}, {DNNL_ARG_DST, &data, dst, true}};
    return run_primitive(&desc, NULL, tensors, 2, NULL, 0);
}

/// oneDNN's eltwise algorithm for `activation` (undef, which no descriptor accepts, for an unknown
/// one). The logistic's is the variant whose backward reads the output, as ZFlow's sigmoid
/// pullback does; both variants compute the same forward.
static dnnl_alg_kind_t eltwise_algorithm(zflow_dnnl_activation activation) {
    switch (activation) {
    case zflow_dnnl_gelu_erf: return dnnl_eltwise_gelu_erf;
    case zflow_dnnl_gelu_tanh: return dnnl_eltwise_gelu_tanh;
    case zflow_dnnl_swish: return dnnl_eltwise_swish;
    case zflow_dnnl_logistic: return dnnl_eltwise_logistic_use_dst_for_bwd;
    }
    return dnnl_alg_kind_undef;
}

int zflow_dnnl_eltwise(zflow_dnnl_activation activation, float alpha, long count, const float *src, float *dst) {
    if (!zflow_dnnl_available()) return -1;
    dnnl_memory_desc_t data = vector_md(count);
    dnnl_eltwise_desc_t desc;
    if (p_dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, eltwise_algorithm(activation), &data, alpha, 0)
        != dnnl_success) return -1;
    tensor tensors[] = {{DNNL_ARG_SRC, &data, src, false}, {DNNL_ARG_DST, &data, dst, true}};
    return run_primitive(&desc, NULL, tensors, 2, NULL, 0);
}

int zflow_dnnl_eltwise_backward(zflow_dnnl_activation activation, float alpha, long count, const float *data,
                                const float *diff_dst, float *diff_src) {
    if (!zflow_dnnl_available()) return -1;
    dnnl_alg_kind_t algorithm = eltwise_algorithm(activation);
    dnnl_memory_desc_t values = vector_md(count);
    dnnl_eltwise_desc_t forward, backward;
    if (p_dnnl_eltwise_forward_desc_init(&forward, dnnl_forward_training, algorithm, &values, alpha, 0) != dnnl_success
        || p_dnnl_eltwise_backward_desc_init(&backward, algorithm, &values, &values, alpha, 0) != dnnl_success)
        return -1;
    tensor tensors[] = {
        {activation == zflow_dnnl_logistic ? DNNL_ARG_DST : DNNL_ARG_SRC, &values, data, false},
        {DNNL_ARG_DIFF_DST, &values, diff_dst, false},
        {DNNL_ARG_DIFF_SRC, &values, diff_src, true},
    };
    return run_backward(&forward, &backward, tensors, 3);
}
#else
bool zflow_dnnl_available(void) { return false; }
const char *zflow_dnnl_description(void) { return "oneDNN unavailable (built without libdnnl-dev headers)"; }
int zflow_dnnl_sgemm(bool transpose_a, bool transpose_b, long m, long n, long k, float alpha, const float *a,
                     long lda, const float *b, long ldb, float beta, float *c, long ldc) { return -1; }
int zflow_dnnl_conv2d(long n, long c, long h, long w, long o, long kh, long kw, long stride, long padding,
                      const float *src, const float *weights, const float *bias, float *dst, bool allow_winograd,
                      char *implementation, int implementation_size) { return -1; }
int zflow_dnnl_deconv2d(long n, long c, long h, long w, long o, long kh, long kw, long stride, long padding,
                        const float *src, const float *weights, const float *bias, float *dst) { return -1; }
int zflow_dnnl_conv2d_backward_data(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                    long padding, const float *diff_dst, const float *weights, float *diff_src) {
    return -1;
}
int zflow_dnnl_conv2d_backward_weights(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                       long padding, const float *src, const float *diff_dst, float *diff_weights,
                                       float *diff_bias) { return -1; }
int zflow_dnnl_deconv2d_backward_weights(long n, long c, long h, long w, long o, long kh, long kw, long stride,
                                         long padding, const float *src, const float *diff_dst, float *diff_weights,
                                         float *diff_bias) { return -1; }
int zflow_dnnl_layer_norm(long rows, long width, float eps, const float *src, const float *scale, const float *shift,
                          float *dst) { return -1; }
int zflow_dnnl_layer_norm_backward(long rows, long width, float eps, const float *src, const float *mean,
                                   const float *variance, const float *scale, const float *diff_dst, float *diff_src,
                                   float *diff_scale, float *diff_shift) { return -1; }
int zflow_dnnl_softmax(long rows, long width, const float *src, float *dst) { return -1; }
int zflow_dnnl_eltwise(zflow_dnnl_activation activation, float alpha, long count, const float *src, float *dst) {
    return -1;
}
int zflow_dnnl_eltwise_backward(zflow_dnnl_activation activation, float alpha, long count, const float *data,
                                const float *diff_dst, float *diff_src) { return -1; }
#endif
