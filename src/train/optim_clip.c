/* Gradient norm and clipping as torch.nn.utils.clip_grad_norm_ (spec formats.md §5.4). */
#include <math.h>
#include <string.h>

#include "train/optim_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* Lanes 0-3 and 4-7 in two vectors; fma(x, x, a) rounds once, as a + x·x does, because x·x
 * of a float is exact in double. Returns how many elements it took (a multiple of 8). */
__attribute__((target("avx2,fma"))) static size_t sumsq_avx2(double acc[TR_SUMSQ_LANES],
                                                              const float *x, size_t n) {
    __m256d lo = _mm256_loadu_pd(acc), hi = _mm256_loadu_pd(acc + 4);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        __m256d b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        lo = _mm256_fmadd_pd(a, a, lo);
        hi = _mm256_fmadd_pd(b, b, hi);
    }
    _mm256_storeu_pd(acc, lo);
    _mm256_storeu_pd(acc + 4, hi);
    return i;
}
#endif

void tr_sumsq_lanes(bool simd, double acc[TR_SUMSQ_LANES], const float *x, size_t n) {
    size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (simd) i = sumsq_avx2(acc, x, n);
#endif
    for (; i + TR_SUMSQ_LANES <= n; i += TR_SUMSQ_LANES)
        for (size_t k = 0; k < TR_SUMSQ_LANES; k++) acc[k] += (double)x[i + k] * x[i + k];
    for (size_t k = 0; i + k < n; k++) acc[k] += (double)x[i + k] * x[i + k];
}

double tr_sumsq_total(const double a[TR_SUMSQ_LANES]) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* Per-parameter f32 L2 norms into o->norms; returns the f32 norm of those norms. Sums run in
 * double, so each norm is the correctly rounded value torch's f32 reduction approximates. */
float tr_norm_from_partials(tr_optim *o) {
    double acc = 0;
    for (size_t c = 0, i = 0; i < o->n; i++) {
        double s = 0;
        for (; c < o->nchunks && o->chunks[c].param == i; c++) s += o->partial[c];
        o->norms[i] = (float)sqrt(s);
        acc += (double)o->norms[i] * o->norms[i];
    }
    return (float)sqrt(acc);
}

static float total_norm(tr_optim *o) {
    bool simd = tr_use_simd();
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        double acc[TR_SUMSQ_LANES] = {0};
        tr_sumsq_lanes(simd, acc, o->ps[ch->param].grad + ch->start, ch->end - ch->start);
        o->partial[c] = tr_sumsq_total(acc);
    }
    return tr_norm_from_partials(o);
}

float tr_optim_grad_norm(tr_optim *o) { return total_norm(o); }

float tr_clip_coef(float total, double max_norm) {
    /* max_norm / (total + 1e-6): torch's __rtruediv__ is reciprocal() * max_norm, in f32. */
    float coef = (1.0f / (total + 1e-6f)) * (float)max_norm;
    return coef > 1.0f ? 1.0f : coef; /* clamp(max=1): NaN stays NaN */
}

float tr_optim_clip_grad_norm(tr_optim *o, double max_norm) {
    float total = total_norm(o), coef = tr_clip_coef(total, max_norm);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        float *g = o->ps[ch->param].grad;
        for (size_t i = ch->start; i < ch->end; i++) g[i] *= coef;
    }
    return total;
}
