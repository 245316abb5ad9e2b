// Loads the CBLAS library with dlopen instead of linking it, so that OpenBLAS's thread timeout,
// which it reads only when it loads, can be chosen first: OPENBLAS_THREAD_TIMEOUT=16 (unless the
// user has set it) makes idle OpenBLAS workers spin 2^16 cycles (~20 us) after a call instead of
// 2^28 (~0.1 s). On two cores the spinning workers took turns with ZFlow's own Dispatch kernels
// (Winograd transforms, attention, norms): the bundled tiny VAE ran in 2.15 s instead of 0.064 s.
// Other settings (OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS, ...) are the user's and left alone.
// ZFLOW_BLAS_LIBRARY names another CBLAS library (any that exports cblas_sgemm).
#define _GNU_SOURCE
#include "CBLAS.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { row_major = 101, no_transpose = 111, transpose = 112 };
typedef void (*sgemm_function)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                               float, float *, int);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static sgemm_function sgemm;
static char description[512];

static void describe(void *library, const char *name) {
    const char *(*config)(void) = (const char *(*)(void))dlsym(library, "openblas_get_config");
    const char *(*core)(void) = (const char *(*)(void))dlsym(library, "openblas_get_corename");
    int (*threads)(void) = (int (*)(void))dlsym(library, "openblas_get_num_threads");
    if (config && core && threads) {
        snprintf(description, sizeof description, "%s (%s, core %s, %d threads)", name, config(), core(), threads());
    } else {
        snprintf(description, sizeof description, "%s", name);
    }
}

static void load(void) {
    setenv("OPENBLAS_THREAD_TIMEOUT", "16", 0);
    const char *chosen = getenv("ZFLOW_BLAS_LIBRARY");
    const char *candidates[] = {chosen, "libopenblas.so.0", "libopenblas.so", "libopenblas.dylib",
                                "libcblas.so.3", "libblas.so.3"};
    char tried[1024] = "";
    for (size_t index = chosen ? 0 : 1; index < sizeof candidates / sizeof *candidates; index++) {
        void *library = dlopen(candidates[index], RTLD_NOW | RTLD_LOCAL);
        sgemm_function found = library ? (sgemm_function)dlsym(library, "cblas_sgemm") : NULL;
        if (found) {
            sgemm = found;
            describe(library, candidates[index]);
            return;
        }
        strncat(tried, index > (chosen ? 0u : 1u) ? ", " : "", sizeof tried - strlen(tried) - 1);
        strncat(tried, candidates[index], sizeof tried - strlen(tried) - 1);
        if (chosen) break;  // an explicit choice that fails is an error, not a reason to pick another
    }
    fprintf(stderr, "zflow: no CBLAS library with cblas_sgemm could be loaded (tried %s); "
                    "install OpenBLAS (Debian: apt-get install libopenblas0) or set ZFLOW_BLAS_LIBRARY\n", tried);
    exit(70);
}

void zflow_sgemm(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    pthread_once(&load_once, load);
    sgemm(row_major, transpose_a ? transpose : no_transpose, transpose_b ? transpose : no_transpose,
          m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *zflow_blas_description(void) {
    pthread_once(&load_once, load);
    return description;
}
