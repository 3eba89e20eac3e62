#ifndef LAMINA_KERNELS_H
#define LAMINA_KERNELS_H
/*
 * Lamina's own float32 kernels, compiled once per SIMD level and chosen at run time.
 *
 * Swift compiles a package for the baseline of its platform (SSE2 on x86-64) and SwiftPM has
 * no way to raise that without unsafeFlags. The loops that dominate training outside GEMM are
 * therefore written here, in C, once (kernels_impl.h), and compiled three times with clang's
 * per-function target attribute: portable (the platform baseline, also arm64), AVX2 + FMA and
 * AVX-512 (F/BW/DQ/VL). `lamina_kernels()` returns the table of the level chosen once from
 * CPUID (and XGETBV: the OS must save the wider registers), lowered by LAMINA_SIMD
 * (portable | avx2 | avx512). Every entry works on plain contiguous float buffers; shapes are
 * checked by the Swift ops that call them.
 */
#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SIMD levels, lowest first. */
enum {
    LAMINA_SIMD_PORTABLE = 0,
    LAMINA_SIMD_AVX2 = 1,    /* AVX2 + FMA, 8 floats */
    LAMINA_SIMD_AVX512 = 2,  /* AVX-512 F/BW/DQ/VL, 16 floats */
    LAMINA_SIMD_LEVELS = 3
};

/* What CPUID and XGETBV say about this CPU (all zero on non-x86 machines). */
typedef struct {
    char vendor[13];       /* "GenuineIntel", "AuthenticAMD", ... */
    char brand[49];        /* "AMD EPYC 9R14 96-Core Processor", ... */
    int family, model;     /* display family and model */
    int sse3, ssse3, sse41, sse42, avx, avx2, fma, f16c;
    int avx512f, avx512bw, avx512dq, avx512vl, avx512cd, avx512bf16, avx512fp16, amx;
    int os_ymm;            /* XCR0 has SSE and AVX state: ymm registers survive a context switch */
    int os_zmm;            /* XCR0 also has the opmask and zmm state */
} lamina_cpu_features;

/* Reads the features of the CPU this runs on (cached after the first call). */
const lamina_cpu_features *lamina_cpu(void);

/* The highest level this CPU and OS can run (ignores LAMINA_SIMD). */
int lamina_simd_max_level(void);

/* The spatial arithmetic of a 2-D window sliding over NHWC images. */
typedef struct {
    long inH, inW, kH, kW, strideH, strideW, padTop, padLeft, outH, outW;
} lamina_window;

