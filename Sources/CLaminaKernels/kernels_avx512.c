/* The AVX-512 kernels (F/BW/DQ/VL, 16 floats or 8 doubles per vector); used only where CPUID
   and XCR0 (opmask and zmm state saved by the OS) allow. */
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx,avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define LK_W 16
#define LK_LEVEL LAMINA_SIMD_AVX512
#define LK_LEVEL_NAME "avx512"
#define LK_SUFFIX avx512
#include "kernels_impl.h"
#define LK_F64 1
#define LK_SUFFIX avx512_f64
#include "kernels_impl.h"
#pragma clang attribute pop
#endif
