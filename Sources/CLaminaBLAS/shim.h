#ifndef CLAMINABLAS_SHIM_H
#define CLAMINABLAS_SHIM_H
#include <cblas.h>

/* How many threads OpenBLAS itself may use (a no-op for other BLAS libraries). Lamina sets
   it to 1 and splits large products across cores itself: OpenBLAS's idle workers spin in
   sched_yield between calls and take a core away from everything else a training step does. */
static inline void lamina_blas_set_threads(int n) {
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(n);
#else
    (void)n;
#endif
}

static inline int lamina_blas_get_threads(void) {
#ifdef OPENBLAS_VERSION
    return openblas_get_num_threads();
#else
    return 1;
#endif
}
#endif
