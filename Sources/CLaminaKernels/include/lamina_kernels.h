#ifndef LAMINA_KERNELS_H
#define LAMINA_KERNELS_H
/*
 * Lamina's own float32 and float64 kernels, compiled once per SIMD level and element type and
 * chosen at run time.
 *
 * Swift compiles a package for the baseline of its platform (SSE2 on x86-64) and SwiftPM has
 * no way to raise that without unsafeFlags. The loops that dominate training outside GEMM are
 * therefore written here, in C, once (kernels_impl.h), and compiled for three levels with clang's
 * per-function target attribute: portable (the platform baseline, also arm64), AVX2 + FMA and
 * AVX-512 (F/BW/DQ/VL). `lamina_kernels()` returns the table of the level chosen once from
 * CPUID (and XGETBV: the OS must save the wider registers), lowered by LAMINA_SIMD
 * (portable | avx2 | avx512). Every entry works on plain contiguous buffers; shapes are
 * checked by the Swift ops that call them. Each level also has a float64 table
 * (`lamina_kernels_f64()`) built from the same source, which float64 tensors use.
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

/* The entries of a kernel table over elements of type T: float for `lamina_kernel_table`,
   double for `lamina_kernel_table_f64` (one list, so the two tables cannot drift apart). Every
   pointer is T; column_sums and layer_norm_param_grads add into double accumulators for both. */
