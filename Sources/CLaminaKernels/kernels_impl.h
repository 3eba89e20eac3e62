/*
 * The kernel bodies, written once and compiled once per SIMD level and element type: a
 * translation unit defines LK_W (floats per vector), LK_LEVEL and LK_LEVEL_NAME, wraps this
 * file in a `#pragma clang attribute push(target(...))` region and includes it twice: with
 * LK_SUFFIX <level> for the float table `lamina_kernels_<level>` (and the float GEMM), then
 * with LK_F64 defined and LK_SUFFIX <level>_f64 for the double table. Vectors are clang's
 * ext_vector_type, so the same source becomes SSE/NEON, AVX2 or AVX-512 code.
 *
 * Double vectors have the register width of float ones, so half the lanes (LK_N = LK_W / 2):
 * every vector operation stays one instruction on one register, and the convolutions'
 * register blocks (8 accumulators of 2 vectors) fit the 16 ymm registers of AVX2 as for
 * float, where the same lane count would double them and spill.
 *
 * A loop's tail runs the loop's vector formula on a partial vector (the remaining elements
 * loaded into a filled vector, only they stored back), so each formula is written once;
 * reductions pad with their identity (0 for sums, −∞ for a maximum) and add a tail's lanes in
 * order, as the scalar tail they replaced did. Nothing here allocates except column_sums for
 * very wide rows and layer_norm_param_grads.
 */
#include "lamina_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef LK_CAT
#define LK_CAT2(a, b) a##_##b
#define LK_CAT(a, b) LK_CAT2(a, b)
#define LK(name) LK_CAT(name, LK_SUFFIX)
#endif

#ifdef LK_F64
#define LK_T double
#define LK_N (LK_W / 2)
#define LK_SQRT sqrt
typedef int64_t LK(vm) __attribute__((ext_vector_type(LK_N), aligned(8)));  /* lane masks */
#else
#define LK_T float
#define LK_N LK_W
#define LK_SQRT sqrtf
typedef int32_t LK(vm) __attribute__((ext_vector_type(LK_N), aligned(4)));
#endif

typedef LK_T LK(vf) __attribute__((ext_vector_type(LK_N), aligned(sizeof(LK_T))));
typedef int32_t LK(vi) __attribute__((ext_vector_type(LK_N), aligned(4)));  /* indices, float's bits */
typedef double LK(vd) __attribute__((ext_vector_type(LK_N), aligned(8)));
#define vf LK(vf)
#define vi LK(vi)
#define vm LK(vm)
#define vd LK(vd)

static inline vf LK(ld)(const LK_T *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void LK(st)(LK_T *p, vf v) { memcpy(p, &v, sizeof v); }
/* The first k (< LK_N) elements of p, the other lanes `fill`; and the store of k lanes. */
/* Lane by lane with constant indices (the loop unrolls fully): a variable-length memcpy is a
   libc call, several times slower than the formula on the short rows (10-class softmax,
   3-channel pooling) whose whole work is a tail. */
static inline vf LK(ldk)(const LK_T *p, long k, LK_T fill) {
    vf v = fill;
    _Pragma("clang loop unroll(full)") for (int i = 0; i < LK_N; i++) if (i < k) v[i] = p[i];
    return v;
}
static inline void LK(stk)(LK_T *p, vf v, long k) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < LK_N; i++) if (i < k) p[i] = v[i];
}
/* k (≤ LK_N, possibly 0) lanes: a whole vector, a partial one or none (zeros). */
static inline vf LK(ldn)(const LK_T *p, long k) { return k == LK_N ? LK(ld)(p) : k > 0 ? LK(ldk)(p, k, 0) : (vf)0; }
static inline void LK(stn)(LK_T *p, vf v, long k) { if (k == LK_N) LK(st)(p, v); else if (k > 0) LK(stk)(p, v, k); }
static inline void LK(sti)(int32_t *p, vi v, long k) {
    _Pragma("clang loop unroll(full)") for (int i = 0; i < LK_N; i++) if (i < k) p[i] = v[i];
}
static inline vf LK(sel)(vm m, vf a, vf b) { return (vf)(((vm)a & m) | ((vm)b & ~m)); }
static inline vi LK(seli)(vm m, vi a, vi b) { vi mi = __builtin_convertvector(m, vi); return (a & mi) | (b & ~mi); }
static inline vi LK(iota)(void) { vi v; for (int i = 0; i < LK_N; i++) v[i] = i; return v; }
#define ld LK(ld)
#define st LK(st)
#define ldk LK(ldk)
#define stk LK(stk)
#define sel LK(sel)

/* Runs the body over i in [0, n) with `i` the first index of a vector and `k` its lanes: whole vectors,
   then (k < LK_N) the tail once, whose loads and stores must take k into account (ldk, stk). */
#define LK_VECTORS(i, n, ...) do {                                        \
        long i = 0, k = LK_N;                                             \
        for (; i + LK_N <= (n); i += LK_N) { __VA_ARGS__ }                \
        if (i < (n)) { k = (n) - i; __VA_ARGS__ }                         \
        (void)k;                                                          \
    } while (0)
/* Loads and stores of k lanes that are plain vector ones for whole vectors. */
#define LDK(p, fill) (k == LK_N ? ld(p) : ldk(p, k, fill))
#define STK(p, v) do { if (k == LK_N) st(p, v); else stk(p, v, k); } while (0)

/* Copies / adds `len` contiguous elements. */
static inline void LK(copy)(LK_T *d, const LK_T *s, long len) {
    LK_VECTORS(i, len, STK(d + i, LDK(s + i, 0)););
}
static inline void LK(accumulate)(LK_T *d, const LK_T *s, long len) {
    LK_VECTORS(i, len, STK(d + i, LDK(d + i, 0) + LDK(s + i, 0)););
}

#ifndef LK_F64
/* tanh as the rational function Eigen and TensorFlow use for float32 (the same formula as
   Float.fastTanh in Swift), and the gate sigmoid σ(x) = (1 + tanh(x/2)) / 2. */
