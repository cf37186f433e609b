/* The clock every benchmark program reads: seconds as a double from clock_gettime. */
#ifndef NEWT_BENCH_CLOCK_H
#define NEWT_BENCH_CLOCK_H

#include <time.h>

static inline double bn_clock(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Wall time (monotonic). */
static inline double bn_now(void) { return bn_clock(CLOCK_MONOTONIC); }

#endif
