#include <omp.h>
#include <sched.h>

#include "base/mem.h"
#include "base/threads.h"
#include "test.h"

int openblas_get_num_threads(void);
int openblas_get_parallel(void);

TEST(init_sets_openmp_and_openblas_to_the_same_count) {
    CHECK_EQ_INT(nt_threads_init(2), 2);
    CHECK_EQ_INT(omp_get_max_threads(), 2);
    CHECK_EQ_INT(nt_threads_count(), 2);
    /* set explicitly by init, whichever OpenBLAS build is linked */
    CHECK_EQ_INT(openblas_get_num_threads(), 2);
    int used = 0;
#pragma omp parallel
    {
#pragma omp single
        used = omp_get_num_threads();
    }
    CHECK_EQ_INT(used, 2);
}

TEST(linked_openblas_is_the_openmp_build) {
    int par = openblas_get_parallel();
    CHECK_MSG(par == NT_BLAS_OPENMP,
              "linked OpenBLAS reports openblas_get_parallel()=%d (%s), expected 2 (OpenMP). "
              "Install libopenblas-openmp-dev or select it with update-alternatives "
              "--config libopenblas.so.0-x86_64-linux-gnu",
              par, par == 1 ? "pthreads build: two thread pools" : "sequential build");
    CHECK(nt_threads_blas_parallel() == (nt_blas_parallel)par);
    CHECK(nt_threads_blas_conflict() == (par == 1));
    char buf[512];
    nt_threads_init(3);
    nt_threads_describe(buf, sizeof buf);
    CHECK_CONTAINS(buf, "OpenMP 3 threads; OpenBLAS 3 threads");
    CHECK_CONTAINS(buf, par == 2 ? "OpenMP build" : par == 1 ? "pthreads" : "sequential");
    CHECK_CONTAINS(buf, "(OpenBLAS 0."); /* the version from openblas_get_config() */
    if (getenv("NEWT_TEST_VERBOSE")) printf("%s\n", buf);
}

TEST(default_follows_omp_num_threads_then_affinity) {
    char *saved = getenv("OMP_NUM_THREADS") ? nt_xstrdup(getenv("OMP_NUM_THREADS")) : NULL;
    setenv("OMP_NUM_THREADS", "5", 1);
    CHECK_EQ_INT(nt_threads_default(), 5);
    setenv("OMP_NUM_THREADS", " 6,2", 1);
    CHECK_EQ_INT(nt_threads_default(), 6);
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    int cpus = CPU_COUNT(&set);
    setenv("OMP_NUM_THREADS", "lots", 1);
    CHECK_EQ_INT(nt_threads_default(), cpus);
    unsetenv("OMP_NUM_THREADS");
    CHECK_EQ_INT(nt_threads_default(), cpus);
    CHECK_EQ_INT(nt_threads_init(0), cpus);
    CHECK_EQ_INT(omp_get_max_threads(), cpus);
    if (saved) setenv("OMP_NUM_THREADS", saved, 1);
    free(saved);
}

TEST_MAIN()