#define LK_TANH_CLAMP 7.90531110763549805f
#define LK_TANH_POLY(x2, p, q) \
    p = -2.76076847742355e-16f; p = p * x2 + 2.00018790482477e-13f; p = p * x2 - 8.60467152213735e-11f; \
    p = p * x2 + 5.12229709037114e-08f; p = p * x2 + 1.48572235717979e-05f; \
    p = p * x2 + 6.37261928875436e-04f; p = p * x2 + 4.89352455891786e-03f; \
    q = 1.19825839466702e-06f; q = q * x2 + 1.18534705686654e-04f; q = q * x2 + 2.26843463243900e-03f; \
    q = q * x2 + 4.89352518554385e-03f;

static inline vf LK(vtanh)(vf x) {
    vf v = sel(x < -LK_TANH_CLAMP, (vf)(-LK_TANH_CLAMP), x);
    v = sel(v > LK_TANH_CLAMP, (vf)(LK_TANH_CLAMP), v);
    vf x2 = v * v, p, q;
    LK_TANH_POLY(x2, p, q)
    vf ax = (vf)((vi)x & (vi)(0x7fffffff));
    return sel(ax < 0.0004f, x, v * p / q);
}
static inline vf LK(vsigm)(vf x) { return 0.5f + 0.5f * LK(vtanh)(0.5f * x); }
#else
/* float64: libm's tanh and σ(x) = 1 / (1 + e^−x), lane by lane, so float64 gradient checks
   see activations exact to an ulp (the rational tanh is a float32 approximation). */
static inline vf LK(vtanh)(vf x) {
    for (int i = 0; i < LK_N; i++) x[i] = tanh(x[i]);
    return x;
}
static inline vf LK(vsigm)(vf x) {
    for (int i = 0; i < LK_N; i++) x[i] = 1 / (1 + exp(-x[i]));
    return x;
}
#endif

static inline vf LK(vsqrt)(vf x) {
#if __has_builtin(__builtin_elementwise_sqrt)
    return __builtin_elementwise_sqrt(x);
#else
    for (int i = 0; i < LK_N; i++) x[i] = LK_SQRT(x[i]);
    return x;
#endif
}

/* Horizontal sum and maximum, lane 0 first; and a tail's dot product s + Σ a·b over its k
   lanes in lane order (one multiply-add per lane, as a scalar loop contracts it). */
static inline LK_T LK(hsum)(vf v) {
    LK_T s = 0;
    for (int i = 0; i < LK_N; i++) s += v[i];
    return s;
}
static inline LK_T LK(hmax)(vf v) {
    LK_T m = v[0];
    for (int i = 1; i < LK_N; i++) m = v[i] > m ? v[i] : m;
    return m;
}
static inline LK_T LK(dotk)(LK_T s, vf a, vf b, long k) {
    for (long i = 0; i < k; i++) s += a[i] * b[i];
    return s;
}

/* MARK: elementwise */

static void LK(relu)(const LK_T *x, LK_T *y, long n) {
    LK_VECTORS(i, n, vf v = LDK(x + i, 0); STK(y + i, sel(v > 0, v, (vf)0)););
}

static void LK(relu_backward)(const LK_T *g, const LK_T *x, LK_T *dx, long n) {
    LK_VECTORS(i, n, STK(dx + i, LDK(g + i, 0) * sel(LDK(x + i, 0) > 0, (vf)1, (vf)0)););
}

static void LK(channel_affine)(const LK_T *x, long rows, long c, const LK_T *bias, const LK_T *mean,
                               const LK_T *scale, const LK_T *shift, const LK_T *residual, LK_T lo, LK_T hi, LK_T *y) {
    const int has_lo = lo > -INFINITY, has_hi = hi < INFINITY;
    for (long r = 0; r < rows; r++) {
        const LK_T *xr = x + r * c, *rr = residual ? residual + r * c : NULL;
        LK_T *yr = y + r * c;
        LK_VECTORS(j, c, {
            vf v = LDK(xr + j, 0);
            if (bias) v = v + LDK(bias + j, 0);
            if (mean) v = v - LDK(mean + j, 0);
            if (scale) v = v * LDK(scale + j, 0);  /* separate statements: never contracted to an FMA */
            if (shift) v = v + LDK(shift + j, 0);
            if (rr) v = LDK(rr + j, 0) + v;
            if (has_lo) v = sel(v > (vf)lo, v, (vf)lo);
            if (has_hi) v = sel(v > (vf)hi, (vf)hi, v);
            STK(yr + j, v);
        });
    }
}

static void LK(add)(const LK_T *a, const LK_T *b, LK_T *y, long n) {
    LK_VECTORS(i, n, STK(y + i, LDK(a + i, 0) + LDK(b + i, 0)););
}

static void LK(mul)(const LK_T *a, const LK_T *b, LK_T *y, long n) {
    LK_VECTORS(i, n, STK(y + i, LDK(a + i, 0) * LDK(b + i, 0)););
}

#define LK_SCALAR_LOOP(expr) LK_VECTORS(i, n, vf x = LDK(a + i, 1); STK(y + i, expr);)

static void LK(binary_scalar)(const LK_T *a, LK_T s, LK_T *y, long n, int op) {
    vf sv = s;
    switch (op) {
    case 0: LK_SCALAR_LOOP(x + sv); break;
    case 1: LK_SCALAR_LOOP(x - sv); break;
    case 2: LK_SCALAR_LOOP(sv - x); break;
    case 3: LK_SCALAR_LOOP(x * sv); break;
    case 4: LK_SCALAR_LOOP(x / sv); break;
    default: LK_SCALAR_LOOP(sv / x); break;
    }
}
#undef LK_SCALAR_LOOP

static void LK(column_sums)(const LK_T *x, long rows, long cols, double *acc) {
    LK_T stack[1024];
    LK_T *block = cols <= 1024 ? stack : malloc(sizeof(LK_T) * (size_t)cols);
    if (!block) { /* out of memory for a scratch row: sum straight into double */
        for (long r = 0; r < rows; r++) for (long j = 0; j < cols; j++) acc[j] += x[r * cols + j];
        return;
    }
    for (long r0 = 0; r0 < rows; r0 += 64) {
        long r1 = r0 + 64 < rows ? r0 + 64 : rows;
        LK(copy)(block, x + r0 * cols, cols);
        for (long r = r0 + 1; r < r1; r++) LK(accumulate)(block, x + r * cols, cols);
        LK_VECTORS(j, cols, {
            vd a = 0;
            memcpy(&a, acc + j, sizeof(double) * (size_t)k);
            a += __builtin_convertvector(LDK(block + j, 0), vd);
            memcpy(acc + j, &a, sizeof(double) * (size_t)k);
        });
    }
    if (block != stack) free(block);
}

