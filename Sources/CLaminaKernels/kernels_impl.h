/*
 * The kernel bodies, written once and compiled once per SIMD level: a translation unit defines
 * LK_W (floats per vector), LK_SUFFIX, LK_LEVEL and LK_LEVEL_NAME, wraps this file in a
 * `#pragma clang attribute push(target(...))` region, and gets a `lamina_kernels_<suffix>`
 * table. Vectors are clang's ext_vector_type, so the same source becomes SSE/NEON, AVX2 or
 * AVX-512 code; loops run whole vectors and finish with a scalar tail that computes the same
 * formula. Nothing here allocates except column_sums for very wide rows.
 */
#include "lamina_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LK_CAT2(a, b) a##_##b
#define LK_CAT(a, b) LK_CAT2(a, b)
#define LK(name) LK_CAT(name, LK_SUFFIX)

typedef float LK(vf) __attribute__((ext_vector_type(LK_W), aligned(4)));
typedef int32_t LK(vi) __attribute__((ext_vector_type(LK_W), aligned(4)));
typedef double LK(vd) __attribute__((ext_vector_type(LK_W), aligned(8)));
#define vf LK(vf)
#define vi LK(vi)
#define vd LK(vd)

static inline vf LK(ld)(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void LK(st)(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline void LK(sti)(int32_t *p, vi v) { memcpy(p, &v, sizeof v); }
static inline vf LK(sel)(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
static inline vi LK(seli)(vi m, vi a, vi b) { return (a & m) | (b & ~m); }
static inline vi LK(iota)(void) { vi v; for (int i = 0; i < LK_W; i++) v[i] = i; return v; }
#define ld LK(ld)
#define st LK(st)
#define sel LK(sel)

/* Copies / adds `len` contiguous floats (short rows: whole vectors, then a scalar tail). */
static inline void LK(copy)(float *d, const float *s, long len) {
    long j = 0;
    for (; j + LK_W <= len; j += LK_W) st(d + j, ld(s + j));
    for (; j < len; j++) d[j] = s[j];
}
static inline void LK(accumulate)(float *d, const float *s, long len) {
    long j = 0;
    for (; j + LK_W <= len; j += LK_W) st(d + j, ld(d + j) + ld(s + j));
    for (; j < len; j++) d[j] += s[j];
}

/* tanh as the rational function Eigen and TensorFlow use for float32 (the same formula as
   Float.fastTanh in Swift), and the gate sigmoid σ(x) = (1 + tanh(x/2)) / 2. */
#define LK_TANH_CLAMP 7.90531110763549805f
#define LK_TANH_POLY(x2, p, q) \
    p = -2.76076847742355e-16f; p = p * x2 + 2.00018790482477e-13f; p = p * x2 - 8.60467152213735e-11f; \
    p = p * x2 + 5.12229709037114e-08f; p = p * x2 + 1.48572235717979e-05f; \
    p = p * x2 + 6.37261928875436e-04f; p = p * x2 + 4.89352455891786e-03f; \
    q = 1.19825839466702e-06f; q = q * x2 + 1.18534705686654e-04f; q = q * x2 + 2.26843463243900e-03f; \
    q = q * x2 + 4.89352518554385e-03f;

static inline float LK(tanh1)(float x) {
    float v = x < -LK_TANH_CLAMP ? -LK_TANH_CLAMP : x;
    v = v > LK_TANH_CLAMP ? LK_TANH_CLAMP : v;
    float x2 = v * v, p, q;
    LK_TANH_POLY(x2, p, q)
    return fabsf(x) < 0.0004f ? x : v * p / q;
}
static inline vf LK(vtanh)(vf x) {
    vf v = sel(x < -LK_TANH_CLAMP, (vf)(-LK_TANH_CLAMP), x);
    v = sel(v > LK_TANH_CLAMP, (vf)(LK_TANH_CLAMP), v);
    vf x2 = v * v, p, q;
    LK_TANH_POLY(x2, p, q)
    vf ax = (vf)((vi)x & (vi)(0x7fffffff));
    return sel(ax < 0.0004f, x, v * p / q);
}
static inline float LK(sigm1)(float x) { return 0.5f + 0.5f * LK(tanh1)(0.5f * x); }
static inline vf LK(vsigm)(vf x) { return 0.5f + 0.5f * LK(vtanh)(0.5f * x); }

static inline vf LK(vsqrt)(vf x) {
#if __has_builtin(__builtin_elementwise_sqrt)
    return __builtin_elementwise_sqrt(x);
#else
    for (int i = 0; i < LK_W; i++) x[i] = sqrtf(x[i]);
    return x;
#endif
}

/* MARK: elementwise */

static void LK(relu)(const float *x, float *y, long n) {
    long i = 0;
    for (; i + LK_W <= n; i += LK_W) { vf v = ld(x + i); st(y + i, sel(v > 0, v, (vf)0)); }
    for (; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

static void LK(relu_backward)(const float *g, const float *x, float *dx, long n) {
    long i = 0;
    for (; i + LK_W <= n; i += LK_W) st(dx + i, ld(g + i) * sel(ld(x + i) > 0, (vf)1, (vf)0));
    for (; i < n; i++) dx[i] = g[i] * (x[i] > 0 ? 1.0f : 0.0f);
}

static void LK(add)(const float *a, const float *b, float *y, long n) {
    long i = 0;
    for (; i + LK_W <= n; i += LK_W) st(y + i, ld(a + i) + ld(b + i));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

static void LK(mul)(const float *a, const float *b, float *y, long n) {
    long i = 0;
    for (; i + LK_W <= n; i += LK_W) st(y + i, ld(a + i) * ld(b + i));
    for (; i < n; i++) y[i] = a[i] * b[i];
}

#define LK_SCALAR_LOOP(expr_v, expr_s) do { \
        long i = 0; \
        for (; i + LK_W <= n; i += LK_W) { vf x = ld(a + i); st(y + i, expr_v); } \
        for (; i < n; i++) { float x = a[i]; y[i] = expr_s; } \
    } while (0)

static void LK(binary_scalar)(const float *a, float s, float *y, long n, int op) {
    vf sv = s;
    switch (op) {
    case 0: LK_SCALAR_LOOP(x + sv, x + s); break;
    case 1: LK_SCALAR_LOOP(x - sv, x - s); break;
    case 2: LK_SCALAR_LOOP(sv - x, s - x); break;
    case 3: LK_SCALAR_LOOP(x * sv, x * s); break;
    case 4: LK_SCALAR_LOOP(x / sv, x / s); break;
    default: LK_SCALAR_LOOP(sv / x, s / x); break;
    }
}
#undef LK_SCALAR_LOOP

static void LK(column_sums)(const float *x, long rows, long cols, double *acc) {
    float stack[1024];
    float *block = cols <= 1024 ? stack : malloc(sizeof(float) * (size_t)cols);
    if (!block) { /* out of memory for a scratch row: sum straight into double */
        for (long r = 0; r < rows; r++) for (long j = 0; j < cols; j++) acc[j] += x[r * cols + j];
        return;
    }
    for (long r0 = 0; r0 < rows; r0 += 64) {
        long r1 = r0 + 64 < rows ? r0 + 64 : rows;
        LK(copy)(block, x + r0 * cols, cols);
        for (long r = r0 + 1; r < r1; r++) LK(accumulate)(block, x + r * cols, cols);
        long j = 0;
        for (; j + LK_W <= cols; j += LK_W) {
            vd a; memcpy(&a, acc + j, sizeof a);
            a += __builtin_convertvector(ld(block + j), vd);
            memcpy(acc + j, &a, sizeof a);
        }
        for (; j < cols; j++) acc[j] += block[j];
    }
    if (block != stack) free(block);
}

/* MARK: pooling */

static void LK(max_pool)(const float *x, long images, long c, const lamina_window *g,
                         float *out, int32_t *argmax, long index_base) {
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
                long j = 0;
                for (; j + LK_W <= c; j += LK_W) {
                    vf m = ld(x + first + j);
                    vi id = (vi)(int32_t)(first + j + index_base) + iota;
                    for (long h = h0; h < h1; h++) {
                        for (long w = w0; w < w1; w++) {
                            if (h == h0 && w == w0) continue;
                            long ib = ((n * g->inH + h) * g->inW + w) * c + j;
                            vf v = ld(x + ib);
                            vi better = (v > m) | (v != v);  /* the first maximum; NaN wins */
                            m = sel(better, v, m);
                            if (argmax) id = LK(seli)(better, (vi)(int32_t)(ib + index_base) + iota, id);
                        }
                    }
                    st(out + ob + j, m);
                    if (argmax) LK(sti)(argmax + ob + j, id);
                }
                for (; j < c; j++) {
                    float m = x[first + j];
                    long id = first + j;
                    for (long h = h0; h < h1; h++) {
                        for (long w = w0; w < w1; w++) {
                            long ib = ((n * g->inH + h) * g->inW + w) * c + j;
                            float v = x[ib];
                            if (v > m || v != v) { m = v; id = ib; }
                        }
                    }
                    out[ob + j] = m;
                    if (argmax) argmax[ob + j] = (int32_t)(id + index_base);
                }
            }
        }
    }
}

static void LK(scatter_add)(const float *g, const int32_t *idx, long n, long index_base, float *d) {
    for (long i = 0; i < n; i++) d[idx[i] - index_base] += g[i];
}

/* MARK: convolution */

static void LK(im2col)(const float *x, long images, long c, const lamina_window *g, float *cols) {
    long rowLen = g->kH * g->kW * c;
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            for (long ow = 0; ow < g->outW; ow++) {
                float *row = cols + ((n * g->outH + oh) * g->outW + ow) * rowLen;
                long iw0 = ow * g->strideW - g->padLeft;
                int wholeRow = iw0 >= 0 && iw0 + g->kW <= g->inW;
                for (long kh = 0; kh < g->kH; kh++) {
                    long ih = oh * g->strideH - g->padTop + kh;
                    float *dst = row + kh * g->kW * c;
                    if (ih < 0 || ih >= g->inH) { memset(dst, 0, sizeof(float) * (size_t)(g->kW * c)); continue; }
                    const float *src = x + ((n * g->inH + ih) * g->inW) * c;
                    if (wholeRow) { LK(copy)(dst, src + iw0 * c, g->kW * c); continue; }
                    for (long kw = 0; kw < g->kW; kw++) {
                        long iw = iw0 + kw;
                        if (iw < 0 || iw >= g->inW) memset(dst + kw * c, 0, sizeof(float) * (size_t)c);
                        else LK(copy)(dst + kw * c, src + iw * c, c);
                    }
                }
            }
        }
    }
}

