/*
 * Lamina's float32 GEMM, written once and compiled per SIMD level (included by kernels_impl.h,
 * inside that level's target region): C = alpha·op(A)·op(B) + beta·C, row-major.
 *
 * The structure is the one of Goto's and BLIS's GEMMs, seen from row-major storage, where the
 * vector direction is a row of C (n) and the broadcast direction its columns (m):
 *   for each block of NC columns of op(B)                         (jc)
 *     for each block of KC of the inner dimension                (pc)
 *       pack op(B)[pc.., jc..] into NR-column panels, p-major    (shared by the threads, ~L2)
 *       for each group of MR rows of op(A)   (split across threads)
 *         pack op(A)[i.., pc..] into one MR-row panel, p-major   (thread's stack, ~L1)
 *         for each NR-column panel of the packed B block:
 *           the register-blocked microkernel: an MR×NR tile of C, KC rank-1 updates
 * Transposes are absorbed by the packing. Where op(A) is A itself and the block has few B panels
 * to reuse a packed A panel for (n ≤ 16·NR), A is not packed: the microkernel broadcasts from its
 * rows in place. sgemm_cols_t's op(A) is the transpose of a convolution's im2col matrix, its panels
 * gathered from the images' windows (gemm_pack_cols_t). Panels are zero-padded to MR/NR, so the microkernel
 * always runs whole tiles; a ragged tile is computed into a local buffer and only its valid part
 * written. beta applies on the first KC block only (later blocks add); beta = 0 never reads C.
 *
 * Register blocking (LK_GEMM_MR rows × LK_GEMM_NV vectors of accumulators):
 *   AVX-512: 12×32 (24 zmm accumulators + 2 B vectors + 1 broadcast of 32 registers). Per k step
 *            12 broadcasts and 2 loads feed 24 FMAs: Zen 4 (one 512-bit FMA per cycle, each run
 *            as two 256-bit halves) and Intel (two 512-bit FMA ports, latency 4: needs ≥ 8
 *            independent accumulators) are both FMA-bound, not load-bound.
 *   AVX2:    6×16 (12 ymm accumulators of 16).
 *   portable: 6×2 vectors of 4 (12 of 16 xmm on SSE2; NEON has 32).
 */
#include "lamina_parallel.h"
#include "lamina_kernels.h"

#ifndef LK_GEMM_MR
#if LK_W == 16
#define LK_GEMM_MR 12
#else
#define LK_GEMM_MR 6
#endif
#endif
#ifndef LK_GEMM_NV
#define LK_GEMM_NV 2
#endif
#define LK_GEMM_NR (LK_GEMM_NV * LK_W)
/* Cache blocking. KC: the inner-dimension block (an A panel of MR×KC stays in L1 while the B
   panels stream past it; C is read and written once per block). NC: the columns of op(B) packed
   at a time (an A panel is packed once per NC block). KC_TALL, NC_TALL: KC and NC where op(A)
   has at least TALL_M rows. With fewer rows B is packed for few row groups and its block is read
   back from beyond L2 when larger, so the short block stays.
   AVX2 (6×16), AMD EPYC Zen 3, against KC 384 / NC 512 for every shape (C harness, both
   alternating in one process, one thread): KC_TALL 512 +3–4% at square 1024–2048 (C passes
   3 → 2 at 1024), level at 512 and on the model shapes of gemm_table_zen3, −5% at m = 12–16 had
   it applied there; NC 1024 a further +3% at 1024–2048, level on the model shapes. Both with the
   C-tile prefetch below, own ÷ OpenBLAS's Zen kernels at square 1024 / 2048: 0.94 / 0.92 →
   1.02 / 1.00 (one thread), 0.94 / 0.92 → 0.99 / 0.98 (two).
   AVX-512 (12×32: a KC 512 A panel is 24 KB of a 32–48 KB L1), AMD EPYC Zen 4, two threads,
   C harness alternating both in one process: at square 2048 packing A was 7% of the time (each
   A panel packed once per NC block, from rows beyond L2); with NC_TALL 2048 and KC_TALL 512 for
   tall products, against 512 / 384 (means of 5–6 rounds): +5–16% at square 2048 in six runs
   (one thread 102 → 110 GFLOP/s, 94% of the core's FMA peak), +4–9% at 1024, +11% at ResNet50's
   1568×2048×512, +5% at 1568×512×2048, level at 512. Short products (m < TALL_M) keep NC 512:
   a B block beyond L2 would be read back from L3 by each of their few row groups. */
#ifndef LK_GEMM_KC
#define LK_GEMM_KC 384
#endif
/* A_IN_PLACE_PANELS: op(A) = A is read in place (not packed) when op(B) has at most this many
   NR-column panels (see gemm_a_in_place). */