typedef struct lamina_kernel_table {
    int level;
    const char *name;      /* "portable", "avx2", "avx512" */

    /* y = x > 0 ? x : 0 (NaN gives 0, like the Swift reference). */
    void (*relu)(const float *x, float *y, long n);
    /* dx = g · (x > 0 ? 1 : 0) */
    void (*relu_backward)(const float *g, const float *x, float *dx, long n);
    /* y = a + b, y = a · b (same length) */
    void (*add)(const float *a, const float *b, float *y, long n);
    void (*mul)(const float *a, const float *b, float *y, long n);
    /* y = a op s with a scalar s: op 0 a + s, 1 a − s, 2 s − a, 3 a · s, 4 a / s, 5 s / a
       (each element exactly as the scalar operation). */
    void (*binary_scalar)(const float *a, float s, float *y, long n, int op);
    /* out[j] = Σ_r x[r·cols + j] over `rows` rows: float sums over blocks of 64 rows, added
       into the double accumulator `acc` (cols entries). */
    void (*column_sums)(const float *x, long rows, long cols, double *acc);

    /* Max pooling of `images` NHWC images with `c` channels. With `argmax` non-NULL each
       output also records the flat input index of its (first) maximum, offset by `index_base`.
       NaN propagates (a window's last NaN is its maximum). */
    void (*max_pool)(const float *x, long images, long c, const lamina_window *g,
                     float *out, int32_t *argmax, long index_base);
    /* d[idx[i] − index_base] += g[i] */
    void (*scatter_add)(const float *g, const int32_t *idx, long n, long index_base, float *d);

    /* Patch rows of `images` NHWC images (im2col) and their adjoint (col2im, adds into x). */
    void (*im2col)(const float *x, long images, long c, const lamina_window *g, float *cols);
    void (*col2im)(const float *cols, long images, long c, const lamina_window *g, float *x);

    /* Direct convolution, NHWC input [images, inH, inW, c], kernel [kH, kW, c, f]:
       out = (bias or 0) + Σ x·w, then max(·, 0) when relu != 0. */
    void (*conv_direct)(const float *x, long images, long c, const lamina_window *g,
                        const float *w, long f, const float *bias, int relu, float *out);
    /* dW[kh, kw, c, f] += Σ over the images' output pixels of x · dOut. */
    void (*conv_direct_dw)(const float *x, long images, long c, const lamina_window *g,
                           const float *dout, long f, float *dw);

    /* Depthwise convolution of `images` NHWC images [inH, inW, c] with kernel [kh, kw, c, m],
       taps `dh`, `dw` pixels apart (g holds the dilated window):
       out[.., c·m + k] = (bias or 0) + Σ x[.., c]·w[.., c, k]. */
    void (*depthwise)(const float *x, long images, long c, const lamina_window *g, long kh, long kw,
                      long dh, long dw, const float *w, long m, const float *bias, float *out);
    /* Its input gradient, added into dx: dx[.., c] += Σ dOut[.., c·m + k]·w[.., c, k]. */
    void (*depthwise_dx)(const float *dout, long images, long c, const lamina_window *g, long kh, long kw,
                         long dh, long dw, const float *w, long m, float *dx);
    /* Its kernel gradient, added into dW: dW[a, b, c, k] += Σ x[.., c]·dOut[.., c·m + k]. */
    void (*depthwise_dw)(const float *x, long images, long c, const lamina_window *g, long kh, long kw,
                         long dh, long dw, const float *dout, long m, float *dW);

    /* LSTM gates of `rows` batch rows, in place on z [rows, 4n] (i, f, g, o pre-activations):
       i, f, o ← σ, g ← tanh; c = f·c_prev + i·g; tc = tanh(c); h = o·tc. */
    void (*lstm_forward)(float *z, long rows, long n, const float *c_prev,
                         float *c, float *tc, float *h);
    /* The backward of one step for `rows` rows: reads the gates `a`, tanh(c) `tc`, c_prev and
       dh; updates dc in place (dc ← dc + dh·o·(1 − tc²), then dc_prev = dc·f) and writes dz. */
    void (*lstm_backward)(const float *a, const float *tc, const float *c_prev, const float *dh,
                          float *dc, float *dz, long rows, long n);

    /* Adam: m += (g − m)·b1; v += (g² − v)·b2; w −= alpha·m / (√v + eps). */
    void (*adam)(float *w, const float *g, float *m, float *v, long n,
                 float alpha, float b1, float b2, float eps);

    /* Softmax of each of `rows` contiguous rows of n floats, in place: e^(x − max) / Σ, with
       exp as Cephes's expf (1–2 ulp; below −87.3 gives 0). */
    void (*softmax_rows)(float *x, long rows, long n);
    /* The softmax's backward on `rows` rows of n: ds = p·(dp − Σ dp·p) (ds may be dp). */
    void (*softmax_backward_rows)(const float *dp, const float *p, float *ds, long rows, long n);

    /* Layer normalization of `rows` rows of n: y = (x − mean)·inv·gamma + beta (gamma, beta may
       be NULL), inv = 1/√(biased var + eps); stats gets (mean, inv) per row. */
    void (*layer_norm_rows)(const float *x, long rows, long n, const float *gamma, const float *beta,
                            float eps, float *y, float *stats);
    /* Its input gradient: dx = inv·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·gamma, x̂ = (x − mean)·inv. */
    void (*layer_norm_backward_rows)(const float *dy, const float *x, long rows, long n, const float *gamma,
                                     const float *stats, float *dx);
    /* Its parameter gradients, added into float64 accumulators (either may be NULL):
       dgamma += Σ dy·x̂, dbeta += Σ dy over the rows. */
    void (*layer_norm_param_grads)(const float *dy, const float *x, long rows, long n, const float *stats,
                                   double *dgamma, double *dbeta);

    /* C = alpha·op(A)·op(B) + beta·C, float32, row-major (op(A) m×k, op(B) k×n; lda, ldb, ldc
       are the row strides of the stored matrices; transA/transB non-zero: the stored matrix is
       the transpose). Packed panels and register-blocked microkernels (gemm_impl.h); beta = 0
       never reads C. Up to `threads` threads of Lamina's pool (the caller is one). Returns 0,
       or −1 when the packing buffer could not be allocated (C untouched). */
    int (*sgemm)(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc, long threads);
    /* Its blocking: microkernel tile MR×NR, inner-dimension block KC, column block NC. */
    int sgemm_mr, sgemm_nr, sgemm_kc, sgemm_nc;
} lamina_kernel_table;

/* The table in use: the best level of this CPU, lowered by LAMINA_SIMD, or what
   lamina_kernels_set_level chose. */
const lamina_kernel_table *lamina_kernels(void);

/* The table of one level, or NULL when this CPU (or build) cannot run it. */
const lamina_kernel_table *lamina_kernels_for_level(int level);

/* Makes `level` the one in use (capped at what the CPU can run); returns the level set. */
int lamina_kernels_set_level(int level);

/* The level LAMINA_SIMD asks for (−1 when unset, −2 when set to something unknown). */
int lamina_simd_requested_level(void);

#ifdef __cplusplus
}
#endif
#endif
