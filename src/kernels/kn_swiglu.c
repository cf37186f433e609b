/* SwiGLU h = silu(a) ⊙ b with silu(a) = a·σ(a), σ(a) = 1 / (1 + expf(−a)). The expf values of
 * a row come CH at a time from kn_exp_shift (expf's exact bits, vectorized), so the loops
 * around them vectorize too; every element sees the same operations as before. */
#include <math.h>

#include "kernels/kernels.h"

enum { CH = 64 };

/* s[j] = σ(a[j]) for j < n ≤ CH. */
static inline void sigmoid_chunk(float *s, const float *a, int64_t n) {
    for (int64_t j = 0; j < n; j++) s[j] = -a[j];
    kn_exp_shift(s, n, 0.0f); /* x − 0 = x exactly: expf(−a) */
#pragma omp simd
    for (int64_t j = 0; j < n; j++) s[j] = 1.0f / (1.0f + s[j]);
}

void kn_swiglu_fwd(float *h, const float *a, const float *b, int64_t ldab, int64_t n,
                   int64_t f) {
#pragma omp parallel for schedule(static) if (n * f > 32768)
    for (int64_t i = 0; i < n; i++) {
        const float *ar = a + i * ldab, *br = b + i * ldab;
        float *hr = h + i * f, s[CH];
        for (int64_t j0 = 0; j0 < f; j0 += CH) {
            int64_t m = f - j0 < CH ? f - j0 : CH;
            sigmoid_chunk(s, ar + j0, m);
#pragma omp simd
            for (int64_t j = 0; j < m; j++) hr[j0 + j] = ar[j0 + j] * s[j] * br[j0 + j];
        }
    }
}

/* da = dh⊙b⊙σ(a)(1 + a(1 − σ(a))), db = dh⊙silu(a). */
void kn_swiglu_bwd(float *da, float *db, const float *dh, const float *a, const float *b,
                   int64_t ldab, int64_t n, int64_t f) {
#pragma omp parallel for schedule(static) if (n * f > 32768)
    for (int64_t i = 0; i < n; i++) {
        const float *ar = a + i * ldab, *br = b + i * ldab, *g = dh + i * f;
        float *dar = da + i * ldab, *dbr = db + i * ldab, s[CH];
        for (int64_t j0 = 0; j0 < f; j0 += CH) {
            int64_t m = f - j0 < CH ? f - j0 : CH;
            sigmoid_chunk(s, ar + j0, m);
#pragma omp simd
            for (int64_t j = 0; j < m; j++) {
                int64_t k = j0 + j;
                dar[k] += g[k] * br[k] * s[j] * (1.0f + ar[k] * (1.0f - s[j]));
                dbr[k] += g[k] * ar[k] * s[j];
            }
        }
    }
}