#if LK_W == 16
#define LK_GEMM_KC_TALL_DEFAULT 512
#define LK_GEMM_NC_DEFAULT 512
#define LK_GEMM_NC_TALL_DEFAULT 2048
#define LK_GEMM_A_IN_PLACE_PANELS_DEFAULT 2
#else
#define LK_GEMM_KC_TALL_DEFAULT 512
#define LK_GEMM_NC_DEFAULT 1024
#define LK_GEMM_NC_TALL_DEFAULT LK_GEMM_NC_DEFAULT
#define LK_GEMM_A_IN_PLACE_PANELS_DEFAULT 16
#endif
#ifndef LK_GEMM_A_IN_PLACE_PANELS
#define LK_GEMM_A_IN_PLACE_PANELS LK_GEMM_A_IN_PLACE_PANELS_DEFAULT
#endif
#ifndef LK_GEMM_KC_TALL
#define LK_GEMM_KC_TALL LK_GEMM_KC_TALL_DEFAULT
#endif
#ifndef LK_GEMM_TALL_M
#define LK_GEMM_TALL_M 256
#endif
#ifndef LK_GEMM_NC
#define LK_GEMM_NC LK_GEMM_NC_DEFAULT
#endif
#ifndef LK_GEMM_NC_TALL
#define LK_GEMM_NC_TALL LK_GEMM_NC_TALL_DEFAULT
#endif
#ifndef LK_GEMM_CHUNKS
#define LK_GEMM_CHUNKS 16
#endif
#ifndef LK_GEMM_DIRECT_GROUPS
#define LK_GEMM_DIRECT_GROUPS 3
#endif

#define LK_UNROLL _Pragma("clang loop unroll(full)")
#if LK_LEVEL > 0
#define LK_FMA(a, b, c) __builtin_elementwise_fma(a, b, c)
#else
#define LK_FMA(a, b, c) ((a) * (b) + (c))
#endif

/* One tile of R ≤ MR rows and V ≤ NV vectors (constants after inlining, so each (R, V) pair
   is its own register-blocked loop): c = alpha·(A panel · B panel) + beta·c, of which the
   top-left R×nr is kept. A panel: kc steps of MR floats; B panel: kc rows `bs` floats apart. */