/* MARK: pooling */

static void LK(max_pool)(const LK_T *x, long images, long c, const lamina_window *g,
                         LK_T *out, int32_t *argmax, long index_base) {
    const vi iota = LK(iota)();
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            long hs = oh * g->strideH - g->padTop;
            long h0 = hs > 0 ? hs : 0, h1 = hs + g->kH < g->inH ? hs + g->kH : g->inH;
            for (long ow = 0; ow < g->outW; ow++) {
                long ws = ow * g->strideW - g->padLeft;
                long w0 = ws > 0 ? ws : 0, w1 = ws + g->kW < g->inW ? ws + g->kW : g->inW;
                long ob = ((n * g->outH + oh) * g->outW + ow) * c;
                long first = ((n * g->inH + h0) * g->inW + w0) * c;
                LK_VECTORS(j, c, {
                    vf m = LDK(x + first + j, 0);
                    vi id = (vi)(int32_t)(first + j + index_base) + iota;
                    for (long h = h0; h < h1; h++) {
                        for (long w = w0; w < w1; w++) {
                            if (h == h0 && w == w0) continue;
                            long ib = ((n * g->inH + h) * g->inW + w) * c + j;
                            vf v = LDK(x + ib, 0);
                            vm better = (v > m) | (v != v);  /* the first maximum; NaN wins */
                            m = sel(better, v, m);
                            if (argmax) id = LK(seli)(better, (vi)(int32_t)(ib + index_base) + iota, id);
                        }
                    }
                    STK(out + ob + j, m);
                    if (argmax) LK(sti)(argmax + ob + j, id, k);
                });
            }
        }
    }
}

static void LK(scatter_add)(const LK_T *g, const int32_t *idx, long n, long index_base, LK_T *d) {
    for (long i = 0; i < n; i++) d[idx[i] - index_base] += g[i];
}

/* MARK: convolution */

static void LK(im2col)(const LK_T *x, long images, long c, const lamina_window *g, LK_T *cols) {
    long rowLen = g->kH * g->kW * c;
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            for (long ow = 0; ow < g->outW; ow++) {
                LK_T *row = cols + ((n * g->outH + oh) * g->outW + ow) * rowLen;
                long iw0 = ow * g->strideW - g->padLeft;
                int wholeRow = iw0 >= 0 && iw0 + g->kW <= g->inW;
                for (long kh = 0; kh < g->kH; kh++) {
                    long ih = oh * g->strideH - g->padTop + kh;
                    LK_T *dst = row + kh * g->kW * c;
                    if (ih < 0 || ih >= g->inH) { memset(dst, 0, sizeof(LK_T) * (size_t)(g->kW * c)); continue; }
                    const LK_T *src = x + ((n * g->inH + ih) * g->inW) * c;
                    if (wholeRow) { LK(copy)(dst, src + iw0 * c, g->kW * c); continue; }
                    for (long kw = 0; kw < g->kW; kw++) {
                        long iw = iw0 + kw;
                        if (iw < 0 || iw >= g->inW) memset(dst + kw * c, 0, sizeof(LK_T) * (size_t)c);
                        else LK(copy)(dst + kw * c, src + iw * c, c);
                    }
                }
            }
        }
    }
}

static void LK(col2im)(const LK_T *cols, long images, long c, const lamina_window *g, LK_T *x) {
    long rowLen = g->kH * g->kW * c;
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            for (long ow = 0; ow < g->outW; ow++) {
                const LK_T *row = cols + ((n * g->outH + oh) * g->outW + ow) * rowLen;
                long iw0 = ow * g->strideW - g->padLeft;
                int wholeRow = iw0 >= 0 && iw0 + g->kW <= g->inW;
                for (long kh = 0; kh < g->kH; kh++) {
                    long ih = oh * g->strideH - g->padTop + kh;
                    if (ih < 0 || ih >= g->inH) continue;
                    const LK_T *src = row + kh * g->kW * c;
                    LK_T *dst = x + ((n * g->inH + ih) * g->inW) * c;
                    if (wholeRow) { LK(accumulate)(dst + iw0 * c, src, g->kW * c); continue; }
                    for (long kw = 0; kw < g->kW; kw++) {
                        long iw = iw0 + kw;
                        if (iw >= 0 && iw < g->inW) LK(accumulate)(dst + iw * c, src + kw * c, c);
                    }
                }
            }
        }
    }
}

/* The direct convolution keeps LK_CONV_P output pixels × 2 filter vectors of accumulators in
   registers (12 independent FMA chains, with 2 filter vectors and a broadcast 15 of AVX2's 16
   registers) while the window's taps stream by, a window row's kW·c taps as one loop (they are
   contiguous in x and, f apart, in w); pixels whose windows are cut by padding, and filter counts
   that are not a multiple of 2·LK_N, take the one-pixel path below. Against 4 pixels and a loop
   per kw and c (Zen 3, AVX2, one thread, both in one process): +37% on MobileNetV2's stem
   (224², c 3, f 32, stride 2), +22% on the MNIST convnet's first layer (c 1, f 32), +10-20% at
   c 3, f 32-64; the same sums in the same order. */
#define LK_CONV_P 6

/* One pixel, filters [f0, f) one vector at a time. The last filters are a vector ending at f,
   which recomputes lanes already written to the same values (the same sums in the same order,
   here or in conv_block), or, with fewer than LK_N filters in all, a partial vector. */
