// Thin shim over the system CBLAS (OpenBLAS on Debian). Swap the provider here.
#include <cblas.h>
// OpenBLAS extension: the thread count used by sgemm. Declared here so the
// Swift side does not depend on openblas_config.h.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
