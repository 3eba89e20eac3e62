/* The AVX2 + FMA kernels (8 floats or 4 doubles per vector); used only where CPUID and XCR0
   allow. */
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx,avx2,fma,f16c"))), apply_to = function)
#define LK_W 8
#define LK_LEVEL LAMINA_SIMD_AVX2
#define LK_LEVEL_NAME "avx2"
#define LK_SUFFIX avx2
#include "kernels_impl.h"
#define LK_F64 1
#define LK_SUFFIX avx2_f64
#include "kernels_impl.h"
#pragma clang attribute pop
#endif