static inline __attribute__((always_inline)) void LK(gemm_tile)(const int R, const int V, const int DA, long lda, long kc,
        const float *restrict a, const float *restrict b, long bs, float *restrict c, long ldc,
        float alpha, float beta, long nr) {
    /* DA: A read in place, row i at a + i·lda (k contiguous), instead of a packed panel */
    const long astep = DA ? 1 : LK_GEMM_MR, arow = DA ? lda : 1;
    /* With few accumulators (R·V < 8) the FMA latency (4 cycles, 1–2 issued a cycle) would
       bound the loop: S interleaved sets over k keep enough FMAs in flight, summed at the end. */
    const int S = R > 4 || R * V >= 8 ? 1 : R * V >= 4 ? 2 : 4;  /* the extra sets hold ≤ 4 rows */
    vf acc[LK_GEMM_MR][LK_GEMM_NV], acc2[4][LK_GEMM_MR > 4 ? 4 : LK_GEMM_MR][LK_GEMM_NV];
    /* C's tile is read (beta ≠ 0) or written only after kc steps: fetched now, its misses (C is
       beyond L2 in a large product) overlap the loop instead of stalling the stores (+2% at
       square 1024–2048 on Zen 3, one thread; on every level, measured at AVX2 only) */
    LK_UNROLL for (int i = 0; i < R; i++) {
        __builtin_prefetch(c + i * ldc, 1, 3);
        __builtin_prefetch(c + i * ldc + V * LK_W - 1, 1, 3);
    }
    {   /* the first rank-1 update initializes the accumulators (kc ≥ 1; a zeroing loop would
           become a memset that keeps them in memory) */
        vf bv[LK_GEMM_NV];
        LK_UNROLL for (int v = 0; v < V; v++) bv[v] = ld(b + v * LK_W);
        LK_UNROLL for (int i = 0; i < R; i++) {
            vf ai = (vf)a[i * arow];
            LK_UNROLL for (int v = 0; v < V; v++) acc[i][v] = ai * bv[v];
        }
        a += astep;
        b += bs;
    }
    long p = 1;
    if (S > 1) {
        LK_UNROLL for (int s = 1; s < S; s++)
            LK_UNROLL for (int i = 0; i < (R < 4 ? R : 4); i++)
                LK_UNROLL for (int v = 0; v < V; v++) acc2[s][i][v] = (vf)0.0f;
        for (; p + S <= kc; p += S) {
            LK_UNROLL for (int s = 0; s < S; s++) {
                vf bv[LK_GEMM_NV];
                LK_UNROLL for (int v = 0; v < V; v++) bv[v] = ld(b + s * bs + v * LK_W);
                LK_UNROLL for (int i = 0; i < (R < 4 ? R : 4); i++) {
                    vf ai = (vf)a[s * astep + i * arow];
                    LK_UNROLL for (int v = 0; v < V; v++) {
                        if (s == 0) acc[i][v] = LK_FMA(ai, bv[v], acc[i][v]);
                        else acc2[s][i][v] = LK_FMA(ai, bv[v], acc2[s][i][v]);
                    }
                }
            }
            a += S * astep;
            b += S * bs;
        }
        LK_UNROLL for (int s = 1; s < S; s++)
            LK_UNROLL for (int i = 0; i < (R < 4 ? R : 4); i++)
                LK_UNROLL for (int v = 0; v < V; v++) acc[i][v] += acc2[s][i][v];
    }
    for (; p < kc; p++) {
        vf bv[LK_GEMM_NV];
        LK_UNROLL for (int v = 0; v < V; v++) bv[v] = ld(b + v * LK_W);
        LK_UNROLL for (int i = 0; i < R; i++) {
            vf ai = (vf)a[i * arow];
            LK_UNROLL for (int v = 0; v < V; v++) acc[i][v] = LK_FMA(ai, bv[v], acc[i][v]);
        }
        a += astep;
        b += bs;
    }
    if (nr == V * LK_W) {
        if (beta == 0.0f) {
            LK_UNROLL for (int i = 0; i < R; i++)
                LK_UNROLL for (int v = 0; v < V; v++) st(c + i * ldc + v * LK_W, acc[i][v] * alpha);
        } else if (beta == 1.0f) {
            LK_UNROLL for (int i = 0; i < R; i++)
                LK_UNROLL for (int v = 0; v < V; v++) {
                    float *cp = c + i * ldc + v * LK_W;
                    st(cp, LK_FMA(acc[i][v], (vf)alpha, ld(cp)));
                }
        } else {
            LK_UNROLL for (int i = 0; i < R; i++)
                LK_UNROLL for (int v = 0; v < V; v++) {
                    float *cp = c + i * ldc + v * LK_W;
                    st(cp, LK_FMA(acc[i][v], (vf)alpha, ld(cp) * beta));
                }
        }
        return;
    }
    float tile[LK_GEMM_NR];
    LK_UNROLL for (int i = 0; i < R; i++) {
        LK_UNROLL for (int v = 0; v < V; v++) st(tile + v * LK_W, acc[i][v] * alpha);
        float *cr = c + i * ldc;
        if (beta == 0.0f) for (long j = 0; j < nr; j++) cr[j] = tile[j];
        else for (long j = 0; j < nr; j++) cr[j] = tile[j] + beta * cr[j];
    }
}

/* The tile of mr rows and nr columns: the loop specialized for exactly those rows and the
   vectors that cover nr (a ragged edge computes no more than it keeps, to a vector). */
#define LK_GEMM_ROW_CASE(R, V, DA) case R: if (R <= LK_GEMM_MR) LK(gemm_tile)(R, V, DA, lda, kc, a, b, bs, c, ldc, alpha, beta, nr); break;
#define LK_GEMM_ROW_CASES(V, DA) switch (mr) { \
    LK_GEMM_ROW_CASE(1, V, DA) LK_GEMM_ROW_CASE(2, V, DA) LK_GEMM_ROW_CASE(3, V, DA) LK_GEMM_ROW_CASE(4, V, DA) \
    LK_GEMM_ROW_CASE(5, V, DA) LK_GEMM_ROW_CASE(6, V, DA) LK_GEMM_ROW_CASE(7, V, DA) LK_GEMM_ROW_CASE(8, V, DA) \
    LK_GEMM_ROW_CASE(9, V, DA) LK_GEMM_ROW_CASE(10, V, DA) LK_GEMM_ROW_CASE(11, V, DA) LK_GEMM_ROW_CASE(12, V, DA) \
    LK_GEMM_ROW_CASE(13, V, DA) LK_GEMM_ROW_CASE(14, V, DA) LK_GEMM_ROW_CASE(15, V, DA) LK_GEMM_ROW_CASE(16, V, DA) \
    default: break; }
/* The tile for mr rows and nr columns, A packed (DA = 0) or in place (DA = 1), DA a constant
   after inlining. */
