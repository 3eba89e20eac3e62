/*
 * Winograd F(4×4, 3×3) for a 3×3, stride-1 convolution of NHWC images (float32; included by
 * kernels_impl.h after gemm_impl.h, whose packed products it runs): Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks" (2016). Each 4×4 block of outputs of every
 * filter is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, d the 6×6 input tile under it. Summed over channels, the
 * elementwise products become 36 matrix products [tiles × C]·[C × F]: 36·tiles·C·F
 * multiply-adds where the direct sum takes 16·9·tiles·C·F (4× fewer; 3.4× on the MNIST
 * convnet's 11×11 output, whose tiles cover 12×12). The transforms run along the channels,
 * LK_W at a time (NHWC keeps them contiguous).
 *
 * Rounding differs from the direct sum, which is within about 1e-7 of the largest output: the
 * transformed values are sums of up to 6 scaled inputs and the outputs of up to 6 scaled
 * products. The interpolation points are 0, ±1, 2, −1/2, ∞ (Barabasz et al., "Error analysis
 * and improving the accuracy of Winograd convolution", 2020), not Lavin's 0, ±1, ±2, ∞:
 * - a float32 simulation over 64 channels: the largest error 8.0e-6 → 4.1e-6 of the largest
 *   output (mean 2.4e-6 → 1.4e-6);
 * - SIMDKernelTests' shapes: 2.2-7.0e-6 → 0.7-2.4e-6;
 * - InceptionV3 (keras.applications, random weights) against Keras: logits within 3.1e-4 →
 *   1.3e-4 of the largest (8.5e-5 with im2col + GEMM); ResNet50's 3.7e-5 (4.0e-5).
 */

/* r = Bᵀ·x over six vectors x[0], x[s], …, x[5s] into r[0], r[rs], …, r[5rs]. */
static inline __attribute__((always_inline)) void LK(wino_bt)(const vf *x, long s, vf *r, long rs) {
    vf x0 = x[0], x1 = x[s], x2 = x[2 * s], x3 = x[3 * s], x4 = x[4 * s], x5 = x[5 * s];
    r[0] = x0 + x4 - 2.0f * x2 + 1.5f * (x1 - x3);
    r[rs] = x4 - x1 - 2.5f * x2 - 0.5f * x3;
    r[2 * rs] = x4 + x1 + 0.5f * x2 - 2.5f * x3;
    r[3 * rs] = x4 - x2 + 0.5f * (x3 - x1);
    r[4 * rs] = x4 - x2 + 2.0f * (x1 - x3);
    r[5 * rs] = x5 + x1 - 2.0f * x3 + 1.5f * (x2 - x4);
}

/* r = Aᵀ·m over six vectors into four. */
static inline __attribute__((always_inline)) void LK(wino_at)(const vf *m, long s, vf *r, long rs) {
    vf m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s];
    vf p12 = m1 + m2, d12 = m1 - m2;
    r[0] = m[0] + p12 + m3 + m4;
    r[rs] = d12 + 2.0f * m3 - 0.5f * m4;
    r[2 * rs] = p12 + 4.0f * m3 + 0.25f * m4;
    r[3 * rs] = d12 + 8.0f * m3 - 0.125f * m4 + m[5 * s];
}

/* The tiles of an output: 4×4 blocks covering outH × outW. */
static inline long LK(wino_tiles)(const lamina_window *g) { return ((g->outH + 3) / 4) * ((g->outW + 3) / 4); }

/* The packed transformed kernel: for each of the 36 positions ξ, U_ξ [c × f] packed as
   sgemm_pack_b packs a [k × n] matrix. */
static size_t LK(winograd_kernel_floats)(long c, long f) { return 36 * LK(sgemm_packed_b_floats)(f, c); }

/* U_ξ[ci, fi] = (G·g·Gᵀ)[ξ] of the 3×3 kernel w[·, ·, ci, fi] (kernel [3, 3, c, f]), computed in
   double along the filters (contiguous) and rounded once; `work` holds 36·c·f floats. */