#define LAMINA_KERNEL_ENTRIES(T) \
    /* y = x > 0 ? x : 0 (NaN gives 0, like the Swift reference). */                                     \
    void (*relu)(const T *x, T *y, long n);                                                              \
    /* dx = g · (x > 0 ? 1 : 0) */                                                                       \
    void (*relu_backward)(const T *g, const T *x, T *dx, long n);                                        \
    /* Per channel j of the last axis (c) of `rows` rows: y = ((x + bias[j]) − mean[j])·scale[j]       \
       + shift[j] (bias, mean, shift NULL: 0, scale NULL: 1; each operation rounded apart, as the        \
       scalar expression), then y = r + y with `residual` r of the same layout where not NULL, then     \
       y > lo ? y : lo when lo > −∞ (NaN gives lo, as relu) and y > hi ? hi : y when hi < ∞. y may       \
       be x. Batch normalization at inference, alone or as a convolution's epilogue (with its bias,     \
       ResNets' residual add and the ReLU). */                                                          \
    void (*channel_affine)(const T *x, long rows, long c, const T *bias, const T *mean,                 \
                           const T *scale, const T *shift, const T *residual, T lo, T hi, T *y);         \
    /* y = a + b, y = a · b (same length) */                                                             \
    void (*add)(const T *a, const T *b, T *y, long n);                                                   \
    void (*mul)(const T *a, const T *b, T *y, long n);                                                   \
    /* y = a op s with a scalar s: op 0 a + s, 1 a − s, 2 s − a, 3 a · s, 4 a / s, 5 s / a               \
       (each element exactly as the scalar operation). */                                                \
    void (*binary_scalar)(const T *a, T s, T *y, long n, int op);                                        \
    /* out[j] = Σ_r x[r·cols + j] over `rows` rows: T sums over blocks of 64 rows, added                 \
       into the double accumulator `acc` (cols entries). */                                              \
    void (*column_sums)(const T *x, long rows, long cols, double *acc);                                  \
                                                                                                         \
    /* Max pooling of `images` NHWC images with `c` channels. With `argmax` non-NULL each                \
       output also records the flat input index of its (first) maximum, offset by `index_base`.          \
       NaN propagates (a window's last NaN is its maximum). */                                           \
    void (*max_pool)(const T *x, long images, long c, const lamina_window *g,                            \
                     T *out, int32_t *argmax, long index_base);                                          \
    /* d[idx[i] − index_base] += g[i] */                                                                 \
    void (*scatter_add)(const T *g, const int32_t *idx, long n, long index_base, T *d);                  \
                                                                                                         \
    /* Patch rows of `images` NHWC images (im2col) and their adjoint (col2im, adds into x). */           \
    void (*im2col)(const T *x, long images, long c, const lamina_window *g, T *cols);                    \
    void (*col2im)(const T *cols, long images, long c, const lamina_window *g, T *x);                    \
                                                                                                         \
    /* Direct convolution, NHWC input [images, inH, inW, c], kernel [kH, kW, c, f]:                      \
       out = (bias or 0) + Σ x·w, then max(·, 0) when relu != 0. */                                      \
    void (*conv_direct)(const T *x, long images, long c, const lamina_window *g,                         \
                        const T *w, long f, const T *bias, int relu, T *out);                            \
    /* dW[kh, kw, c, f] += Σ over the images' output pixels of x · dOut. */                              \
    void (*conv_direct_dw)(const T *x, long images, long c, const lamina_window *g,                      \
                           const T *dout, long f, T *dw);                                                \
                                                                                                         \
    /* Depthwise convolution of `images` NHWC images [inH, inW, c] with kernel [kh, kw, c, m],           \
       taps `dh`, `dw` pixels apart (g holds the dilated window):                                        \
       out[.., c·m + k] = (bias or 0) + Σ x[.., c]·w[.., c, k]. */                                       \
    void (*depthwise)(const T *x, long images, long c, const lamina_window *g, long kh, long kw,         \
                      long dh, long dw, const T *w, long m, const T *bias, T *out);                      \
    /* Its input gradient, added into dx: dx[.., c] += Σ dOut[.., c·m + k]·w[.., c, k]. */               \
    void (*depthwise_dx)(const T *dout, long images, long c, const lamina_window *g, long kh, long kw,   \
                         long dh, long dw, const T *w, long m, T *dx);                                   \
    /* Its kernel gradient, added into dW: dW[a, b, c, k] += Σ x[.., c]·dOut[.., c·m + k]. */            \
    void (*depthwise_dw)(const T *x, long images, long c, const lamina_window *g, long kh, long kw,      \
                         long dh, long dw, const T *dout, long m, T *dW);                                \
                                                                                                         \
    /* LSTM gates of `rows` batch rows, in place on z [rows, 4n] (i, f, g, o pre-activations):           \
       i, f, o ← σ, g ← tanh; c = f·c_prev + i·g; tc = tanh(c); h = o·tc (float: the rational            \
       tanh of Eigen and TensorFlow; double: libm's tanh and exp). */                                    \
    void (*lstm_forward)(T *z, long rows, long n, const T *c_prev,                                       \
                         T *c, T *tc, T *h);                                                             \
    /* The backward of one step for `rows` rows: reads the gates `a`, tanh(c) `tc`, c_prev and           \
       dh; updates dc in place (dc ← dc + dh·o·(1 − tc²), then dc_prev = dc·f) and writes dz. */         \
    void (*lstm_backward)(const T *a, const T *tc, const T *c_prev, const T *dh,                         \
                          T *dc, T *dz, long rows, long n);                                              \
                                                                                                         \
    /* Adam: m += (g − m)·b1; v += (g² − v)·b2; w −= alpha·m / (√v + eps). */                            \
    void (*adam)(T *w, const T *g, T *m, T *v, long n,                                                   \
                 T alpha, T b1, T b2, T eps);                                                            \
                                                                                                         \
    /* Softmax of each of `rows` contiguous rows of n, in place: e^(x − max) / Σ; float's exp is         \
       Cephes's expf (1–2 ulp; below −87.3 gives 0), double's libm's exp. */                             \
    void (*softmax_rows)(T *x, long rows, long n);                                                       \
    /* The softmax's backward on `rows` rows of n: ds = p·(dp − Σ dp·p) (ds may be dp). */               \
    void (*softmax_backward_rows)(const T *dp, const T *p, T *ds, long rows, long n);                    \
                                                                                                         \
    /* Layer normalization of `rows` rows of n: y = (x − mean)·inv·gamma + beta (gamma, beta may         \
       be NULL), inv = 1/√(biased var + eps); stats gets (mean, inv) per row. */                         \
    void (*layer_norm_rows)(const T *x, long rows, long n, const T *gamma, const T *beta,                \
                            T eps, T *y, T *stats);                                                      \
    /* Its input gradient: dx = inv·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·gamma, x̂ = (x − mean)·inv. */ \
    void (*layer_norm_backward_rows)(const T *dy, const T *x, long rows, long n, const T *gamma,         \
                                     const T *stats, T *dx);                                             \
    /* Its parameter gradients, added into double accumulators (either may be NULL):                     \
       dgamma += Σ dy·x̂, dbeta += Σ dy over the rows. */                                                \
    void (*layer_norm_param_grads)(const T *dy, const T *x, long rows, long n, const T *stats,           \
                                   double *dgamma, double *dbeta);                                       \
    /* (end of LAMINA_KERNEL_ENTRIES) */

