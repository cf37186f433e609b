/* Shared pieces of the kernel tests: a seeded generator, float/double buffers, error
 * measures, and central finite differences of a double-precision scalar function. The
 * references are naive double-precision implementations written from the formulas in
 * spec mistral4.md §2-3, independent of the kernels. */
#ifndef NEWT_TEST_KN_TESTUTIL_H
#define NEWT_TEST_KN_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t kt_state_ = 0x9E3779B97F4A7C15ull;
static inline void kt_seed(uint64_t s) { kt_state_ = s * 0x9E3779B97F4A7C15ull + 1; }
static inline double kt_uniform(void) { /* [-1, 1) */
    kt_state_ ^= kt_state_ << 13;
    kt_state_ ^= kt_state_ >> 7;
    kt_state_ ^= kt_state_ << 17;
    return (double)(kt_state_ >> 11) / (double)(1ull << 52) - 1.0;
}
static inline float *kt_randf(int64_t n, double scale) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)(scale * kt_uniform());
    return p;
}
static inline float *kt_zerof(int64_t n) { return calloc((size_t)(n ? n : 1), sizeof(float)); }
static inline double *kt_tod(const float *x, int64_t n) {
    double *d = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}
/* max |a − b| / max(max |b|, tiny) */
static inline double kt_err(const float *a, const double *b, int64_t n) {
    double md = 0, mb = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - b[i]));
        mb = fmax(mb, fabs(b[i]));
    }
    return md / mb;
}

/* Gradient of f at x (n doubles) by central differences, step h. f may read ctx. */
typedef double (*kt_fn)(const double *x, void *ctx);
static inline double *kt_fd(kt_fn f, double *x, int64_t n, void *ctx, double h) {
    double *g = malloc((size_t)(n ? n : 1) * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double fp = f(x, ctx);
        x[i] = keep - h;
        double fm = f(x, ctx);
        x[i] = keep;
        g[i] = (fp - fm) / (2 * h);
    }
    return g;
}

#endif
