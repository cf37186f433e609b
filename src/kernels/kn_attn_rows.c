/* Attention's per-row softmax and softmax backward (kn_attn_rows.h). At 4096 tokens these
 * passes over the T×T tiles cost about as much as the tile GEMMs' packing and more than half
 * as much as their FMAs when run as separate scalar loops (scale, mask, max, exp, sum,
 * normalise; then exp, dS): here the AVX-512 version does the forward in three vector passes
 * (scale + max, exp + double sum, normalise) and the backward in one (exp, dS), all on a row
 * that stays in L1. The plain loops remain for CPUs without AVX-512 and give the same bits. */
#include <math.h>
#include <string.h>

#include "kernels/kn_attn_rows.h"
#include "kernels/kn_exp_internal.h"

static float softmax_row_plain(float *r, int64_t n, int64_t lo, int64_t hi, float scale) {
    for (int64_t j = 0; j < n; j++) r[j] = j >= lo && j < hi ? r[j] * scale : -INFINITY;
    float m = kn_max(r, n);
    if (m == -INFINITY) {
        memset(r, 0, (size_t)n * sizeof(float));
        return -INFINITY;
    }
    kn_exp_shift(r, n, m); /* masked −inf scores give expf(−inf) = 0 */
    double sum = kn_sum_f64(r, n);
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n; j++) r[j] *= inv;
    return m + (float)log(sum);
}

/* Outside [lo, hi) neither r nor ds is read (the packed path leaves them uncomputed): there
 * P = 0 and dS = 0·(0 − D)·qs. */
static void grad_row_plain(float *r, float *ds, int64_t n, int64_t lo, int64_t hi, float scale,
                           float lse, float D, float qs) {
    if (lse == -INFINITY) hi = lo; /* nothing visible: P = 0 */
    for (int64_t j = 0; j < n; j++) r[j] = j >= lo && j < hi ? r[j] * scale : -INFINITY;
    kn_exp_shift(r, n, lse == -INFINITY ? 0.0f : lse); /* −inf lanes give 0 */
    for (int64_t j = 0; j < n; j++) ds[j] = r[j] * ((j >= lo && j < hi ? ds[j] : 0.0f) - D) * qs;
}

#if KN_HAVE_X86
#define PF_AHEAD 512 /* floats: 2 KiB ahead */

/* Lanes j .. j+15 inside [lo, hi). */
static inline __mmask16 range16(int64_t j, int64_t lo, int64_t hi) {
    return (__mmask16)(kn_mask16(hi - j) & ~kn_mask16(lo - j));
}

/* Pass 1: r[j] ·= scale for lo ≤ j < hi; their maximum with kn_max's semantics (a lane keeps
 * its value when the new one is NaN or not larger, so NaNs count only from r[lo]). */
KN_AVX512 static float scale_max(float *r, int64_t lo, int64_t hi, float scale) {
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 m = _mm512_set1_ps(r[lo] * scale);
    for (int64_t j = lo; j < hi; j += 16) {
        __mmask16 k = kn_mask16(hi - j);
        _mm_prefetch((const char *)(r + j + PF_AHEAD), _MM_HINT_T0);
        __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, r + j), vs);
        _mm512_mask_storeu_ps(r + j, k, x);
        m = _mm512_mask_max_ps(m, k, x, m); /* max(x, m) returns m when x is NaN */
    }
    float l[16];
    _mm512_storeu_ps(l, m);
    float best = l[0];
    for (int i = 1; i < 16; i++) best = l[i] > best ? l[i] : best;
    return best;
}

/* Pass 2: r[j] = expf(r[j] − m) for lo ≤ j < hi and their double sum, lane i of the
 * accumulator taking the j with j % 8 == i in order (vectors start at multiples of 16):
 * kn_sum_f64's partial sums exactly (the masked keys are zeros, which change no sum). */
KN_AVX512 static double exp_sum(float *r, int64_t lo, int64_t hi, float m) {
    const kn_exp_regs e = kn_exp_regs_load();
    const __m512 vm = _mm512_set1_ps(m);
    __m512d acc = _mm512_setzero_pd();
    for (int64_t j = lo - lo % 16; j < hi; j += 16) {
        __mmask16 k = range16(j, lo, hi);
        __m512 p = kn_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, r + j), vm), k, &e);
        _mm512_mask_storeu_ps(r + j, k, p);
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_extractf32x8_ps(p, 1)));
    }
    double s[8];
    _mm512_storeu_pd(s, acc);
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

KN_AVX512 static float softmax_row_avx512(float *r, int64_t n, int64_t lo, int64_t hi, float scale) {
    float m = hi > lo ? scale_max(r, lo, hi, scale) : -INFINITY;
    if (m == -INFINITY) {
        memset(r, 0, (size_t)n * sizeof(float));
        return -INFINITY;
    }
    double sum = exp_sum(r, lo, hi, m);
    const __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
    for (int64_t j = 0; j < n; j += 16) { /* P·inv; masked keys 0 */
        __mmask16 k = kn_mask16(n - j), kv = range16(j, lo, hi);
        _mm512_mask_storeu_ps(r + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(kv, r + j), inv));
    }
    return m + (float)log(sum);
}

KN_AVX512 static void grad_row_avx512(float *r, float *ds, int64_t n, int64_t lo, int64_t hi,
                                      float scale, float lse, float D, float qs) {
    const kn_exp_regs e = kn_exp_regs_load();
    const __m512 vs = _mm512_set1_ps(scale), vl = _mm512_set1_ps(lse), vd = _mm512_set1_ps(D),
                 vq = _mm512_set1_ps(qs);
    if (lse == -INFINITY) hi = lo; /* nothing visible: P = 0 */
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 k = kn_mask16(n - j), kv = range16(j, lo, hi);
        _mm_prefetch((const char *)(r + j + PF_AHEAD), _MM_HINT_T0);
        _mm_prefetch((const char *)(ds + j + PF_AHEAD), _MM_HINT_T0);
        __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(kv, r + j), vs);
        __m512 p = kn_exp16(_mm512_sub_ps(x, vl), kv, &e);
        __m512 g = _mm512_sub_ps(_mm512_maskz_loadu_ps(kv, ds + j), vd);
        _mm512_mask_storeu_ps(r + j, k, p);
        _mm512_mask_storeu_ps(ds + j, k, _mm512_mul_ps(_mm512_mul_ps(p, g), vq));
    }
}

float kn_attn_softmax_row(float *r, int64_t n, int64_t lo, int64_t hi, float scale) {
    return kn_sgemm_cpu_ok() ? softmax_row_avx512(r, n, lo, hi, scale) : softmax_row_plain(r, n, lo, hi, scale);
}

void kn_attn_grad_row(float *r, float *ds, int64_t n, int64_t lo, int64_t hi, float scale,
                      float lse, float D, float qs) {
    if (kn_sgemm_cpu_ok()) grad_row_avx512(r, ds, n, lo, hi, scale, lse, D, qs);
    else grad_row_plain(r, ds, n, lo, hi, scale, lse, D, qs);
}

#else

float kn_attn_softmax_row(float *r, int64_t n, int64_t lo, int64_t hi, float scale) {
    return softmax_row_plain(r, n, lo, hi, scale);
}

void kn_attn_grad_row(float *r, float *ds, int64_t n, int64_t lo, int64_t hi, float scale,
                      float lse, float D, float qs) {
    grad_row_plain(r, ds, n, lo, hi, scale, lse, D, qs);
}

#endif