static inline __attribute__((always_inline)) void LK(gemm_micro_as)(const int DA, long kc, const float *restrict a, long lda,
        const float *restrict b, long bs, float *restrict c, long ldc, float alpha, float beta, long mr, long nr) {
    long v = (nr + LK_W - 1) / LK_W;
    if (mr == LK_GEMM_MR && v == LK_GEMM_NV) {
        LK(gemm_tile)(LK_GEMM_MR, LK_GEMM_NV, DA, lda, kc, a, b, bs, c, ldc, alpha, beta, nr);
        return;
    }
#if LK_GEMM_NV >= 3
    if (v == 3) { LK_GEMM_ROW_CASES(3, DA) return; }
#endif
#if LK_GEMM_NV >= 2
    if (v == 2) { LK_GEMM_ROW_CASES(2, DA) return; }
#endif
    LK_GEMM_ROW_CASES(1, DA)
}

/* a: a packed panel (lda = 0) or A's rows in place, lda apart */
static void LK(gemm_micro)(long kc, const float *restrict a, long lda, const float *restrict b, long bs, float *restrict c, long ldc,
                           float alpha, float beta, long mr, long nr) {
    if (lda) LK(gemm_micro_as)(1, kc, a, lda, b, bs, c, ldc, alpha, beta, mr, nr);
    else LK(gemm_micro_as)(0, kc, a, 0, b, bs, c, ldc, alpha, beta, mr, nr);
}
#undef LK_GEMM_ROW_CASES
#undef LK_GEMM_ROW_CASE

typedef float LK(v4) __attribute__((ext_vector_type(4), aligned(4)));

/* dst[p·D + i] = s[i·lds + p] for i < rows, p < kc, and 0 for rows ≤ i < D: a transposing copy,
   in 4×4 blocks of 128-bit shuffles where whole (a scalar loop would move one float a step). */
static void LK(gemm_pack_transposed)(const float *s, long lds, long rows, long kc, float *restrict dst, long D) {
    long i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float *s0 = s + i * lds, *s1 = s0 + lds, *s2 = s1 + lds, *s3 = s2 + lds;
        long p = 0;
        for (; p + 4 <= kc; p += 4) {
            LK(v4) r0, r1, r2, r3;
            memcpy(&r0, s0 + p, 16); memcpy(&r1, s1 + p, 16); memcpy(&r2, s2 + p, 16); memcpy(&r3, s3 + p, 16);
            LK(v4) t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5), t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
            LK(v4) t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5), t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
            LK(v4) c0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5), c1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
            LK(v4) c2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5), c3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
            float *d = dst + p * D + i;
            memcpy(d, &c0, 16); memcpy(d + D, &c1, 16); memcpy(d + 2 * D, &c2, 16); memcpy(d + 3 * D, &c3, 16);
        }
        for (; p < kc; p++) {
            float *d = dst + p * D + i;
            d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p];
        }
    }
    for (; i < rows; i++) {
        const float *si = s + i * lds;
        for (long p = 0; p < kc; p++) dst[p * D + i] = si[p];
    }
    if (rows < D)
        for (long p = 0; p < kc; p++)
            for (long r = rows; r < D; r++) dst[p * D + r] = 0.0f;
}

/* op(A)[i0 ..< i0+mr, p0 ..< p0+kc] into dst[p·MR + i], rows mr ..< MR zero. */
static void LK(gemm_pack_a)(int ta, const float *a, long lda, long i0, long mr, long p0, long kc, float *restrict dst) {
    if (ta) {  /* stored k×m: row p of the stored matrix holds op(A)[·, p] */
        for (long p = 0; p < kc; p++) {
            const float *s = a + (p0 + p) * lda + i0;
            float *d = dst + p * LK_GEMM_MR;
            if (mr == LK_GEMM_MR) { memcpy(d, s, LK_GEMM_MR * sizeof(float)); continue; }
            long i = 0;
            for (; i < mr; i++) d[i] = s[i];
            for (; i < LK_GEMM_MR; i++) d[i] = 0.0f;
        }
    } else {
        LK(gemm_pack_transposed)(a + i0 * lda + p0, lda, mr, kc, dst, LK_GEMM_MR);
    }
}

/* op(B)[p0 ..< p0+kc, j0 ..< j0+nr] into dst[p·NR + j], columns nr ..< NR zero. */
static void LK(gemm_pack_b)(int tb, const float *b, long ldb, long p0, long kc, long j0, long nr, float *restrict dst) {
    if (!tb) {  /* stored k×n: contiguous rows */
        if (nr == LK_GEMM_NR) {
            for (long p = 0; p < kc; p++) {
                const float *s = b + (p0 + p) * ldb + j0;
                LK_UNROLL for (int v = 0; v < LK_GEMM_NV; v++) st(dst + p * LK_GEMM_NR + v * LK_W, ld(s + v * LK_W));
            }
        } else {
            for (long p = 0; p < kc; p++) {
                const float *s = b + (p0 + p) * ldb + j0;
                float *d = dst + p * LK_GEMM_NR;
                long j = 0;
                for (; j < nr; j++) d[j] = s[j];
                for (; j < LK_GEMM_NR; j++) d[j] = 0.0f;
            }
        }
    } else {    /* stored n×k: op(B)[p, j] = b[j·ldb + p] */
        LK(gemm_pack_transposed)(b + j0 * ldb + p0, ldb, nr, kc, dst, LK_GEMM_NR);
    }
}