static inline void LK(conv_pixel)(const LK_T *x, long c, const lamina_window *g, const LK_T *w, long f,
                                  const LK_T *bias, int relu, long n, long oh, long ow, long f0, LK_T *o) {
    long hs = oh * g->strideH - g->padTop, ws = ow * g->strideW - g->padLeft;
    long kh0 = hs < 0 ? -hs : 0, kh1 = hs + g->kH > g->inH ? g->inH - hs : g->kH;
    long kw0 = ws < 0 ? -ws : 0, kw1 = ws + g->kW > g->inW ? g->inW - ws : g->kW;
    while (f0 < f) {
        long k = f - f0 < LK_N ? f - f0 : LK_N;
        if (k < LK_N && f >= LK_N) { f0 = f - LK_N; k = LK_N; }
        vf acc = bias ? LDK(bias + f0, 0) : (vf)0;
        for (long kh = kh0; kh < kh1; kh++)
            for (long kw = kw0; kw < kw1; kw++) {
                const LK_T *xp = x + ((n * g->inH + hs + kh) * g->inW + ws + kw) * c;
                const LK_T *wp = w + (kh * g->kW + kw) * c * f + f0;
                for (long ci = 0; ci < c; ci++) acc += (vf)xp[ci] * LDK(wp + ci * f, 0);
            }
        STK(o + f0, relu ? sel(acc > 0, acc, (vf)0) : acc);
        f0 += k;
    }
}

/* LK_CONV_P pixels from `ow` whose windows lie inside the image horizontally, filters
   [0, fMain) in blocks of 2 vectors; the filters left over go through conv_pixel. */
static inline void LK(conv_block)(const LK_T *x, long c, const lamina_window *g, const LK_T *w, long f,
                                  const LK_T *bias, int relu, long n, long oh, long ow, LK_T *row) {
    const long fBlock = 2 * LK_N, fMain = f - f % fBlock;
    long hs = oh * g->strideH - g->padTop, ws = ow * g->strideW - g->padLeft;
    long kh0 = hs < 0 ? -hs : 0, kh1 = hs + g->kH > g->inH ? g->inH - hs : g->kH;
    for (long f0 = 0; f0 < fMain; f0 += fBlock) {
        vf acc[LK_CONV_P][2];
        for (int p = 0; p < LK_CONV_P; p++) {
            acc[p][0] = bias ? ld(bias + f0) : (vf)0;
            acc[p][1] = bias ? ld(bias + f0 + LK_N) : (vf)0;
        }
        const long taps = g->kW * c, xstep = g->strideW * c;
        for (long kh = kh0; kh < kh1; kh++) {
            const LK_T *xr = x + ((n * g->inH + hs + kh) * g->inW + ws) * c;
            const LK_T *wp = w + kh * taps * f + f0;
            for (long t = 0; t < taps; t++) {
                vf w0 = ld(wp + t * f), w1 = ld(wp + t * f + LK_N);
                for (int p = 0; p < LK_CONV_P; p++) {
                    vf xv = (vf)xr[p * xstep + t];
                    acc[p][0] += xv * w0;
                    acc[p][1] += xv * w1;
                }
            }
        }
        for (int p = 0; p < LK_CONV_P; p++) {
            LK_T *o = row + (ow + p) * f + f0;
            st(o, relu ? sel(acc[p][0] > 0, acc[p][0], (vf)0) : acc[p][0]);
            st(o + LK_N, relu ? sel(acc[p][1] > 0, acc[p][1], (vf)0) : acc[p][1]);
        }
    }
    for (int p = 0; p < LK_CONV_P && fMain < f; p++)
        LK(conv_pixel)(x, c, g, w, f, bias, relu, n, oh, ow + p, fMain, row + (ow + p) * f);
}

/* Whether the LK_CONV_P windows from output column `ow` lie inside the image horizontally. */
static inline int LK(block_inside)(const lamina_window *g, long ow) {
    long first = ow * g->strideW - g->padLeft, last = (ow + LK_CONV_P - 1) * g->strideW - g->padLeft;
    return ow >= 0 && ow + LK_CONV_P <= g->outW && first >= 0 && last + g->kW <= g->inW;
}

static void LK(conv_direct)(const LK_T *x, long images, long c, const lamina_window *g,
                            const LK_T *w, long f, const LK_T *bias, int relu, LK_T *out) {
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            LK_T *row = out + (n * g->outH + oh) * g->outW * f;
            long ow = 0;
            for (; ow < g->outW && !LK(block_inside)(g, ow); ow++)  /* left edge, cut by padding */
                LK(conv_pixel)(x, c, g, w, f, bias, relu, n, oh, ow, 0, row + ow * f);
            for (; LK(block_inside)(g, ow); ow += LK_CONV_P) LK(conv_block)(x, c, g, w, f, bias, relu, n, oh, ow, row);
            /* The last inside pixels: one more block ending at the last inside column, recomputing
               the few pixels it shares with the previous block (same values, written twice). */
            long end = ow;
            while (end < g->outW && (end * g->strideW - g->padLeft + g->kW) <= g->inW) end++;
            if (end > ow && LK(block_inside)(g, end - LK_CONV_P)) { LK(conv_block)(x, c, g, w, f, bias, relu, n, oh, end - LK_CONV_P, row); ow = end; }
            for (; ow < g->outW; ow++) LK(conv_pixel)(x, c, g, w, f, bias, relu, n, oh, ow, 0, row + ow * f);
        }
    }
}

/* dW[t, :] += Σ_pixels x[pixel, t] · dOut[pixel, :] for the taps t = (kh·kW + kw)·C + ci: blocks
   of taps × 2 filter vectors (independent chains) run over an image's pixels in registers, with
   taps outside the image reading 0 — where a pixel's window lies inside the image, each tap is
   read at a fixed offset, without the bounds test; each image's sums are then added into dW. The
   filters left over are the last block's partial vectors. Against 4 taps, every tap tested (Zen
   3, AVX2, one thread, both in one process): 1.7× on the MNIST convnet's first layer (c 1, f 32,
   valid), 1.8–2.5× with `same` padding, stride 2 or c 2–3; the same sums in the same order.
   The taps are cut into equal blocks of at most LK_DW_TAPS, each block's count a compile-time
   constant (a block of 6 and one of 3 ran 12 taps' multiply-adds for 9): up to 12 taps (24
   accumulators of 32 registers) at AVX-512, 6 (12 of 16) below. Each tap's sum runs over the
   pixels in the same order whatever the blocks. */
#if LK_W >= 16
#define LK_DW_TAPS 12
#else
#define LK_DW_TAPS 6
#endif

