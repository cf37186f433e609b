/* Small element-wise helpers. */
#include <string.h>

#include "kernels/kernels.h"

void kn_axpy(float *y, float a, const float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void kn_embed_fwd(float *out, const float *table, const int32_t *ids, int64_t n, int64_t d) {
#pragma omp parallel for schedule(static) if (n * d > 65536)
    for (int64_t t = 0; t < n; t++) memcpy(out + t * d, table + (int64_t)ids[t] * d, (size_t)d * sizeof(float));
}

/* Repeated ids add into the same row, so the token loop stays serial; columns are split. */
void kn_embed_bwd(float *dtable, const float *dout, const int32_t *ids, int64_t n, int64_t d) {
#pragma omp parallel for schedule(static) if (n * d > 65536)
    for (int64_t j = 0; j < d; j++)
        for (int64_t t = 0; t < n; t++) dtable[(int64_t)ids[t] * d + j] += dout[t * d + j];
}