#ifndef LK_GEMM_COLS
#define LK_GEMM_COLS
/* The im2col matrix of `images` NHWC images x under window g, as lamina_kernels.h's im2col
   writes it (row (image, oy, ox), column (ky, kx, channel), zero outside the image), never
   materialized: sgemm_cols_t's op(A) is its transpose. */
typedef struct {
    const float *x;
    long channels;
    const lamina_window *g;
} lamina_gemm_cols;
#endif

/* cols[·, t0 ..< t0+len] of the pixel whose window starts at (iy, ix) of image x, zero
   outside the image: one copy per window position (channels are contiguous). */
static void LK(gemm_cols_taps)(const lamina_gemm_cols *s, const float *x, long iy, long ix, long t0, long len,
                               float *restrict d) {
    const long C = s->channels;
    long c = t0 % C, kx = t0 / C % s->g->kW, ky = t0 / C / s->g->kW;
    for (long i = 0; i < len;) {
        long run = C - c < len - i ? C - c : len - i;
        long y = iy + ky, xx = ix + kx;
        if (y >= 0 && y < s->g->inH && xx >= 0 && xx < s->g->inW) {
            const float *src = x + (y * s->g->inW + xx) * C + c;
            for (long r = 0; r < run; r++) d[i + r] = src[r];
        } else {
            for (long r = 0; r < run; r++) d[i + r] = 0.0f;
        }
        i += run;
        c = 0;
        if (++kx == s->g->kW) { kx = 0; ky++; }
    }
}

/* op(A) = colsᵀ (lamina_gemm_cols): taps t0 ..< t0+mr of pixels p0 ..< p0+kc into
   dst[p·MR + i], rows mr ..< MR zero — what gemm_pack_a(ta = 1) copies from the materialized
   matrix, gathered from the image instead: a block of pixels' windows lie in a few image rows
   (in cache), where the materialized matrix has each in a row of its own. A window row (kw
   positions × channels) is contiguous in NHWC, so a panel of a window inside the image is at
   most a few runs at fixed offsets from the window's corner; windows that cross the border go
   tap by tap. The pixel is walked with counters, not divisions. */
static void LK(gemm_pack_cols_t)(const lamina_gemm_cols *s, long t0, long mr, long p0, long kc, float *restrict dst) {
    const long C = s->channels, row = s->g->kW * C, image = s->g->inH * s->g->inW * C;
    long off[LK_GEMM_MR], len[LK_GEMM_MR], at[LK_GEMM_MR];
    int runs = 0;
    for (long t = t0; t < t0 + mr; runs++) {
        long ky = t / row, o = t % row;
        len[runs] = row - o < t0 + mr - t ? row - o : t0 + mr - t;
        off[runs] = ky * s->g->inW * C + o;
        at[runs] = t - t0;
        t += len[runs];
    }
    const long plane = s->g->outH * s->g->outW;
    long img = p0 / plane, oy = p0 % plane / s->g->outW, ox = p0 % s->g->outW;
    for (long p = 0; p < kc; p++) {
        float *d = dst + p * LK_GEMM_MR;
        const long iy = oy * s->g->strideH - s->g->padTop, ix = ox * s->g->strideW - s->g->padLeft;
        const float *x = s->x + img * image;
        if (iy >= 0 && iy + s->g->kH <= s->g->inH && ix >= 0 && ix + s->g->kW <= s->g->inW) {
            const float *corner = x + (iy * s->g->inW + ix) * C;
            if (runs == 1 && mr == LK_GEMM_MR) {
                memcpy(d, corner + off[0], LK_GEMM_MR * sizeof(float));
            } else {
                for (int r = 0; r < runs; r++)
                    for (long i = 0; i < len[r]; i++) d[at[r] + i] = corner[off[r] + i];
            }
        } else {
            LK(gemm_cols_taps)(s, x, iy, ix, t0, mr, d);
        }
        for (long i = mr; i < LK_GEMM_MR; i++) d[i] = 0.0f;
        if (++ox == s->g->outW) { ox = 0; if (++oy == s->g->outH) { oy = 0; img++; } }
    }
}