/* The input value a tap (kh, kw, ci) reads for output pixel (oh, ow) of image n; 0 in padding. */
static inline LK_T LK(tap)(const LK_T *x, long c, const lamina_window *g, long n, long oh, long ow,
                            long kh, long kw, long ci) {
    long ih = oh * g->strideH - g->padTop + kh, iw = ow * g->strideW - g->padLeft + kw;
    return ih >= 0 && ih < g->inH && iw >= 0 && iw < g->inW ? x[((n * g->inH + ih) * g->inW + iw) * c + ci] : 0;
}

/* Taps t0 ..< t0+TN of image n's filter gradient, added into dw. */
static inline __attribute__((always_inline)) void LK(conv_dw_taps)(const int TN, const LK_T *x, long c, const lamina_window *g,
                                                                  const LK_T *d, long f, long n, long t0, LK_T *dw) {
    const long fBlock = 2 * LK_N;
    /* The block's taps as (kh, kw, ci), worked out once. */
    long kh[LK_DW_TAPS], kw[LK_DW_TAPS], ci[LK_DW_TAPS], off[LK_DW_TAPS];
    for (long t = 0; t < TN; t++) {
        long tap = t0 + t;
        ci[t] = tap % c; kh[t] = tap / c / g->kW; kw[t] = tap / c % g->kW;
        off[t] = (kh[t] * g->inW + kw[t]) * c + ci[t];  /* from the window's corner */
    }
    for (long f0 = 0; f0 < f; f0 += fBlock) {
        /* lanes of the block's two vectors: whole ones, then the filters left over */
        long k0 = f - f0 < LK_N ? f - f0 : LK_N, k1 = f - f0 - k0 < LK_N ? f - f0 - k0 : LK_N;
        vf acc[LK_DW_TAPS][2];
        for (int t = 0; t < TN; t++) { acc[t][0] = (vf)0; acc[t][1] = (vf)0; }
        /* one pixel p at column ow, tap t read as X */
#define LK_DW_PIXEL(X) do {                                                                        \
            vf d0 = LK(ldn)(d + p * f + f0, k0), d1 = LK(ldn)(d + p * f + f0 + LK_N, k1);          \
            for (int t = 0; t < TN; t++) {                                                         \
                vf xv = (vf)(X);                                                                   \
                acc[t][0] += xv * d0;                                                              \
                acc[t][1] += xv * d1;                                                              \
            }                                                                                      \
        } while (0)
        for (long oh = 0, p = 0; oh < g->outH; oh++) {
            /* the columns whose windows lie inside the image, rows and columns: [owLo, owHi) */
            long ih0 = oh * g->strideH - g->padTop, span = g->inW - g->kW + g->padLeft;
            long owLo = (g->padLeft + g->strideW - 1) / g->strideW, owHi = span < 0 ? 0 : span / g->strideW + 1;
            if (owHi > g->outW) owHi = g->outW;
            if (ih0 < 0 || ih0 + g->kH > g->inH || owLo > owHi) owLo = owHi = g->outW;
            long ow = 0;
            for (; ow < owLo; ow++, p++) LK_DW_PIXEL(LK(tap)(x, c, g, n, oh, ow, kh[t], kw[t], ci[t]));
            for (; ow < owHi; ow++, p++) {
                const LK_T *xp = x + ((n * g->inH + ih0) * g->inW + ow * g->strideW - g->padLeft) * c;
                LK_DW_PIXEL(xp[off[t]]);
            }
            for (; ow < g->outW; ow++, p++) LK_DW_PIXEL(LK(tap)(x, c, g, n, oh, ow, kh[t], kw[t], ci[t]));
        }
#undef LK_DW_PIXEL
        for (long t = 0; t < TN; t++) {
            LK_T *row = dw + (t0 + t) * f + f0;
            LK(stn)(row, LK(ldn)(row, k0) + acc[t][0], k0);
            LK(stn)(row + LK_N, LK(ldn)(row + LK_N, k1) + acc[t][1], k1);
        }
    }
}

static void LK(conv_direct_dw)(const LK_T *x, long images, long c, const lamina_window *g,
                               const LK_T *dout, long f, LK_T *dw) {
    const long taps = g->kH * g->kW * c, pixels = g->outH * g->outW;
    const long blocks = (taps + LK_DW_TAPS - 1) / LK_DW_TAPS;
    for (long n = 0; n < images; n++) {
        const LK_T *d = dout + n * pixels * f;
        for (long b = 0; b < blocks; b++) {
            long t0 = taps * b / blocks, tn = taps * (b + 1) / blocks - t0;
#define LK_DW_CASE(TN) case TN: LK(conv_dw_taps)(TN, x, c, g, d, f, n, t0, dw); break;
            switch (tn) {
                LK_DW_CASE(1) LK_DW_CASE(2) LK_DW_CASE(3) LK_DW_CASE(4) LK_DW_CASE(5) LK_DW_CASE(6)
#if LK_DW_TAPS > 6
                LK_DW_CASE(7) LK_DW_CASE(8) LK_DW_CASE(9) LK_DW_CASE(10) LK_DW_CASE(11) LK_DW_CASE(12)
#endif
            }
#undef LK_DW_CASE
        }
    }
}

/* MARK: LSTM */

static void LK(lstm_forward)(LK_T *z, long rows, long n, const LK_T *c_prev,
                             LK_T *c, LK_T *tc, LK_T *h) {
    for (long b = 0; b < rows; b++) {
        LK_T *zb = z + b * 4 * n;
        const LK_T *cp = c_prev + b * n;
        LK_T *cb = c + b * n, *tb = tc + b * n, *hb = h + b * n;
        LK_VECTORS(j, n, {
            vf i = LK(vsigm)(LDK(zb + j, 0)), fg = LK(vsigm)(LDK(zb + n + j, 0));
            vf gg = LK(vtanh)(LDK(zb + 2 * n + j, 0)), o = LK(vsigm)(LDK(zb + 3 * n + j, 0));
            STK(zb + j, i); STK(zb + n + j, fg); STK(zb + 2 * n + j, gg); STK(zb + 3 * n + j, o);
            vf cv = fg * LDK(cp + j, 0) + i * gg, t = LK(vtanh)(cv);
            STK(cb + j, cv); STK(tb + j, t); STK(hb + j, o * t);
        });
    }
}

