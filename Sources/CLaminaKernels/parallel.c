/* The fork-join pool behind lamina_parallel_run (see lamina_parallel.h).
 *
 * One job at a time (job_lock). A job is published as a ticket, (generation << 16) | the number
 * of participating threads, with one atomic store; thread k of p runs the indices k, k + p, ...
 * (Lamina's loops pass one contiguous chunk per core, so this is one chunk each). Workers that
 * take part acknowledge the generation when done, and the caller returns only after every
 * participant has acknowledged: the job's function and context are never read after that. */
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

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static lamina_task_fn job_fn;
static void *job_context;
static long job_count;
static _Atomic uint64_t ticket;              /* (generation << 16) | participants */
static _Atomic uint64_t acked[MAX_WORKERS + 1];
static atomic_int sleepers;
static long started;                          /* workers created (under job_lock) */
static uint64_t spawn_generation;             /* the generation workers start from (set before pthread_create) */
static _Thread_local int inside_job;

static long spin_ns = DEFAULT_SPIN_NS;

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void run_share(long k, long participants) {
    for (long i = k; i < job_count; i += participants) job_fn(job_context, i);
}

static void *worker(void *arg) {
    long k = (long)(intptr_t)arg;  /* 1...MAX_WORKERS; the caller is 0 */
    inside_job = 1;
    uint64_t seen = spawn_generation;  /* the job being published next is new to this worker */
    for (;;) {
        uint64_t t;
        long spins = 0, deadline = 0;
        while (((t = atomic_load(&ticket)) >> 16) == seen) {
            if ((++spins & 63) != 0) { CPU_RELAX(); continue; }
            long now = now_ns();
            if (deadline == 0) deadline = now + spin_ns;
            if (now < deadline) continue;
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleepers, 1);
            while (((t = atomic_load(&ticket)) >> 16) == seen) pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&sleep_lock);
            break;
        }
        seen = t >> 16;
        long participants = (long)(t & 0xffff);
        if (k < participants) {
            run_share(k, participants);
            atomic_store_explicit(&acked[k], seen, memory_order_release);
        }
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
    spawn_generation = atomic_load(&ticket) >> 16;
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
    job_fn = fn;
    job_context = context;
    job_count = count;
    uint64_t generation = (atomic_load(&ticket) >> 16) + 1;
    atomic_store(&ticket, (generation << 16) | (uint64_t)participants);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    inside_job = 1;
    run_share(0, participants);
    for (long k = 1; k < participants; k++)
        while (atomic_load_explicit(&acked[k], memory_order_acquire) != generation) CPU_RELAX();
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