typedef struct {
    int ta, tb;
    long m, n, k;
    float alpha, beta;
    const float *a, *b;
    const lamina_gemm_cols *cols;  /* op(A) = colsᵀ, gathered from the image (a is unused) */
    float *c;
    long lda, ldb, ldc;
    /* the current (jc, pc) block */
    long jc, nc, pc, kc, panels;
    float beta_now;
    float *bpack;
    int bdirect;  /* op(B) = B (not transposed) and few rows of A: whole panels are read in place */
    int adirect;  /* op(A) = A (not transposed) and few B panels: A's rows read in place, not packed */
    /* how the block's work is cut: row_chunks × col_chunks tasks */
    long pack_chunks, row_chunks, col_chunks, groups;
} LK(gemm_job);

static void LK(gemm_pack_task)(void *context, long t) {
    LK(gemm_job) *g = context;
    long lo = g->panels * t / g->pack_chunks, hi = g->panels * (t + 1) / g->pack_chunks;
    for (long q = lo; q < hi; q++) {
        long j0 = g->jc + q * LK_GEMM_NR;
        long nr = g->jc + g->nc - j0 < LK_GEMM_NR ? g->jc + g->nc - j0 : LK_GEMM_NR;
        if (g->bdirect && nr == LK_GEMM_NR) continue;
        LK(gemm_pack_b)(g->tb, g->b, g->ldb, g->pc, g->kc, j0, nr, g->bpack + q * g->kc * LK_GEMM_NR);
    }
}

static void LK(gemm_compute_task)(void *context, long t) {
    LK(gemm_job) *g = context;
    long rc = t / g->col_chunks, cc = t % g->col_chunks;
    long glo = g->groups * rc / g->row_chunks, ghi = g->groups * (rc + 1) / g->row_chunks;
    long qlo = g->panels * cc / g->col_chunks, qhi = g->panels * (cc + 1) / g->col_chunks;
    float apack[LK_GEMM_KC_TALL * LK_GEMM_MR] __attribute__((aligned(64)));
    for (long gi = glo; gi < ghi; gi++) {
        long i0 = gi * LK_GEMM_MR;
        long mr = g->m - i0 < LK_GEMM_MR ? g->m - i0 : LK_GEMM_MR;
        const float *ap = apack;
        long alda = 0;
        if (g->cols) LK(gemm_pack_cols_t)(g->cols, i0, mr, g->pc, g->kc, apack);
        else if (g->adirect) { ap = g->a + i0 * g->lda + g->pc; alda = g->lda; }
        else LK(gemm_pack_a)(g->ta, g->a, g->lda, i0, mr, g->pc, g->kc, apack);
        for (long q = qlo; q < qhi; q++) {
            long j0 = g->jc + q * LK_GEMM_NR;
            long nr = g->jc + g->nc - j0 < LK_GEMM_NR ? g->jc + g->nc - j0 : LK_GEMM_NR;
            const float *bp = g->bpack + q * g->kc * LK_GEMM_NR;
            long bs = LK_GEMM_NR;
            if (g->bdirect && nr == LK_GEMM_NR) { bp = g->b + g->pc * g->ldb + j0; bs = g->ldb; }
            LK(gemm_micro)(g->kc, ap, alda, bp, bs, g->c + i0 * g->ldc + j0, g->ldc, g->alpha, g->beta_now, mr, nr);
        }
    }
}

/* k in equal blocks of at most KC (a short last block would store C once more for little
   work); a multiple of 4 where it can be. */
static long LK(gemm_kstep)(long k, long kc) {
    long kblocks = (k + kc - 1) / kc;
    long kstep = (k + kblocks - 1) / kblocks;
    if (kblocks > 1) kstep = (kstep + 3) & ~3L;
    return kstep > kc ? kc : kstep;
}

/* Packing A pays when its panel is reused by many B panels; with at most 16 (n ≤ 256 on AVX2:
   convolutions' filters, dense units) A's rows are read in place, six streams along k. Zen 3
   against packing — sgemm, 2 threads: +33% at n = 64 (m = 18432, k = 64), +10-16% at n = 128-256
   for k = 576-2048, level at n = 256, k = 256; -4% at n = 512; sgemm_packed (inference
   convolutions), one thread: +5-34% on ResNet50's and MobileNetV2's shapes (n = 32-256), -3% to
   +3% at n = 256, k = 256. On AVX-512 (12 rows, twelve streams) only up to two B panels
   (n ≤ 64): Zen 4, MNIST convnet (its 64-filter convolution), eight alternating pairs against
   packing: training epoch faster in seven (-0.3% to -21%), +5% in one (within noise); predict
   at batch 1000 +1.5-7%; ResNet50, MobileNetV2 level. At n ≤ 128 the epoch's gain was smaller
   and mixed. */
static inline int LK(gemm_a_in_place)(int transA, long n) {
    return !transA && n <= LK_GEMM_A_IN_PLACE_PANELS * LK_GEMM_NR;
}

