/* One thread setup for the whole process. Kernels use OpenMP and GEMMs go to OpenBLAS; with
 * the OpenMP build of OpenBLAS both share libgomp's pool. The pthreads build brings a second
 * pool whose threads spin against OpenMP's on the same cores, which is why
 * nt_threads_describe reports the build and nt_threads_blas_conflict lets the CLI warn. */
#ifndef NEWT_BASE_THREADS_H
#define NEWT_BASE_THREADS_H

#include <stdbool.h>
#include <stddef.h>

/* openblas_get_parallel() values */
typedef enum { NT_BLAS_SEQUENTIAL = 0, NT_BLAS_PTHREADS = 1, NT_BLAS_OPENMP = 2 } nt_blas_parallel;

/* Threads to use when none are requested: OMP_NUM_THREADS (its first number) if set and valid,
 * else the CPUs in this process's affinity mask (respects taskset / cgroup cpusets). */
int nt_threads_default(void);
/* n <= 0: nt_threads_default(). Sets OpenMP's and OpenBLAS's thread counts to the same value
 * and returns it. Call once at startup, before any parallel region. */
int nt_threads_init(int n);
/* OpenMP's current max threads. */
int nt_threads_count(void);
nt_blas_parallel nt_threads_blas_parallel(void);
/* True when the linked OpenBLAS runs its own pthreads pool (oversubscription risk). */
bool nt_threads_blas_conflict(void);
/* One line, e.g. "OpenMP 8 threads; OpenBLAS 8 threads, OpenMP build (OpenBLAS 0.3.21
 * DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64)"; returns buf. */
char *nt_threads_describe(char *buf, size_t size);

#endif
