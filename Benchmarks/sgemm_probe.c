/* The best raw cblas_sgemm the installed OpenBLAS can do on this CPU: compare.py compiles this,
 * runs it once per kernel set the CPU supports (OPENBLAS_CORETYPE=...), and reports the best
 * GFLOP/s per size beside Lamina's matmul. All cores (OpenBLAS's own threads).
 *
 *   cc -O2 -o sgemm_probe Benchmarks/sgemm_probe.c -lopenblas
 *   OPENBLAS_CORETYPE=SkylakeX ./sgemm_probe 256 512 1024 2048
 * Prints one JSON line: {"core": ..., "gflops_by_n": {"256": ..., ...}}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>

char *openblas_get_corename(void);
int openblas_get_num_procs(void);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    openblas_set_num_threads(openblas_get_num_procs());
    printf("{\"core\": \"%s\", \"gflops_by_n\": {", openblas_get_corename());
    for (int i = 1; i < argc; i++) {
        int n = atoi(argv[i]);
        float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
        for (int j = 0; j < n * n; j++) { a[j] = rand() / (float)RAND_MAX - 0.5f; b[j] = rand() / (float)RAND_MAX - 0.5f; }
        /* As lamina-bench times: one warm-up, batches of at least 0.2 s, the best of 5. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        int calls = 1;
        for (;;) {
            double t = now();
            for (int k = 0; k < calls; k++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            if (now() - t >= 0.2) break;
            calls *= 2;
        }
        double best = 1e30;
        for (int r = 0; r < 5; r++) {
            double t = now();
            for (int k = 0; k < calls; k++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            double s = (now() - t) / calls;
            if (s < best) best = s;
        }
        printf("%s\"%d\": %.2f", i > 1 ? ", " : "", n, 2.0 * n * n * n / best / 1e9);
        free(a); free(b); free(c);
    }
    printf("}}\n");
    return 0;
}