static void LK(col2im)(const float *cols, long images, long c, const lamina_window *g, float *x) {
    long rowLen = g->kH * g->kW * c;
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            for (long ow = 0; ow < g->outW; ow++) {
                const float *row = cols + ((n * g->outH + oh) * g->outW + ow) * rowLen;
                long iw0 = ow * g->strideW - g->padLeft;
                int wholeRow = iw0 >= 0 && iw0 + g->kW <= g->inW;
                for (long kh = 0; kh < g->kH; kh++) {
                    long ih = oh * g->strideH - g->padTop + kh;
                    if (ih < 0 || ih >= g->inH) continue;
                    const float *src = row + kh * g->kW * c;
                    float *dst = x + ((n * g->inH + ih) * g->inW) * c;
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
   registers (8 independent FMA chains, enough to hide the FMA latency) while the window's taps
   stream by; pixels whose windows are cut by padding, and filter counts that are not a multiple
   of 2·LK_W, take the one-pixel path below. */
#define LK_CONV_P 4

/* One pixel, filters [f0, f) one vector (then one lane) at a time. */
static inline void LK(conv_pixel)(const float *x, long c, const lamina_window *g, const float *w, long f,
                                  const float *bias, int relu, long n, long oh, long ow, long f0, float *o) {
    long hs = oh * g->strideH - g->padTop, ws = ow * g->strideW - g->padLeft;
    long kh0 = hs < 0 ? -hs : 0, kh1 = hs + g->kH > g->inH ? g->inH - hs : g->kH;
    long kw0 = ws < 0 ? -ws : 0, kw1 = ws + g->kW > g->inW ? g->inW - ws : g->kW;
    for (; f0 + LK_W <= f; f0 += LK_W) {
        vf acc = bias ? ld(bias + f0) : (vf)0;
        for (long kh = kh0; kh < kh1; kh++)
            for (long kw = kw0; kw < kw1; kw++) {
                const float *xp = x + ((n * g->inH + hs + kh) * g->inW + ws + kw) * c;
                const float *wp = w + (kh * g->kW + kw) * c * f + f0;
                for (long ci = 0; ci < c; ci++) acc += (vf)xp[ci] * ld(wp + ci * f);
            }
        st(o + f0, relu ? sel(acc > 0, acc, (vf)0) : acc);
    }
    for (; f0 < f; f0++) {
        float acc = bias ? bias[f0] : 0;
        for (long kh = kh0; kh < kh1; kh++)
            for (long kw = kw0; kw < kw1; kw++) {
                const float *xp = x + ((n * g->inH + hs + kh) * g->inW + ws + kw) * c;
                const float *wp = w + (kh * g->kW + kw) * c * f + f0;
                for (long ci = 0; ci < c; ci++) acc += xp[ci] * wp[ci * f];
            }
        o[f0] = relu && !(acc > 0) ? 0 : acc;
    }
}

/* LK_CONV_P pixels from `ow` whose windows lie inside the image horizontally, filters
   [0, fMain) in blocks of 2 vectors; the filters left over go through conv_pixel. */
static inline void LK(conv_block)(const float *x, long c, const lamina_window *g, const float *w, long f,
                                  const float *bias, int relu, long n, long oh, long ow, float *row) {
    const long fBlock = 2 * LK_W, fMain = f - f % fBlock;
    long hs = oh * g->strideH - g->padTop, ws = ow * g->strideW - g->padLeft;
    long kh0 = hs < 0 ? -hs : 0, kh1 = hs + g->kH > g->inH ? g->inH - hs : g->kH;
    for (long f0 = 0; f0 < fMain; f0 += fBlock) {
        vf acc[LK_CONV_P][2];
        for (int p = 0; p < LK_CONV_P; p++) {
            acc[p][0] = bias ? ld(bias + f0) : (vf)0;
            acc[p][1] = bias ? ld(bias + f0 + LK_W) : (vf)0;
        }
        for (long kh = kh0; kh < kh1; kh++) {
            const float *xr = x + ((n * g->inH + hs + kh) * g->inW + ws) * c;
            for (long kw = 0; kw < g->kW; kw++) {
                const float *wp = w + (kh * g->kW + kw) * c * f + f0;
                const float *xp = xr + kw * c;
                for (long ci = 0; ci < c; ci++) {
                    vf w0 = ld(wp + ci * f), w1 = ld(wp + ci * f + LK_W);
                    for (int p = 0; p < LK_CONV_P; p++) {
                        vf xv = (vf)xp[p * g->strideW * c + ci];
                        acc[p][0] += xv * w0;
                        acc[p][1] += xv * w1;
                    }
                }
            }
        }
        for (int p = 0; p < LK_CONV_P; p++) {
            float *o = row + (ow + p) * f + f0;
            st(o, relu ? sel(acc[p][0] > 0, acc[p][0], (vf)0) : acc[p][0]);
            st(o + LK_W, relu ? sel(acc[p][1] > 0, acc[p][1], (vf)0) : acc[p][1]);
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

static void LK(conv_direct)(const float *x, long images, long c, const lamina_window *g,
                            const float *w, long f, const float *bias, int relu, float *out) {
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            float *row = out + (n * g->outH + oh) * g->outW * f;
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
   of 4 taps × 2 filter vectors (8 independent chains) run over an image's pixels in registers,
   with taps outside the image reading 0; each image's sums are then added into dW. */
#define LK_DW_TAPS 4

/* The input value a tap (kh, kw, ci) reads for output pixel (oh, ow) of image n; 0 in padding. */
static inline float LK(tap)(const float *x, long c, const lamina_window *g, long n, long oh, long ow,
                            long kh, long kw, long ci) {
    long ih = oh * g->strideH - g->padTop + kh, iw = ow * g->strideW - g->padLeft + kw;
    return ih >= 0 && ih < g->inH && iw >= 0 && iw < g->inW ? x[((n * g->inH + ih) * g->inW + iw) * c + ci] : 0;
}

static void LK(conv_direct_dw)(const float *x, long images, long c, const lamina_window *g,
                               const float *dout, long f, float *dw) {
    const long taps = g->kH * g->kW * c, pixels = g->outH * g->outW;
    const long fBlock = 2 * LK_W, fMain = f - f % fBlock;
    for (long n = 0; n < images; n++) {
        const float *d = dout + n * pixels * f;
        for (long t0 = 0; t0 < taps; t0 += LK_DW_TAPS) {
            long tn = taps - t0 < LK_DW_TAPS ? taps - t0 : LK_DW_TAPS;
            /* The block's taps as (kh, kw, ci), worked out once (a tap past the end reads 0). */
            long kh[LK_DW_TAPS], kw[LK_DW_TAPS], ci[LK_DW_TAPS];
            for (long t = 0; t < LK_DW_TAPS; t++) {
                long tap = t < tn ? t0 + t : t0;
                ci[t] = tap % c; kh[t] = tap / c / g->kW; kw[t] = tap / c % g->kW;
            }
            for (long f0 = 0; f0 < fMain; f0 += fBlock) {
                vf acc[LK_DW_TAPS][2];
                for (int t = 0; t < LK_DW_TAPS; t++) { acc[t][0] = (vf)0; acc[t][1] = (vf)0; }
                for (long oh = 0, p = 0; oh < g->outH; oh++) {
                    for (long ow = 0; ow < g->outW; ow++, p++) {
                        vf d0 = ld(d + p * f + f0), d1 = ld(d + p * f + f0 + LK_W);
                        for (int t = 0; t < LK_DW_TAPS; t++) {
                            vf xv = (vf)(t < tn ? LK(tap)(x, c, g, n, oh, ow, kh[t], kw[t], ci[t]) : 0.0f);
                            acc[t][0] += xv * d0;
                            acc[t][1] += xv * d1;
                        }
                    }
                }
                for (long t = 0; t < tn; t++) {
                    float *row = dw + (t0 + t) * f + f0;
                    st(row, ld(row) + acc[t][0]);
                    st(row + LK_W, ld(row + LK_W) + acc[t][1]);
                }
            }
            for (long f0 = fMain; f0 < f; f0++) {  /* the filters left over, one lane at a time */
                for (long t = 0; t < tn; t++) {
                    float acc = 0;
                    for (long oh = 0, p = 0; oh < g->outH; oh++)
                        for (long ow = 0; ow < g->outW; ow++, p++) acc += LK(tap)(x, c, g, n, oh, ow, kh[t], kw[t], ci[t]) * d[p * f + f0];
                    dw[(t0 + t) * f + f0] += acc;
                }
            }
        }
    }
}

/* MARK: LSTM */

static void LK(lstm_forward)(float *z, long rows, long n, const float *c_prev,
                             float *c, float *tc, float *h) {
    for (long b = 0; b < rows; b++) {
        float *zb = z + b * 4 * n;
        const float *cp = c_prev + b * n;
        float *cb = c + b * n, *tb = tc + b * n, *hb = h + b * n;
        long j = 0;
        for (; j + LK_W <= n; j += LK_W) {
            vf i = LK(vsigm)(ld(zb + j)), fg = LK(vsigm)(ld(zb + n + j));
            vf gg = LK(vtanh)(ld(zb + 2 * n + j)), o = LK(vsigm)(ld(zb + 3 * n + j));
            st(zb + j, i); st(zb + n + j, fg); st(zb + 2 * n + j, gg); st(zb + 3 * n + j, o);
            vf cv = fg * ld(cp + j) + i * gg, t = LK(vtanh)(cv);
            st(cb + j, cv); st(tb + j, t); st(hb + j, o * t);
        }
        for (; j < n; j++) {
            float i = LK(sigm1)(zb[j]), fg = LK(sigm1)(zb[n + j]);
            float gg = LK(tanh1)(zb[2 * n + j]), o = LK(sigm1)(zb[3 * n + j]);
            zb[j] = i; zb[n + j] = fg; zb[2 * n + j] = gg; zb[3 * n + j] = o;
            float cv = fg * cp[j] + i * gg, t = LK(tanh1)(cv);
            cb[j] = cv; tb[j] = t; hb[j] = o * t;
        }
    }
}

static void LK(lstm_backward)(const float *a, const float *tc, const float *c_prev, const float *dh,
                              float *dc, float *dz, long rows, long n) {
    for (long b = 0; b < rows; b++) {
        const float *ab = a + b * 4 * n, *tb = tc + b * n, *cp = c_prev + b * n, *dhb = dh + b * n;
        float *dcb = dc + b * n, *db = dz + b * 4 * n;
        long j = 0;
        for (; j + LK_W <= n; j += LK_W) {
            vf i = ld(ab + j), fg = ld(ab + n + j), gg = ld(ab + 2 * n + j), o = ld(ab + 3 * n + j);
            vf t = ld(tb + j), dhv = ld(dhb + j);
            vf dcv = ld(dcb + j) + dhv * o * (1 - t * t);
            st(db + 3 * n + j, dhv * t * o * (1 - o));
            st(db + j, dcv * gg * i * (1 - i));
            st(db + n + j, dcv * ld(cp + j) * fg * (1 - fg));
            st(db + 2 * n + j, dcv * i * (1 - gg * gg));
            st(dcb + j, dcv * fg);
        }
        for (; j < n; j++) {
            float i = ab[j], fg = ab[n + j], gg = ab[2 * n + j], o = ab[3 * n + j], t = tb[j], dhv = dhb[j];
            float dcv = dcb[j] + dhv * o * (1 - t * t);
            db[3 * n + j] = dhv * t * o * (1 - o);
            db[j] = dcv * gg * i * (1 - i);
            db[n + j] = dcv * cp[j] * fg * (1 - fg);
            db[2 * n + j] = dcv * i * (1 - gg * gg);
            dcb[j] = dcv * fg;
        }
    }
}

/* MARK: softmax
   exp as Cephes's expf (the float exp of Eigen and TensorFlow's CPU kernels): x = n·ln2 + r,
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
static inline float LK(exp1)(float x) {
    if (x < LK_EXP_LO) return 0.0f;
    float c = x > LK_EXP_HI ? LK_EXP_HI : x;
    float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float y;
    LK_EXP_POLY(r, y)
    y = y * (r * r) + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return y * scale;
}

static inline float LK(hmax)(vf v) {
    float m = v[0];
    for (int i = 1; i < LK_W; i++) m = v[i] > m ? v[i] : m;
    return m;
}
static inline float LK(hsum)(vf v) {
    float s = 0;
    for (int i = 0; i < LK_W; i++) s += v[i];
    return s;
}

static void LK(softmax_rows)(float *x, long rows, long n) {
    for (long r = 0; r < rows; r++) {
        float *row = x + r * n;
        long j = 0;
        float m = -INFINITY;
        if (n >= LK_W) {
            vf mv = ld(row);
            for (j = LK_W; j + LK_W <= n; j += LK_W) { vf v = ld(row + j); mv = sel(v > mv, v, mv); }
            m = LK(hmax)(mv);
        }
        for (; j < n; j++) m = row[j] > m ? row[j] : m;
        vf sv = (vf)(0.0f);
        float s = 0;
        for (j = 0; j + LK_W <= n; j += LK_W) { vf e = LK(vexp)(ld(row + j) - m); st(row + j, e); sv += e; }
        for (; j < n; j++) { float e = LK(exp1)(row[j] - m); row[j] = e; s += e; }
        float inv = 1.0f / (s + LK(hsum)(sv));
        for (j = 0; j + LK_W <= n; j += LK_W) st(row + j, ld(row + j) * inv);
        for (; j < n; j++) row[j] *= inv;
    }
}

static void LK(softmax_backward_rows)(const float *dp, const float *p, float *ds, long rows, long n) {
    for (long r = 0; r < rows; r++) {
        const float *d = dp + r * n, *pr = p + r * n;
        float *o = ds + r * n;
        vf dv = (vf)(0.0f);
        float dot = 0;
        long j = 0;
        for (; j + LK_W <= n; j += LK_W) dv += ld(d + j) * ld(pr + j);
        for (; j < n; j++) dot += d[j] * pr[j];
        dot += LK(hsum)(dv);
        for (j = 0; j + LK_W <= n; j += LK_W) st(o + j, ld(pr + j) * (ld(d + j) - dot));
        for (; j < n; j++) o[j] = pr[j] * (d[j] - dot);
    }
}

/* MARK: layer normalization (last axis, rows of n) */

static void LK(layer_norm_rows)(const float *x, long rows, long n, const float *gamma, const float *beta,
                                float eps, float *y, float *stats) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        vf sv = (vf)(0.0f);
        float s = 0;
        long j = 0;
        for (; j + LK_W <= n; j += LK_W) sv += ld(xr + j);
        for (; j < n; j++) s += xr[j];
        float mean = (s + LK(hsum)(sv)) / (float)n;
        vf vv = (vf)(0.0f);
        float v = 0;
        for (j = 0; j + LK_W <= n; j += LK_W) { vf c = ld(xr + j) - mean; vv += c * c; }
        for (; j < n; j++) { float c = xr[j] - mean; v += c * c; }
        float inv = 1.0f / sqrtf((v + LK(hsum)(vv)) / (float)n + eps);
        stats[2 * r] = mean;
        stats[2 * r + 1] = inv;
        for (j = 0; j + LK_W <= n; j += LK_W) {
            vf o = (ld(xr + j) - mean) * inv;
            if (gamma) o = o * ld(gamma + j);
            if (beta) o = o + ld(beta + j);
            st(yr + j, o);
        }
        for (; j < n; j++) {
            float o = (xr[j] - mean) * inv;
            if (gamma) o = o * gamma[j];
            if (beta) o = o + beta[j];
            yr[j] = o;
        }
    }
}

/* dx = inv·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·gamma, x̂ = (x − mean)·inv */
static void LK(layer_norm_backward_rows)(const float *dy, const float *x, long rows, long n, const float *gamma,
                                         const float *stats, float *dx) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n, *gr = dy + r * n;
        float *o = dx + r * n;
        float mean = stats[2 * r], inv = stats[2 * r + 1];
        vf av = (vf)(0.0f), bv = (vf)(0.0f);
        float a = 0, b = 0;
        long j = 0;
        for (; j + LK_W <= n; j += LK_W) {
            vf gh = ld(gr + j);
            if (gamma) gh = gh * ld(gamma + j);
            vf xh = (ld(xr + j) - mean) * inv;
            av += gh; bv += gh * xh;
        }
        for (; j < n; j++) {
            float gh = gr[j] * (gamma ? gamma[j] : 1.0f), xh = (xr[j] - mean) * inv;
            a += gh; b += gh * xh;
        }
        a = (a + LK(hsum)(av)) / (float)n;
        b = (b + LK(hsum)(bv)) / (float)n;
        for (j = 0; j + LK_W <= n; j += LK_W) {
            vf gh = ld(gr + j);
            if (gamma) gh = gh * ld(gamma + j);
            vf xh = (ld(xr + j) - mean) * inv;
            st(o + j, inv * (gh - a - xh * b));
        }
        for (; j < n; j++) {
            float gh = gr[j] * (gamma ? gamma[j] : 1.0f), xh = (xr[j] - mean) * inv;
            o[j] = inv * (gh - a - xh * b);
        }
    }
}

/* dgamma[j] += Σ_r dy·x̂, dbeta[j] += Σ_r dy (either may be NULL): float sums over blocks of
   64 rows, added into the double accumulators. */
static void LK(layer_norm_param_grads)(const float *dy, const float *x, long rows, long n, const float *stats,
                                       double *dgamma, double *dbeta) {
    float *part = (float *)calloc((size_t)(2 * n > 0 ? 2 * n : 1), sizeof(float));
    if (!part) return;
    float *pg = part, *pb = part + n;
    for (long r0 = 0; r0 < rows; r0 += 64) {
        long r1 = r0 + 64 < rows ? r0 + 64 : rows;
        memset(part, 0, (size_t)(2 * n) * sizeof(float));
        for (long r = r0; r < r1; r++) {
            const float *xr = x + r * n, *gr = dy + r * n;
            float mean = stats[2 * r], inv = stats[2 * r + 1];
            long j = 0;
            for (; j + LK_W <= n; j += LK_W) {
                vf g = ld(gr + j);
                st(pg + j, ld(pg + j) + g * ((ld(xr + j) - mean) * inv));
                st(pb + j, ld(pb + j) + g);
            }
            for (; j < n; j++) { pg[j] += gr[j] * ((xr[j] - mean) * inv); pb[j] += gr[j]; }
        }
        for (long j = 0; j < n; j++) {
            if (dgamma) dgamma[j] += pg[j];
            if (dbeta) dbeta[j] += pb[j];
        }
    }
    free(part);
}

/* MARK: optimizers */

static void LK(adam)(float *w, const float *g, float *m, float *v, long n,
                     float alpha, float b1, float b2, float eps) {
    long i = 0;
    for (; i + LK_W <= n; i += LK_W) {
        vf gv = ld(g + i), mv = ld(m + i), vv = ld(v + i);
        mv += (gv - mv) * b1;
        vv += (gv * gv - vv) * b2;
        st(m + i, mv); st(v + i, vv);
        st(w + i, ld(w + i) - alpha * mv / (LK(vsqrt)(vv) + eps));
    }
    for (; i < n; i++) {
        m[i] += (g[i] - m[i]) * b1;
        v[i] += (g[i] * g[i] - v[i]) * b2;
        w[i] -= alpha * m[i] / (sqrtf(v[i]) + eps);
    }
}

/* MARK: depthwise convolution
   Each output pixel visits its window's taps that fall inside the image; with m = 1 the
   channels of a pixel are whole vectors, accumulated in registers over all the taps. */

static void LK(depthwise)(const float *x, long images, long c, const lamina_window *g, long kh, long kw,
                          long dh, long dw, const float *w, long m, const float *bias, float *out) {
    long oc = c * m;
    for (long n = 0; n < images; n++) {
        for (long oh = 0; oh < g->outH; oh++) {
            long ih0 = oh * g->strideH - g->padTop;
            for (long ow = 0; ow < g->outW; ow++) {
                long iw0 = ow * g->strideW - g->padLeft;
                float *o = out + ((n * g->outH + oh) * g->outW + ow) * oc;
                if (m == 1) {
                    long j = 0;
                    for (; j + LK_W <= c; j += LK_W) {
                        vf acc = bias ? ld(bias + j) : (vf)0.0f;
                        for (long a = 0; a < kh; a++) {
                            long ih = ih0 + a * dh;
                            if (ih < 0 || ih >= g->inH) continue;
                            const float *xr = x + ((n * g->inH + ih) * g->inW) * c + j, *wr = w + a * kw * c + j;
                            for (long b = 0; b < kw; b++) {
                                long iw = iw0 + b * dw;
                                if (iw < 0 || iw >= g->inW) continue;
                                acc += ld(xr + iw * c) * ld(wr + b * c);
                            }
                        }
                        st(o + j, acc);
                    }
                    for (; j < c; j++) {
                        float acc = bias ? bias[j] : 0.0f;
                        for (long a = 0; a < kh; a++) {
                            long ih = ih0 + a * dh;
                            if (ih < 0 || ih >= g->inH) continue;
                            for (long b = 0; b < kw; b++) {
                                long iw = iw0 + b * dw;
                                if (iw < 0 || iw >= g->inW) continue;
                                acc += x[((n * g->inH + ih) * g->inW + iw) * c + j] * w[(a * kw + b) * c + j];
                            }
                        }
                        o[j] = acc;
                    }
                    continue;
                }
                for (long j = 0; j < oc; j++) o[j] = bias ? bias[j] : 0.0f;
                for (long a = 0; a < kh; a++) {
                    long ih = ih0 + a * dh;
                    if (ih < 0 || ih >= g->inH) continue;
                    for (long b = 0; b < kw; b++) {
                        long iw = iw0 + b * dw;
                        if (iw < 0 || iw >= g->inW) continue;
                        const float *xr = x + ((n * g->inH + ih) * g->inW + iw) * c, *wr = w + (a * kw + b) * oc;
                        for (long ch = 0; ch < c; ch++) {
                            float v = xr[ch];
                            for (long k = 0; k < m; k++) o[ch * m + k] += v * wr[ch * m + k];
                        }
                    }
                }
            }
        }
    }
}

/* d[j] += a[j] * b[j] for j < n, whole vectors then the tail. */
static inline void LK(multiply_add)(float *d, const float *a, const float *b, long n) {
    long j = 0;
    for (; j + LK_W <= n; j += LK_W) st(d + j, ld(d + j) + ld(a + j) * ld(b + j));
    for (; j < n; j++) d[j] += a[j] * b[j];
}

/* The traversal both depthwise gradients share: runs BODY for every tap (a, b) of every output
   pixel of every image whose input pixel lies inside the image, with `go` the output pixel's
   gradient (oc values), `pixel` the input pixel's offset in elements and `tap` = a·kw + b. */
#define LK_DEPTHWISE_TAPS(BODY)                                                              \
    for (long n = 0; n < images; n++)                                                        \
        for (long oh = 0; oh < g->outH; oh++)                                                \
            for (long ow = 0; ow < g->outW; ow++) {                                          \
                const float *go = dout + ((n * g->outH + oh) * g->outW + ow) * oc;           \
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

static void LK(depthwise_dx)(const float *dout, long images, long c, const lamina_window *g, long kh, long kw,
                             long dh, long dw, const float *w, long m, float *dx) {
    long oc = c * m;
    LK_DEPTHWISE_TAPS({
        float *d = dx + pixel;
        const float *wr = w + tap * oc;
        if (m == 1) {
            LK(multiply_add)(d, go, wr, c);
        } else {
            for (long ch = 0; ch < c; ch++) {
                float s = 0.0f;
                for (long k = 0; k < m; k++) s += go[ch * m + k] * wr[ch * m + k];
                d[ch] += s;
            }
        }
    })
}

static void LK(depthwise_dw)(const float *x, long images, long c, const lamina_window *g, long kh, long kw,
                             long dh, long dw, const float *dout, long m, float *dW) {
    long oc = c * m;
    LK_DEPTHWISE_TAPS({
        const float *xr = x + pixel;
        float *wr = dW + tap * oc;
        if (m == 1) {
            LK(multiply_add)(wr, xr, go, c);
        } else {
            for (long ch = 0; ch < c; ch++) {
                float v = xr[ch];
                for (long k = 0; k < m; k++) wr[ch * m + k] += v * go[ch * m + k];
            }
        }
    })
}

#undef LK_DEPTHWISE_TAPS

#include "gemm_impl.h"

const lamina_kernel_table LK(lamina_kernels) = {
    .level = LK_LEVEL,
    .name = LK_LEVEL_NAME,
    .relu = LK(relu),
    .relu_backward = LK(relu_backward),
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
    .sgemm = LK(sgemm),
    .sgemm_mr = LK_GEMM_MR,
    .sgemm_nr = LK_GEMM_NR,
    .sgemm_kc = LK_GEMM_KC,
    .sgemm_nc = LK_GEMM_NC,
};
