/* The module's umbrella: Lamina's SIMD kernels, the OpenBLAS core switch and the thread pool. */
#include "lamina_kernels.h"
#include "lamina_blas_core.h"
#include "lamina_parallel.h"