static void LK(lstm_backward)(const LK_T *a, const LK_T *tc, const LK_T *c_prev, const LK_T *dh,
                              LK_T *dc, LK_T *dz, long rows, long n) {
    for (long b = 0; b < rows; b++) {
        const LK_T *ab = a + b * 4 * n, *tb = tc + b * n, *cp = c_prev + b * n, *dhb = dh + b * n;
        LK_T *dcb = dc + b * n, *db = dz + b * 4 * n;
        LK_VECTORS(j, n, {
            vf i = LDK(ab + j, 0), fg = LDK(ab + n + j, 0), gg = LDK(ab + 2 * n + j, 0), o = LDK(ab + 3 * n + j, 0);
            vf t = LDK(tb + j, 0), dhv = LDK(dhb + j, 0);
            vf dcv = LDK(dcb + j, 0) + dhv * o * (1 - t * t);
            STK(db + 3 * n + j, dhv * t * o * (1 - o));
            STK(db + j, dcv * gg * i * (1 - i));
            STK(db + n + j, dcv * LDK(cp + j, 0) * fg * (1 - fg));
            STK(db + 2 * n + j, dcv * i * (1 - gg * gg));
            STK(dcb + j, dcv * fg);
        });
    }
}

/* MARK: softmax */

#ifndef LK_F64
/* exp as Cephes's expf (the float exp of Eigen and TensorFlow's CPU kernels): x = n·ln2 + r,
   |r| ≤ ln2/2, e^r by a degree-7 polynomial, 2^n into the exponent; 1–2 ulp. Inputs below
   −87.3 give 0 (as expf's underflow), so masked logits still get exactly zero probability. */
#define LK_EXP_HI 88.3762626647949f
#define LK_EXP_LO -87.3365447505531f
#define LK_EXP_POLY(r, y)                                                                      \
    y = 1.9875691500E-4f; y = y * r + 1.3981999507E-3f; y = y * r + 8.3334519073E-3f;          \
    y = y * r + 4.1665795894E-2f; y = y * r + 1.6666665459E-1f; y = y * r + 5.0000001201E-1f;

static inline vf LK(vexp)(vf x) {
    vf c = sel(x > LK_EXP_HI, (vf)(LK_EXP_HI), x);
    c = sel(c < LK_EXP_LO, (vf)(LK_EXP_LO), c);
    /* n = round(c / ln2) by the 1.5·2^23 trick (|c / ln2| < 128) */
    vf n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    vf r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf y;
    LK_EXP_POLY(r, y)
    y = y * (r * r) + r + 1.0f;
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;
    vf out = y * (vf)e;
    return sel(x < LK_EXP_LO, (vf)(0.0f), out);
}
#else
/* float64: libm's exp, lane by lane (e^−∞ = 0 for masked logits and padding lanes). */
static inline vf LK(vexp)(vf x) {
    for (int i = 0; i < LK_N; i++) x[i] = exp(x[i]);
    return x;
}
#endif

static void LK(softmax_rows)(LK_T *x, long rows, long n) {
    for (long r = 0; r < rows; r++) {
        LK_T *row = x + r * n;
        /* The maximum: −∞ pads a tail (the maximum of a set does not depend on the order). */
        vf mv = (vf)(-INFINITY);
        LK_VECTORS(j, n, vf v = LDK(row + j, -INFINITY); mv = sel(v > mv, v, mv););
        LK_T m = LK(hmax)(mv);
        /* Σ e^(x − m): whole vectors in lanes, the tail's lanes (padding e^−∞ = 0) added in order. */
        vf sv = (vf)0;
        LK_T s = 0;
        LK_VECTORS(j, n, {
            vf e = LK(vexp)(LDK(row + j, -INFINITY) - m);
            STK(row + j, e);
            if (k == LK_N) sv += e; else s = LK(hsum)(e);
        });
        LK_T inv = 1 / (s + LK(hsum)(sv));
        LK_VECTORS(j, n, STK(row + j, LDK(row + j, 0) * inv););
    }
}

static void LK(softmax_backward_rows)(const LK_T *dp, const LK_T *p, LK_T *ds, long rows, long n) {
    for (long r = 0; r < rows; r++) {
        const LK_T *d = dp + r * n, *pr = p + r * n;
        LK_T *o = ds + r * n;
        vf dv = (vf)0;
        LK_T dot = 0;
        LK_VECTORS(j, n, {
            vf dj = LDK(d + j, 0), pj = LDK(pr + j, 0);
            if (k == LK_N) dv += dj * pj; else dot = LK(dotk)(dot, dj, pj, k);
        });
        dot += LK(hsum)(dv);
        LK_VECTORS(j, n, STK(o + j, LDK(pr + j, 0) * (LDK(d + j, 0) - dot)););
    }
}

/* MARK: layer normalization (last axis, rows of n) */

static void LK(layer_norm_rows)(const LK_T *x, long rows, long n, const LK_T *gamma, const LK_T *beta,
                                LK_T eps, LK_T *y, LK_T *stats) {
    for (long r = 0; r < rows; r++) {
        const LK_T *xr = x + r * n;
        LK_T *yr = y + r * n;
        vf sv = (vf)0;
        LK_T s = 0;
        LK_VECTORS(j, n, vf v = LDK(xr + j, 0); if (k == LK_N) sv += v; else s = LK(hsum)(v););
        LK_T mean = (s + LK(hsum)(sv)) / (LK_T)n;
        vf vv = (vf)0;
        LK_T v = 0;
        LK_VECTORS(j, n, {
            vf c = LDK(xr + j, 0) - mean;
            if (k == LK_N) vv += c * c; else v = LK(dotk)(v, c, c, k);
        });
        LK_T inv = 1 / LK_SQRT((v + LK(hsum)(vv)) / (LK_T)n + eps);
        stats[2 * r] = mean;
        stats[2 * r + 1] = inv;
        LK_VECTORS(j, n, {
            vf o = (LDK(xr + j, 0) - mean) * inv;
            if (gamma) o = o * LDK(gamma + j, 0);
            if (beta) o = o + LDK(beta + j, 0);
            STK(yr + j, o);
        });
    }
}

