/* The portable kernels: the platform's baseline vectors (SSE2 on x86-64, NEON on arm64). */
#define LK_W 4
#define LK_LEVEL LAMINA_SIMD_PORTABLE
#define LK_LEVEL_NAME "portable"
#define LK_SUFFIX portable
#include "kernels_impl.h"
#define LK_F64 1
#define LK_SUFFIX portable_f64
#include "kernels_impl.h"
