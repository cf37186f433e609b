/* nt_tls_scratch: aligned, grow-only, per thread and per slot; buffers of exited threads and
 * released ones are freed (the leak checker of the sanitizer build would report them). */
#include <omp.h>
#include <pthread.h>
#include <stdint.h>

#include "base/scratch.h"
#include "test.h"

TEST(aligned_grow_only_and_per_slot) {
    char *a = nt_tls_scratch(0, 100);
    CHECK(((uintptr_t)a & 63) == 0);
    a[99] = 7;
    CHECK(nt_tls_scratch(0, 50) == a); /* smaller request: same buffer */
    char *b = nt_tls_scratch(1, 100);
    CHECK(b != a);
    char *big = nt_tls_scratch(0, 1 << 20);
    CHECK(((uintptr_t)big & 63) == 0);
    big[(1 << 20) - 1] = 1; /* the whole size is usable */
    CHECK(nt_tls_scratch(0, 1 << 20) == big);
    nt_tls_scratch_release();
    char *c = nt_tls_scratch(0, 10);
    c[9] = 1;
    nt_tls_scratch_release();
}

static void *thread_main(void *out) {
    *(void **)out = nt_tls_scratch(0, 4096);
    ((char *)*(void **)out)[4095] = 1;
    return NULL; /* the buffer is freed by the thread's key destructor */
}

TEST(each_thread_its_own_buffer) {
    void *mine = nt_tls_scratch(0, 4096), *theirs = NULL;
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, thread_main, &theirs), 0);
    pthread_join(t, NULL);
    CHECK(theirs != NULL && theirs != mine);
    void *ptr[2] = {0};
#pragma omp parallel num_threads(2)
    ptr[omp_get_thread_num()] = nt_tls_scratch(2, 256);
    if (omp_get_max_threads() >= 2) CHECK(ptr[0] != ptr[1]);
    nt_tls_scratch_release();
}

TEST_MAIN()
