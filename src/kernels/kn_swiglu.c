/* SwiGLU h = silu(a) ⊙ b with silu(a) = a·σ(a). */
#include <math.h>

#include "kernels/kernels.h"

static inline float sigmoidf_(float a) { return 1.0f / (1.0f + expf(-a)); }

void kn_swiglu_fwd(float *h, const float *a, const float *b, int64_t ldab, int64_t n,
                   int64_t f) {
#pragma omp parallel for schedule(static) if (n * f > 32768)
    for (int64_t i = 0; i < n; i++) {
        const float *ar = a + i * ldab, *br = b + i * ldab;
        float *hr = h + i * f;
        for (int64_t j = 0; j < f; j++) hr[j] = ar[j] * sigmoidf_(ar[j]) * br[j];
    }
}

/* da = dh⊙b⊙σ(a)(1 + a(1 − σ(a))), db = dh⊙silu(a). */
void kn_swiglu_bwd(float *da, float *db, const float *dh, const float *a, const float *b,
                   int64_t ldab, int64_t n, int64_t f) {
#pragma omp parallel for schedule(static) if (n * f > 32768)
    for (int64_t i = 0; i < n; i++) {
        const float *ar = a + i * ldab, *br = b + i * ldab, *g = dh + i * f;
        float *dar = da + i * ldab, *dbr = db + i * ldab;
        for (int64_t j = 0; j < f; j++) {
            float s = sigmoidf_(ar[j]);
            dar[j] += g[j] * br[j] * s * (1.0f + ar[j] * (1.0f - s));
            dbr[j] += g[j] * ar[j] * s;
        }
    }
}