typedef struct lamina_kernel_table {
    int level;
    const char *name;      /* "portable", "avx2", "avx512" */
    LAMINA_KERNEL_ENTRIES(float)

    /* C = alpha·op(A)·op(B) + beta·C, float32, row-major (op(A) m×k, op(B) k×n; lda, ldb, ldc
       are the row strides of the stored matrices; transA/transB non-zero: the stored matrix is
       the transpose). Packed panels and register-blocked microkernels (gemm_impl.h); beta = 0
       never reads C. Up to `threads` threads of Lamina's pool (the caller is one). Returns 0,
       or −1 when the packing buffer could not be allocated (C untouched). */
    int (*sgemm)(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc, long threads);
    /* One op(B) for many products, each on the calling thread alone (a recurrence's steps
       against its recurrent weights): sgemm_pack_b writes op(B) [k×n] (transB as in sgemm) into
       `dst` of sgemm_packed_b_floats(n, k) floats, 64-byte aligned; sgemm_packed then computes
       C = alpha·op(A)·op(B) + beta·C from it, as sgemm with one thread would. */
    size_t (*sgemm_packed_b_floats)(long n, long k);
    void (*sgemm_pack_b)(int transB, long n, long k, const float *b, long ldb, float *dst);
    void (*sgemm_packed)(int transA, long m, long n, long k, float alpha, const float *a, long lda,
                         const float *packed_b, float beta, float *c, long ldc);
    /* C [kH·kW·channels × n] = alpha·colsᵀ·op(B) + beta·C, where cols [images·outH·outW,
       kH·kW·channels] is the im2col matrix of `images` NHWC images x under window g (never
       materialized) and op(B) [images·outH·outW × n] (transB as in sgemm): a convolution's
       kernel gradient read straight from its input. The same sums in the same order as sgemm
       with transA on the materialized matrix, whose strided columns it would pack from a
       matrix kH·kW times the input's size. */
    int (*sgemm_cols_t)(const float *x, long images, long channels, const lamina_window *g, int transB, long n,
                        float alpha, const float *b, long ldb, float beta, float *c, long ldc, long threads);
    /* A 3×3, stride-1 convolution by Winograd F(4×4, 3×3) (winograd_impl.h): the kernel w
       [3, 3, c, f] transformed and packed once (winograd_kernel_floats(c, f) floats at `dst`,
       64-byte aligned; `work` of 36·c·f floats), then out [images, outH, outW, f] (no bias) of
       `images` NHWC images under window g, on the calling thread, with
       winograd_scratch_floats(images, c, f, g) floats of scratch. 4× fewer multiply-adds than
       the direct sum; results within about 2e-6 of the largest output (the direct sum's: 1e-7). */
    size_t (*winograd_kernel_floats)(long c, long f);
    void (*winograd_pack_kernel)(const float *w, long c, long f, float *work, float *dst);
    size_t (*winograd_scratch_floats)(long images, long c, long f, const lamina_window *g);
    void (*winograd_conv)(const float *x, long images, long c, const lamina_window *g, const float *u, long f,
                          float *scratch, float *out);
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

/* The same kernels in float64 (no GEMM: double GEMM is BLAS's dgemm), compiled for each level
   beside the float32 ones. */
typedef struct lamina_kernel_table_f64 {
    int level;
    const char *name;      /* "portable", "avx2", "avx512" */
    LAMINA_KERNEL_ENTRIES(double)
} lamina_kernel_table_f64;

/* The float64 table of the level in use for float32 (lamina_kernels()'s level). */
const lamina_kernel_table_f64 *lamina_kernels_f64(void);

/* The float64 table of one level, or NULL when this CPU (or build) cannot run it. */
const lamina_kernel_table_f64 *lamina_kernels_f64_for_level(int level);

/* The level LAMINA_SIMD asks for (−1 when unset, −2 when set to something unknown). */
int lamina_simd_requested_level(void);

#ifdef __cplusplus
}
#endif
#endif