/* The calling thread's packed-B buffer, kept between calls (grown, never shrunk). */
static _Thread_local float *LK(gemm_bbuf);
static _Thread_local size_t LK(gemm_bbuf_floats);

/* sgemm, with op(A) = colsᵀ gathered from an image batch where `cols` is given. */
static int LK(sgemm_from)(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                          const lamina_gemm_cols *cols, const float *b, long ldb, float beta, float *c, long ldc,
                          long threads) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0 || alpha == 0.0f) {  /* C = beta·C */
        for (long i = 0; i < m; i++) {
            float *cr = c + i * ldc;
            if (beta == 0.0f) memset(cr, 0, (size_t)n * sizeof(float));
            else if (beta != 1.0f) for (long j = 0; j < n; j++) cr[j] *= beta;
        }
        return 0;
    }
    const int tall = m >= LK_GEMM_TALL_M;
    long kcap = tall ? LK_GEMM_KC_TALL : LK_GEMM_KC, ncap = tall ? LK_GEMM_NC_TALL : LK_GEMM_NC;
    long ncmax = n < ncap ? n : ncap;
    long kcmax = k < kcap ? k : kcap;
    size_t need = (size_t)((ncmax + LK_GEMM_NR - 1) / LK_GEMM_NR) * LK_GEMM_NR * (size_t)kcmax;
    if (LK(gemm_bbuf_floats) < need) {
        free(LK(gemm_bbuf));
        void *p = NULL;
        if (posix_memalign(&p, 64, need * sizeof(float)) != 0) {
            LK(gemm_bbuf) = NULL; LK(gemm_bbuf_floats) = 0;
            return -1;
        }
        LK(gemm_bbuf) = p;
        LK(gemm_bbuf_floats) = need;
    }
    LK(gemm_job) g = {
        .ta = transA, .tb = transB, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta,
        .a = a, .b = b, .cols = cols, .c = c, .lda = lda, .ldb = ldb, .ldc = ldc, .bpack = LK(gemm_bbuf),
    };
    g.groups = (m + LK_GEMM_MR - 1) / LK_GEMM_MR;
    g.adirect = !cols && LK(gemm_a_in_place)(transA, n);
    /* Packing B pays when its panels are reused by several row groups; with one or two (a batch
       of a few rows) the panels are read where they are. */
    g.bdirect = !transB && g.groups <= LK_GEMM_DIRECT_GROUPS
        && (double)kcmax * (double)n <= 196608.0;  /* B block ≤ 768 KB: about an L2 */
    /* Small products run on the calling thread alone: a fork-join costs a few microseconds. */
    double flops = 2.0 * (double)m * (double)n * (double)k;
    if (flops < 4.0e6) threads = 1;
    if (threads < 1) threads = 1;
    const long kstep = LK(gemm_kstep)(k, kcap);
    for (long jc = 0; jc < n; jc += ncap) {
        g.jc = jc;
        g.nc = n - jc < ncap ? n - jc : ncap;
        g.panels = (g.nc + LK_GEMM_NR - 1) / LK_GEMM_NR;
        /* tasks: rows of C in chunks of whole MR groups, up to CHUNKS per thread, taken as threads
           come free: a core slowed by a neighbour on a shared host leaves at most one small chunk
           for the others to wait on at the block's end (16 against 4 per thread: +4–7% at
           n = 512–2048 on a noisy Zen 3, level when quiet). 64 per thread, Zen 4: +1–6% in the
           means of square 512–2048 products (C harness, best level), but the MNIST convnet's
           epoch 4% slower (means of 11 alternating runs: 9.40 s against 8.99 with 16), so 16
           stays. When there are too few groups for the threads, the block's columns are cut as
           well (A panels are then packed once per chunk) */
        long row_chunks = g.groups < threads * LK_GEMM_CHUNKS ? g.groups : threads * LK_GEMM_CHUNKS;
        long col_chunks = 1;
        if (threads > 1 && g.groups < threads * 2) {
            col_chunks = (threads * 2 + g.groups - 1) / g.groups;
            if (col_chunks > g.panels) col_chunks = g.panels;
        }
        g.row_chunks = row_chunks;
        g.col_chunks = col_chunks;
        g.pack_chunks = threads < g.panels ? threads : g.panels;
        for (long pc = 0; pc < k; pc += kstep) {
            g.pc = pc;
            g.kc = k - pc < kstep ? k - pc : kstep;
            g.beta_now = pc == 0 ? beta : 1.0f;
            if (threads > 1) {
                lamina_parallel_run(g.pack_chunks, threads - 1, LK(gemm_pack_task), &g);
                lamina_parallel_run(row_chunks * col_chunks, threads - 1, LK(gemm_compute_task), &g);
            } else {
                g.pack_chunks = 1;
                LK(gemm_pack_task)(&g, 0);
                g.row_chunks = 1; g.col_chunks = 1;
                LK(gemm_compute_task)(&g, 0);
            }
        }
    }
    return 0;
}