/* dx = inv·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·gamma, x̂ = (x − mean)·inv */
static void LK(layer_norm_backward_rows)(const LK_T *dy, const LK_T *x, long rows, long n, const LK_T *gamma,
                                         const LK_T *stats, LK_T *dx) {
    for (long r = 0; r < rows; r++) {
        const LK_T *xr = x + r * n, *gr = dy + r * n;
        LK_T *o = dx + r * n;
        LK_T mean = stats[2 * r], inv = stats[2 * r + 1];
        vf av = (vf)0, bv = (vf)0;
        LK_T a = 0, b = 0;
        LK_VECTORS(j, n, {
            vf gh = LDK(gr + j, 0);
            if (gamma) gh = gh * LDK(gamma + j, 0);
            vf xh = (LDK(xr + j, 0) - mean) * inv;
            if (k == LK_N) { av += gh; bv += gh * xh; }
            else { a = LK(hsum)(gh); b = LK(dotk)(b, gh, xh, k); }
        });
        a = (a + LK(hsum)(av)) / (LK_T)n;
        b = (b + LK(hsum)(bv)) / (LK_T)n;
        LK_VECTORS(j, n, {
            vf gh = LDK(gr + j, 0);
            if (gamma) gh = gh * LDK(gamma + j, 0);
            vf xh = (LDK(xr + j, 0) - mean) * inv;
            STK(o + j, inv * (gh - a - xh * b));
        });
    }
}

/* dgamma[j] += Σ_r dy·x̂, dbeta[j] += Σ_r dy (either may be NULL): sums in the element type
   over blocks of 64 rows, added into the double accumulators. */
static void LK(layer_norm_param_grads)(const LK_T *dy, const LK_T *x, long rows, long n, const LK_T *stats,
                                       double *dgamma, double *dbeta) {
    LK_T *part = (LK_T *)calloc((size_t)(2 * n > 0 ? 2 * n : 1), sizeof(LK_T));
    if (!part) return;
    LK_T *pg = part, *pb = part + n;
    for (long r0 = 0; r0 < rows; r0 += 64) {
        long r1 = r0 + 64 < rows ? r0 + 64 : rows;
        memset(part, 0, (size_t)(2 * n) * sizeof(LK_T));
        for (long r = r0; r < r1; r++) {
            const LK_T *xr = x + r * n, *gr = dy + r * n;
            LK_T mean = stats[2 * r], inv = stats[2 * r + 1];
            LK_VECTORS(j, n, {
                vf g = LDK(gr + j, 0);
                STK(pg + j, LDK(pg + j, 0) + g * ((LDK(xr + j, 0) - mean) * inv));
                STK(pb + j, LDK(pb + j, 0) + g);
            });
        }
        for (long j = 0; j < n; j++) {
            if (dgamma) dgamma[j] += pg[j];
            if (dbeta) dbeta[j] += pb[j];
        }
    }
    free(part);
}

/* MARK: optimizers */

static void LK(adam)(LK_T *w, const LK_T *g, LK_T *m, LK_T *v, long n,
                     LK_T alpha, LK_T b1, LK_T b2, LK_T eps) {
    LK_VECTORS(i, n, {
        vf gv = LDK(g + i, 0), mv = LDK(m + i, 0), vv = LDK(v + i, 0);
        mv += (gv - mv) * b1;
        vv += (gv * gv - vv) * b2;
        STK(m + i, mv); STK(v + i, vv);
        STK(w + i, LDK(w + i, 0) - alpha * mv / (LK(vsqrt)(vv) + eps));
    });
}

/* MARK: depthwise convolution
   Each output pixel visits its window's taps that fall inside the image; with m = 1 the
   channels of a pixel are whole vectors, accumulated in registers over all the taps — four
   neighbouring pixels at a time where their windows lie inside the row (four independent
   accumulation chains, and each tap's weights loaded once for the four). */

static void LK(depthwise)(const LK_T *x, long images, long c, const lamina_window *g, long kh, long kw,
                          long dh, long dw, const LK_T *w, long m, const LK_T *bias, LK_T *out) {
    long oc = c * m, sw = g->strideW;
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            long ih0 = oh * g->strideH - g->padTop;
            for (long ow = 0; ow < g->outW; ow++) {
                long iw0 = ow * sw - g->padLeft;
                LK_T *o = out + ((n * g->outH + oh) * g->outW + ow) * oc;
                if (m == 1 && ow + 4 <= g->outW && iw0 >= 0 && iw0 + 3 * sw + (kw - 1) * dw < g->inW) {
                    LK_VECTORS(j, c, {
                        vf a0 = bias ? LDK(bias + j, 0) : (vf)0, a1 = a0, a2 = a0, a3 = a0;
                        for (long a = 0; a < kh; a++) {
                            long ih = ih0 + a * dh;
                            if (ih < 0 || ih >= g->inH) continue;
                            const LK_T *xr = x + ((n * g->inH + ih) * g->inW + iw0) * c + j, *wr = w + a * kw * c + j;
                            for (long b = 0; b < kw; b++) {
                                vf wv = LDK(wr + b * c, 0);
                                const LK_T *xb = xr + b * dw * c;
                                a0 += LDK(xb, 0) * wv;
                                a1 += LDK(xb + sw * c, 0) * wv;
                                a2 += LDK(xb + 2 * sw * c, 0) * wv;
                                a3 += LDK(xb + 3 * sw * c, 0) * wv;
                            }
                        }
                        STK(o + j, a0); STK(o + c + j, a1); STK(o + 2 * c + j, a2); STK(o + 3 * c + j, a3);
                    });
                    ow += 3;
                    continue;
                }
                if (m == 1) {
                    LK_VECTORS(j, c, {
                        vf acc = bias ? LDK(bias + j, 0) : (vf)0;
                        for (long a = 0; a < kh; a++) {
                            long ih = ih0 + a * dh;
                            if (ih < 0 || ih >= g->inH) continue;
                            const LK_T *xr = x + ((n * g->inH + ih) * g->inW) * c + j, *wr = w + a * kw * c + j;
                            for (long b = 0; b < kw; b++) {
                                long iw = iw0 + b * dw;
                                if (iw < 0 || iw >= g->inW) continue;
                                acc += LDK(xr + iw * c, 0) * LDK(wr + b * c, 0);
                            }
                        }
                        STK(o + j, acc);
                    });
                    continue;
                }
                for (long j = 0; j < oc; j++) o[j] = bias ? bias[j] : 0;
                for (long a = 0; a < kh; a++) {
                    long ih = ih0 + a * dh;
                    if (ih < 0 || ih >= g->inH) continue;
                    for (long b = 0; b < kw; b++) {
                        long iw = iw0 + b * dw;
                        if (iw < 0 || iw >= g->inW) continue;
                        const LK_T *xr = x + ((n * g->inH + ih) * g->inW + iw) * c, *wr = w + (a * kw + b) * oc;
                        for (long ch = 0; ch < c; ch++) {
                            LK_T v = xr[ch];
                            for (long k = 0; k < m; k++) o[ch * m + k] += v * wr[ch * m + k];
                        }
                    }
                }
            }
        }
    }
}

