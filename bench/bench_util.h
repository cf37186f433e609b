/* What every benchmark program reads: the clock (seconds as a double from clock_gettime) and
 * the resident set. */
#ifndef NEWT_BENCH_UTIL_H
#define NEWT_BENCH_UTIL_H

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static inline double bn_clock(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Wall time (monotonic). */
static inline double bn_now(void) { return bn_clock(CLOCK_MONOTONIC); }

/* Resident set now, MiB (/proc/self/statm; 0 where it cannot be read). */
static inline double bn_rss_mib(void) {
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
    return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

#endif