static void LK(winograd_pack_kernel)(const float *w, long c, long f, float *work, float *dst) {
    static const double G[6][3] = {{1, 0, 0}, {-1.0 / 3, -1.0 / 3, -1.0 / 3}, {1.0 / 3, -1.0 / 3, 1.0 / 3},
                                   {1.0 / 15, 2.0 / 15, 4.0 / 15}, {-16.0 / 15, 8.0 / 15, -4.0 / 15}, {0, 0, 1}};
    const long cf = c * f;
    for (long ci = 0; ci < c; ci++)
        LK_VECTORS(j, f, {
            const long e = ci * f + j;
            vd g[3][3], t[6][3];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) g[a][b] = __builtin_convertvector(LDK(w + (a * 3 + b) * cf + e, 0), vd);
            for (int i = 0; i < 6; i++)
                for (int b = 0; b < 3; b++) t[i][b] = G[i][0] * g[0][b] + G[i][1] * g[1][b] + G[i][2] * g[2][b];
            for (int i = 0; i < 6; i++)
                for (int jj = 0; jj < 6; jj++)
                    STK(work + (i * 6 + jj) * cf + e, __builtin_convertvector(t[i][0] * G[jj][0] + t[i][1] * G[jj][1] + t[i][2] * G[jj][2], vf));
        });
    const size_t packed = LK(sgemm_packed_b_floats)(f, c);
    for (int xi = 0; xi < 36; xi++) LK(sgemm_pack_b)(0, f, c, work + xi * cf, f, dst + xi * packed);
}

/* The scratch winograd_conv takes for `images` images: the transformed input V [36][tiles][c]
   and the products M [36][tiles][f]. */
static size_t LK(winograd_scratch_floats)(long images, long c, long f, const lamina_window *g) {
    return (size_t)(36 * images * LK(wino_tiles)(g)) * (size_t)(c + f);
}

/* out [images, outH, outW, f] (no bias) = the 3×3 stride-1 convolution of x [images, inH,
   inW, c] under window g (its padding read as zeros), from the packed transformed kernel u,
   on the calling thread. */
static void LK(winograd_conv)(const float *x, long images, long c, const lamina_window *g, const float *u, long f,
                              float *scratch, float *out) {
    const long tw = (g->outW + 3) / 4, th = (g->outH + 3) / 4, tiles = images * th * tw;
    float *vbuf = scratch, *mbuf = scratch + 36 * tiles * c;
    /* V_ξ[t, ·] = (Bᵀ d B)[ξ] of tile t's 6×6 input d, per vector of channels */
    for (long n = 0, t = 0; n < images; n++) {
        const float *img = x + n * g->inH * g->inW * c;
        for (long ty = 0; ty < th; ty++)
            for (long tx = 0; tx < tw; tx++, t++) {
                const long y0 = ty * 4 - g->padTop, x0 = tx * 4 - g->padLeft;
                LK_VECTORS(j, c, {
                    vf d[36], r[36];
                    for (int a = 0; a < 6; a++) {
                        const long y = y0 + a;
                        for (int b = 0; b < 6; b++) {
                            const long xx = x0 + b;
                            d[a * 6 + b] = y >= 0 && y < g->inH && xx >= 0 && xx < g->inW
                                ? LDK(img + (y * g->inW + xx) * c + j, 0) : (vf)0.0f;
                        }
                    }
                    for (int b = 0; b < 6; b++) LK(wino_bt)(d + b, 6, r + b, 6);   /* columns: Bᵀ d */
                    for (int a = 0; a < 6; a++) LK(wino_bt)(r + a * 6, 1, d + a * 6, 1);  /* rows: · B */
                    for (int xi = 0; xi < 36; xi++) STK(vbuf + (xi * tiles + t) * c + j, d[xi]);
                });
            }
    }
    const size_t packed = LK(sgemm_packed_b_floats)(f, c);
    for (int xi = 0; xi < 36; xi++)
        LK(sgemm_packed)(0, tiles, f, c, 1.0f, vbuf + xi * tiles * c, c, u + xi * packed, 0.0f, mbuf + xi * tiles * f, f);
    /* each tile's 4×4 outputs: Aᵀ M A, the parts outside outH × outW dropped */
    for (long n = 0, t = 0; n < images; n++) {
        float *img = out + n * g->outH * g->outW * f;
        for (long ty = 0; ty < th; ty++)
            for (long tx = 0; tx < tw; tx++, t++) {
                const long rows = g->outH - ty * 4 < 4 ? g->outH - ty * 4 : 4, cols = g->outW - tx * 4 < 4 ? g->outW - tx * 4 : 4;
                LK_VECTORS(j, f, {
                    vf m[36], r[24], y[16];
                    for (int xi = 0; xi < 36; xi++) m[xi] = LDK(mbuf + (xi * tiles + t) * f + j, 0);
                    for (int b = 0; b < 6; b++) LK(wino_at)(m + b, 6, r + b, 6);   /* columns: Aᵀ M, 4×6 */
                    for (int a = 0; a < 4; a++) LK(wino_at)(r + a * 6, 1, y + a * 4, 1);  /* rows: · A, 4×4 */
                    for (long a = 0; a < rows; a++)
                        for (long b = 0; b < cols; b++) STK(img + ((ty * 4 + a) * g->outW + tx * 4 + b) * f + j, y[a * 4 + b]);
                });
            }
    }
}