/* d[j] += a[j] * b[j] for j < n. */
static inline void LK(multiply_add)(LK_T *d, const LK_T *a, const LK_T *b, long n) {
    LK_VECTORS(j, n, STK(d + j, LDK(d + j, 0) + LDK(a + j, 0) * LDK(b + j, 0)););
}

/* The traversal both depthwise gradients share: runs BODY for every tap (a, b) of every output
   pixel of every image whose input pixel lies inside the image, with `go` the output pixel's
   gradient (oc values), `pixel` the input pixel's offset in elements and `tap` = a·kw + b. */
#define LK_DEPTHWISE_TAPS(BODY)                                                              \
    for (long n = 0; n < images; n++)                                                        \
        for (long oh = 0; oh < g->outH; oh++)                                                \
            for (long ow = 0; ow < g->outW; ow++) {                                          \
                const LK_T *go = dout + ((n * g->outH + oh) * g->outW + ow) * oc;           \
                for (long a = 0; a < kh; a++) {                                              \
                    long ih = oh * g->strideH - g->padTop + a * dh;                          \
                    if (ih < 0 || ih >= g->inH) continue;                                    \
                    for (long b = 0; b < kw; b++) {                                          \
                        long iw = ow * g->strideW - g->padLeft + b * dw;                     \
                        if (iw < 0 || iw >= g->inW) continue;                                \
                        long pixel = ((n * g->inH + ih) * g->inW + iw) * c, tap = a * kw + b; \
                        BODY                                                                 \
                    }                                                                        \
                }                                                                            \
            }

static void LK(depthwise_dx)(const LK_T *dout, long images, long c, const lamina_window *g, long kh, long kw,
                             long dh, long dw, const LK_T *w, long m, LK_T *dx) {
    long oc = c * m;
    LK_DEPTHWISE_TAPS({
        LK_T *d = dx + pixel;
        const LK_T *wr = w + tap * oc;
        if (m == 1) {
            LK(multiply_add)(d, go, wr, c);
        } else {
            for (long ch = 0; ch < c; ch++) {
                LK_T s = 0;
                for (long k = 0; k < m; k++) s += go[ch * m + k] * wr[ch * m + k];
                d[ch] += s;
            }
        }
    })
}

static void LK(depthwise_dw)(const LK_T *x, long images, long c, const lamina_window *g, long kh, long kw,
                             long dh, long dw, const LK_T *dout, long m, LK_T *dW) {
    long oc = c * m;
    LK_DEPTHWISE_TAPS({
        const LK_T *xr = x + pixel;
        LK_T *wr = dW + tap * oc;
        if (m == 1) {
            LK(multiply_add)(wr, xr, go, c);
        } else {
            for (long ch = 0; ch < c; ch++) {
                LK_T v = xr[ch];
                for (long k = 0; k < m; k++) wr[ch * m + k] += v * go[ch * m + k];
            }
        }
    })
}

#undef LK_DEPTHWISE_TAPS

#ifndef LK_F64
#include "gemm_impl.h"
#include "winograd_impl.h"
#define LK_TABLE lamina_kernel_table
#else
#define LK_TABLE lamina_kernel_table_f64
#endif

const LK_TABLE LK(lamina_kernels) = {
    .level = LK_LEVEL,
    .name = LK_LEVEL_NAME,
    .relu = LK(relu),
    .relu_backward = LK(relu_backward),
    .channel_affine = LK(channel_affine),
    .add = LK(add),
    .mul = LK(mul),
    .binary_scalar = LK(binary_scalar),
    .column_sums = LK(column_sums),
    .max_pool = LK(max_pool),
    .scatter_add = LK(scatter_add),
    .im2col = LK(im2col),
    .col2im = LK(col2im),
    .conv_direct = LK(conv_direct),
    .conv_direct_dw = LK(conv_direct_dw),
    .depthwise = LK(depthwise),
    .depthwise_dx = LK(depthwise_dx),
    .depthwise_dw = LK(depthwise_dw),
    .lstm_forward = LK(lstm_forward),
    .lstm_backward = LK(lstm_backward),
    .adam = LK(adam),
    .softmax_rows = LK(softmax_rows),
    .softmax_backward_rows = LK(softmax_backward_rows),
    .layer_norm_rows = LK(layer_norm_rows),
    .layer_norm_backward_rows = LK(layer_norm_backward_rows),
    .layer_norm_param_grads = LK(layer_norm_param_grads),
#ifndef LK_F64
    .sgemm = LK(sgemm),
    .sgemm_packed_b_floats = LK(sgemm_packed_b_floats),
    .sgemm_pack_b = LK(sgemm_pack_b),
    .sgemm_packed = LK(sgemm_packed),
    .sgemm_cols_t = LK(sgemm_cols_t),
    .winograd_kernel_floats = LK(winograd_kernel_floats),
    .winograd_pack_kernel = LK(winograd_pack_kernel),
    .winograd_scratch_floats = LK(winograd_scratch_floats),
    .winograd_conv = LK(winograd_conv),
    .sgemm_mr = LK_GEMM_MR,
    .sgemm_nr = LK_GEMM_NR,
    .sgemm_kc = LK_GEMM_KC,
    .sgemm_nc = LK_GEMM_NC,
#endif
};

/* This file is included again for the other element type: the names that depend on it go. */
#undef LK_TABLE
#undef LK_T
#undef LK_N
#undef LK_SQRT
#undef LK_SUFFIX
#undef LK_F64
#undef vf
#undef vi
#undef vm
#undef vd
#undef ld
#undef st
#undef ldk
#undef stk
#undef sel
#undef LK_VECTORS
#undef LDK
#undef STK
#undef LK_CONV_P
#undef LK_DW_TAPS