static int LK(sgemm)(int transA, int transB, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc, long threads) {
    return LK(sgemm_from)(transA, transB, m, n, k, alpha, a, lda, NULL, b, ldb, beta, c, ldc, threads);
}

static int LK(sgemm_cols_t)(const float *x, long images, long channels, const lamina_window *g, int transB, long n,
                            float alpha, const float *b, long ldb, float beta, float *c, long ldc, long threads) {
    const lamina_gemm_cols cols = {.x = x, .channels = channels, .g = g};
    long m = g->kH * g->kW * channels, k = images * g->outH * g->outW;
    return LK(sgemm_from)(1, transB, m, n, k, alpha, NULL, 0, &cols, b, ldb, beta, c, ldc, threads);
}

/* ---- One op(B) for many products (the steps of a recurrence against its recurrent weights):
   packed once, in the order sgemm walks it — for each NC block of columns, for each k block,
   its NR-column panels (kc rows of NR floats, zero-padded) — then each product on the calling
   thread alone. */

/* The floats op(B) [k×n] takes packed. */
static size_t LK(sgemm_packed_b_floats)(long n, long k) {
    size_t floats = 0;
    for (long jc = 0; jc < n && k > 0; jc += LK_GEMM_NC) {
        long nc = n - jc < LK_GEMM_NC ? n - jc : LK_GEMM_NC;
        floats += (size_t)((nc + LK_GEMM_NR - 1) / LK_GEMM_NR) * LK_GEMM_NR * (size_t)k;
    }
    return floats;
}

static void LK(sgemm_pack_b)(int transB, long n, long k, const float *b, long ldb, float *dst) {
    long kstep = LK(gemm_kstep)(k, LK_GEMM_KC);
    for (long jc = 0; jc < n; jc += LK_GEMM_NC) {
        long nc = n - jc < LK_GEMM_NC ? n - jc : LK_GEMM_NC;
        for (long pc = 0; pc < k; pc += kstep) {
            long kc = k - pc < kstep ? k - pc : kstep;
            for (long j0 = jc; j0 < jc + nc; j0 += LK_GEMM_NR) {
                long nr = jc + nc - j0 < LK_GEMM_NR ? jc + nc - j0 : LK_GEMM_NR;
                LK(gemm_pack_b)(transB, b, ldb, pc, kc, j0, nr, dst);
                dst += kc * LK_GEMM_NR;
            }
        }
    }
}

static void LK(sgemm_packed)(int transA, long m, long n, long k, float alpha, const float *a, long lda,
                             const float *packed, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {  /* C = beta·C, as sgemm */
        LK(sgemm)(transA, 0, m, n, 0, alpha, a, lda, NULL, 0, beta, c, ldc, 1);
        return;
    }
    float apack[LK_GEMM_KC * LK_GEMM_MR] __attribute__((aligned(64)));
    long kstep = LK(gemm_kstep)(k, LK_GEMM_KC);
    const float *bp = packed;
    const int adirect = LK(gemm_a_in_place)(transA, n);
    for (long jc = 0; jc < n; jc += LK_GEMM_NC) {
        long nc = n - jc < LK_GEMM_NC ? n - jc : LK_GEMM_NC;
        long panels = (nc + LK_GEMM_NR - 1) / LK_GEMM_NR;
        for (long pc = 0; pc < k; pc += kstep) {
            long kc = k - pc < kstep ? k - pc : kstep;
            float beta_now = pc == 0 ? beta : 1.0f;
            for (long i0 = 0; i0 < m; i0 += LK_GEMM_MR) {
                long mr = m - i0 < LK_GEMM_MR ? m - i0 : LK_GEMM_MR;
                const float *ap = apack;
                if (adirect) ap = a + i0 * lda + pc;
                else LK(gemm_pack_a)(transA, a, lda, i0, mr, pc, kc, apack);
                for (long q = 0; q < panels; q++) {
                    long j0 = jc + q * LK_GEMM_NR;
                    long nr = jc + nc - j0 < LK_GEMM_NR ? jc + nc - j0 : LK_GEMM_NR;
                    LK(gemm_micro)(kc, ap, adirect ? lda : 0, bp + q * kc * LK_GEMM_NR, LK_GEMM_NR, c + i0 * ldc + j0, ldc, alpha, beta_now, mr, nr);
                }
            }
            bp += panels * kc * LK_GEMM_NR;
        }
    }
}
