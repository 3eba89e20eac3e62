/* The fork-join pool behind lamina_parallel_run (see lamina_parallel.h).
 *
 * One job at a time (job_lock). A job is published as a ticket, (generation << 16) | the number
 * of participating threads, with one atomic store. Its indices are not dealt out in advance:
 * every participant (the caller included) claims the next unclaimed index with a CAS on one
 * word, (generation << 40) | (count << 20) | next, until none is left, and counts each index it
 * finishes. The caller returns once `count` indices are finished: a worker reads the job's
 * function and context only after a successful claim, which the caller always waits for, so
 * they are never read after that. A worker that is late (descheduled on a busy machine, or
 * still asleep) therefore never holds the caller up: the caller (or the other workers) run the
 * indices it did not claim. Waits spin briefly, then yield the CPU every 64 spins, so a waiting
 * thread does not keep the core from the thread it waits for. */
#define _GNU_SOURCE
#include "lamina_parallel.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ volatile("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long a worker spins for the next job before it sleeps: longer than most gaps between two
   parallel ops of a training step (measured on the GAN step: 100 µs gave 106 steps/s, 1 ms 123–133,
   Dispatch's concurrentPerform 70), short enough that an idle process stops using the CPU at
   once (OpenMP runtimes spin for 0.2–200 ms). Overridable with LAMINA_SPIN_US (0: always sleep). */
#define DEFAULT_SPIN_NS 1000000
#define MAX_WORKERS 255
/* Claim words hold 20 bits of count and of index; a longer job is claimed in UNITS_MAX units. */
#define UNITS_MAX ((1L << 20) - 1)

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static lamina_task_fn job_fn;
static void *job_context;
static long job_count;                        /* indices of the job (units ≤ UNITS_MAX are claimed) */
static _Atomic uint64_t ticket;              /* (generation << 16) | participants */
static _Atomic uint64_t claim;               /* (generation << 40) | (units << 20) | next unit */
static _Atomic long finished;                /* units finished in the current job */
static atomic_int sleepers;
static long started;                          /* workers created (under job_lock) */
static _Atomic uint64_t spawn_generation;     /* the generation workers start from (set before pthread_create;
                                                  atomic: a later job's store races an idle worker's first read) */
static _Thread_local int inside_job;

static long spin_ns = DEFAULT_SPIN_NS;

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Claims and runs units of job `generation` until none is left; returns how many it ran. */
static long run_claims(uint64_t generation) {
    long ran = 0;
    uint64_t w = atomic_load(&claim);
    for (;;) {
        if ((w >> 40) != (generation & 0xffffff)) break;
        uint64_t units = (w >> 20) & UNITS_MAX, next = w & UNITS_MAX;
        if (next >= units) break;
        if (!atomic_compare_exchange_weak(&claim, &w, w + 1)) continue;  /* w reloaded */
        /* Unit `next` of this job is ours: the caller waits for it, so the job's fields hold. */
        long count = job_count;
        long lo = (long)((__int128)count * (long)next / (long)units);
        long hi = (long)((__int128)count * (long)(next + 1) / (long)units);
        for (long i = lo; i < hi; i++) job_fn(job_context, i);
        atomic_fetch_add_explicit(&finished, 1, memory_order_release);
        ran++;
        w = atomic_load(&claim);
    }
    return ran;
}

static void *worker(void *arg) {
    long k = (long)(intptr_t)arg;  /* 1...MAX_WORKERS; the caller is 0 */
    inside_job = 1;
    uint64_t seen = atomic_load_explicit(&spawn_generation, memory_order_relaxed);  /* the job published next is new to this worker */
    for (;;) {
        uint64_t t;
        long spins = 0, deadline = 0;
        while (((t = atomic_load(&ticket)) >> 16) == seen) {
            if ((++spins & 63) != 0) { CPU_RELAX(); continue; }
            long now = now_ns();
            if (deadline == 0) deadline = now + spin_ns;
            if (now < deadline) { sched_yield(); continue; }
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleepers, 1);
            while (((t = atomic_load(&ticket)) >> 16) == seen) pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&sleep_lock);
            break;
        }
        seen = t >> 16;
        if (k < (long)(t & 0xffff)) run_claims(seen);
    }
    return NULL;
}

void lamina_parallel_run(long count, long workers, lamina_task_fn fn, void *context) {
    if (count <= 0) return;
    if (count == 1 || workers <= 0 || inside_job || pthread_mutex_trylock(&job_lock) != 0) {
        for (long i = 0; i < count; i++) fn(context, i);
        return;
    }
    if (workers > MAX_WORKERS) workers = MAX_WORKERS;
    atomic_store_explicit(&spawn_generation, atomic_load(&ticket) >> 16, memory_order_relaxed);
    if (started == 0) {
        const char *spin = getenv("LAMINA_SPIN_US");
        if (spin && *spin) spin_ns = atol(spin) * 1000L;
    }
    while (started < workers) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&t, &attr, worker, (void *)(intptr_t)(started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;
        started++;
    }
    long participants = 1 + (workers < started ? workers : started);
    if (participants > count) participants = count;
    long units = count < UNITS_MAX ? count : UNITS_MAX;
    job_fn = fn;
    job_context = context;
    job_count = count;
    atomic_store(&finished, 0);
    uint64_t generation = (atomic_load(&ticket) >> 16) + 1;
    atomic_store(&claim, ((generation & 0xffffff) << 40) | ((uint64_t)units << 20));
    atomic_store(&ticket, (generation << 16) | (uint64_t)participants);
    if (participants > 1 && atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    inside_job = 1;
    run_claims(generation);
    long spins = 0;
    while (atomic_load_explicit(&finished, memory_order_acquire) != units) {
        if ((++spins & 63) != 0) CPU_RELAX(); else sched_yield();
    }
    inside_job = 0;
    pthread_mutex_unlock(&job_lock);
}

int lamina_affinity_cpu_count(void) {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
#else
    return 0;
#endif
}
