#ifndef LAMINA_PARALLEL_H
#define LAMINA_PARALLEL_H
/* A small fork-join pool for Lamina's parallel loops. Workers spin briefly after each job
 * before they sleep, so the back-to-back parallel ops of a training step (a GAN step has ~50)
 * do not each pay a kernel wake-up, as they do with Dispatch's concurrentPerform. */
#ifdef __cplusplus
extern "C" {
#endif

typedef void (*lamina_task_fn)(void *context, long index);

/* Runs fn(context, i) for every i in [0, count) on the calling thread and the pool's workers,
 * and returns when all have finished. Runs everything on the calling thread when called from
 * inside a job, or while another thread's job holds the pool. `workers` is how many threads
 * besides the caller may help (the pool grows to it on first use). */
void lamina_parallel_run(long count, long workers, lamina_task_fn fn, void *context);

/* The number of CPUs this thread may run on (its affinity mask, as `taskset` or a container's
 * cpuset sets it), or 0 where the system does not say. */
int lamina_affinity_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
