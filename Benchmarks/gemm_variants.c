/* Two builds of Lamina's AVX-512 float32 GEMM (gemm_impl.h) and OpenBLAS's cblas_sgemm, timed
 * alternately in one process: on a shared host the noise between processes (±10%) hides the few
 * percent a blocking or threading change makes, while rounds that rotate the order inside one
 * process see the same noise. "a" is the GEMM as a header file gives it (BASE_IMPL, e.g. the
 * committed version), "b" the working tree's gemm_impl.h with the overrides of B_DEFS, a file of
 * #define lines (e.g. `#define LK_GEMM_NC_TALL 1024`). Checks both against OpenBLAS first.
 *
 *   git show HEAD:Sources/CLaminaKernels/gemm_impl.h > /tmp/base_gemm_impl.h
 *   clang -O3 -w -ISources/CLaminaKernels -ISources/CLaminaKernels/include \
 *     -DBASE_IMPL='"/tmp/base_gemm_impl.h"' -DB_DEFS='"/tmp/variant.h"' \
 *     Benchmarks/gemm_variants.c Sources/CLaminaKernels/parallel.c -lopenblas -lpthread -o /tmp/gv
 *   /tmp/gv M N K THREADS [ROUNDS [TRANS_A TRANS_B]]
 * Prints the best and the mean GFLOP/s of each over the rounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <cblas.h>
#include "lamina_parallel.h"

#pragma clang attribute push(__attribute__((target("avx,avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#define LK_W 16
#define LK_LEVEL 3
typedef float gv_vf __attribute__((ext_vector_type(16), aligned(4)));
#define vf gv_vf
static inline gv_vf gv_ld(const float *p) { gv_vf v; memcpy(&v, p, sizeof v); return v; }
static inline void gv_st(float *p, gv_vf v) { memcpy(p, &v, sizeof v); }
#define ld gv_ld
#define st gv_st
#define LK_CAT2(a, b) a##_##b
#define LK_CAT(a, b) LK_CAT2(a, b)
#define LK(name) LK_CAT(name, LK_SUFFIX)
#define LK_SUFFIX a
#include BASE_IMPL
#undef LK_SUFFIX
/* the block sizes the base defined, so that b's defaults (or B_DEFS) apply */
#undef LK_GEMM_KC
#undef LK_GEMM_KC_TALL
#undef LK_GEMM_NC
#undef LK_GEMM_NC_TALL
#undef LK_GEMM_CHUNKS
#undef LK_GEMM_KC_TALL_DEFAULT
#undef LK_GEMM_NC_DEFAULT
#undef LK_GEMM_NC_TALL_DEFAULT
#undef LK_GEMM_A_IN_PLACE_PANELS
#undef LK_GEMM_A_IN_PLACE_PANELS_DEFAULT
#define LK_SUFFIX b
#ifdef B_DEFS
#include B_DEFS
#endif
#include "gemm_impl.h"
#pragma clang attribute pop

typedef int (*gemm_fn)(int, int, long, long, long, float, const float *, long, const float *, long, float, float *, long, long);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int blas(int ta, int tb, long m, long n, long k, float alpha, const float *a, long lda, const float *b, long ldb,
                float beta, float *c, long ldc, long threads) {
    (void)threads;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
                b, ldb, beta, c, ldc);
    return 0;
}

static float *floats(long count) { return aligned_alloc(64, (size_t)((count + 15) / 16 * 16) * sizeof(float)); }

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s M N K THREADS [ROUNDS [TRANS_A TRANS_B]]\n", argv[0]); return 2; }
    long m = atol(argv[1]), n = atol(argv[2]), k = atol(argv[3]), threads = atol(argv[4]);
    int rounds = argc > 5 ? atoi(argv[5]) : 5, ta = argc > 6 ? atoi(argv[6]) : 0, tb = argc > 7 ? atoi(argv[7]) : 0;
    openblas_set_num_threads((int)threads);
    float *a = floats(m * k), *b = floats(k * n), *c = floats(m * n), *ref = floats(m * n);
    for (long i = 0; i < m * k; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < k * n; i++) b[i] = rand() / (float)RAND_MAX - 0.5f;
    gemm_fn fns[3] = {sgemm_a, sgemm_b, blas};
    const char *names[3] = {"a", "b", "openblas"};
    long lda = ta ? m : k, ldb = tb ? k : n;
    blas(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, ref, n, threads);
    for (int f = 0; f < 2; f++) {
        fns[f](ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n, threads);
        double worst = 0;
        for (long i = 0; i < m * n; i++) { double d = c[i] > ref[i] ? c[i] - ref[i] : ref[i] - c[i]; if (d > worst) worst = d; }
        if (worst > 1e-3 * k) { printf("%s differs from OpenBLAS by %g\n", names[f], worst); return 1; }
    }
    /* calls per timing: at least 0.1 s */
    int calls = 1;
    for (;;) {
        double t = now();
        for (int i = 0; i < calls; i++) sgemm_a(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n, threads);
        if (now() - t > 0.1) break;
        calls *= 2;
    }
    double flops = 2.0 * m * n * k, best[3] = {0}, sum[3] = {0};
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < 3; j++) {
            int f = (j + r) % 3;  /* the order rotates, so none always runs first */
            double t = now();
            for (int i = 0; i < calls; i++) fns[f](ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n, threads);
            double g = flops * calls / (now() - t) / 1e9;
            if (g > best[f]) best[f] = g;
            sum[f] += g;
        }
    printf("m=%ld n=%ld k=%ld threads=%ld:", m, n, k, threads);
    for (int f = 0; f < 3; f++) printf("  %s best %.1f mean %.1f", names[f], best[f], sum[f] / rounds);
    printf(" GFLOP/s\n");
    return 0;
}
