#include "base/threads.h"

#include <ctype.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* From OpenBLAS's cblas.h (declared here so no include path to a particular OpenBLAS
 * variant's headers is needed; the signatures are the same in every build). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
int openblas_get_parallel(void);

static int affinity_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int nt_threads_default(void) {
    const char *env = getenv("OMP_NUM_THREADS");
    if (env) {
        while (isspace((unsigned char)*env)) env++;
        char *end;
        long n = strtol(env, &end, 10);
        /* "4" or a nesting list "4,2": the first level is ours */
        if (end != env && n > 0 && n <= 4096 && (*end == '\0' || *end == ',' || isspace((unsigned char)*end)))
            return (int)n;
    }
    return affinity_cpus();
}

int nt_threads_init(int n) {
    if (n <= 0) n = nt_threads_default();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return n;
}

int nt_threads_count(void) { return omp_get_max_threads(); }

nt_blas_parallel nt_threads_blas_parallel(void) {
    return (nt_blas_parallel)openblas_get_parallel();
}

bool nt_threads_blas_conflict(void) { return openblas_get_parallel() == NT_BLAS_PTHREADS; }

char *nt_threads_describe(char *buf, size_t size) {
    static const char *const kinds[] = {"sequential build", "pthreads build (separate pool)",
                                        "OpenMP build"};
    int par = openblas_get_parallel();
    const char *kind = par >= 0 && par <= 2 ? kinds[par] : "unknown build";
    const char *cfg = openblas_get_config();
    snprintf(buf, size, "OpenMP %d threads; OpenBLAS %d threads, %s (%s)", omp_get_max_threads(),
             openblas_get_num_threads(), kind, cfg ? cfg : "?");
    return buf;
}
