/* CPU features from CPUID and XGETBV, and the choice of the kernel table. */
#include "lamina_kernels.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0)); /* xgetbv */
    return ((uint64_t)hi << 32) | lo;
}

static void detect(lamina_cpu_features *f) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned max_leaf = a;
    memcpy(f->vendor, &b, 4); memcpy(f->vendor + 4, &d, 4); memcpy(f->vendor + 8, &c, 4);
    f->vendor[12] = 0;
    __get_cpuid(1, &a, &b, &c, &d);
    int base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    f->family = base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family;
    f->model = (base_family == 0x6 || base_family == 0xf) ? (((a >> 16) & 0xf) << 4) | base_model : base_model;
    f->sse3 = (c >> 0) & 1; f->ssse3 = (c >> 9) & 1; f->fma = (c >> 12) & 1;
    f->sse41 = (c >> 19) & 1; f->sse42 = (c >> 20) & 1; f->f16c = (c >> 29) & 1;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    f->os_ymm = (xcr0 & 0x6) == 0x6;
    f->os_zmm = f->os_ymm && (xcr0 & 0xe0) == 0xe0;
    f->avx = avx;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        unsigned max_sub = a;
        f->avx2 = (b >> 5) & 1;
        f->avx512f = (b >> 16) & 1; f->avx512dq = (b >> 17) & 1; f->avx512cd = (b >> 28) & 1;
        f->avx512bw = (b >> 30) & 1; f->avx512vl = (b >> 31) & 1;
        f->avx512fp16 = (d >> 23) & 1; f->amx = (d >> 24) & 1;
        if (max_sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            f->avx512bf16 = (a >> 5) & 1;
        }
    }
    __get_cpuid(0x80000000, &a, &b, &c, &d);
    if (a >= 0x80000004) {
        unsigned *words = (unsigned *)f->brand;
        for (unsigned leaf = 0; leaf < 3; leaf++) {
            __get_cpuid(0x80000002 + leaf, &a, &b, &c, &d);
            words[leaf * 4 + 0] = a; words[leaf * 4 + 1] = b; words[leaf * 4 + 2] = c; words[leaf * 4 + 3] = d;
        }
        f->brand[48] = 0;
        /* Trim the padding spaces some CPUs put around the name. */
        size_t len = strlen(f->brand);
        while (len > 0 && f->brand[len - 1] == ' ') f->brand[--len] = 0;
        size_t lead = 0;
        while (f->brand[lead] == ' ') lead++;
        if (lead) memmove(f->brand, f->brand + lead, len - lead + 1);
    }
}
#else
static void detect(lamina_cpu_features *f) { (void)f; }
#endif

static lamina_cpu_features features;
static atomic_int features_ready;

const lamina_cpu_features *lamina_cpu(void) {
    if (!atomic_load_explicit(&features_ready, memory_order_acquire)) {
        lamina_cpu_features f;
        memset(&f, 0, sizeof f);
        detect(&f);
        features = f;  /* every caller computes the same bytes, so a race writes equal values */
        atomic_store_explicit(&features_ready, 1, memory_order_release);
    }
    return &features;
}

int lamina_simd_max_level(void) {
    const lamina_cpu_features *f = lamina_cpu();
    if (f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl && f->fma && f->os_zmm) return LAMINA_SIMD_AVX512;
    if (f->avx2 && f->fma && f->os_ymm) return LAMINA_SIMD_AVX2;
    return LAMINA_SIMD_PORTABLE;
}

int lamina_simd_requested_level(void) {
    const char *v = getenv("LAMINA_SIMD");
    if (!v || !*v) return -1;
    if (!strcmp(v, "portable") || !strcmp(v, "scalar") || !strcmp(v, "0")) return LAMINA_SIMD_PORTABLE;
    if (!strcmp(v, "avx2") || !strcmp(v, "1")) return LAMINA_SIMD_AVX2;
    if (!strcmp(v, "avx512") || !strcmp(v, "2")) return LAMINA_SIMD_AVX512;
    return -2;
}

/* The tables, one per level and element type; kernels_avx2.c and kernels_avx512.c define theirs
   only on x86-64. */
extern const lamina_kernel_table lamina_kernels_portable;
extern const lamina_kernel_table_f64 lamina_kernels_portable_f64;
#if defined(__x86_64__)
extern const lamina_kernel_table lamina_kernels_avx2;
extern const lamina_kernel_table lamina_kernels_avx512;
extern const lamina_kernel_table_f64 lamina_kernels_avx2_f64;
extern const lamina_kernel_table_f64 lamina_kernels_avx512_f64;
#endif

const lamina_kernel_table *lamina_kernels_for_level(int level) {
    if (level < 0 || level > lamina_simd_max_level()) return NULL;
    switch (level) {
    case LAMINA_SIMD_PORTABLE: return &lamina_kernels_portable;
#if defined(__x86_64__)
    case LAMINA_SIMD_AVX2: return &lamina_kernels_avx2;
    case LAMINA_SIMD_AVX512: return &lamina_kernels_avx512;
#endif
    default: return NULL;
    }
}

const lamina_kernel_table_f64 *lamina_kernels_f64_for_level(int level) {
    if (level < 0 || level > lamina_simd_max_level()) return NULL;
    switch (level) {
    case LAMINA_SIMD_PORTABLE: return &lamina_kernels_portable_f64;
#if defined(__x86_64__)
    case LAMINA_SIMD_AVX2: return &lamina_kernels_avx2_f64;
    case LAMINA_SIMD_AVX512: return &lamina_kernels_avx512_f64;
#endif
    default: return NULL;
    }
}

static _Atomic(const lamina_kernel_table *) active;

int lamina_kernels_set_level(int level) {
    int max = lamina_simd_max_level();
    if (level > max) level = max;
    if (level < 0) level = 0;
    const lamina_kernel_table *t = lamina_kernels_for_level(level);
    while (!t && level > 0) t = lamina_kernels_for_level(--level);
    atomic_store_explicit(&active, t, memory_order_release);
    return t->level;
}

const lamina_kernel_table *lamina_kernels(void) {
    const lamina_kernel_table *t = atomic_load_explicit(&active, memory_order_acquire);
    if (t) return t;
    int requested = lamina_simd_requested_level();
    lamina_kernels_set_level(requested >= 0 ? requested : lamina_simd_max_level());
    return atomic_load_explicit(&active, memory_order_acquire);
}

/* Follows the float table: one level for both element types, set by the same calls. */
const lamina_kernel_table_f64 *lamina_kernels_f64(void) {
    return lamina_kernels_f64_for_level(lamina_kernels()->level);
}
