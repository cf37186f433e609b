/* Small element-wise helpers. */
#include <string.h>

#include "kernels/kernels.h"

/* Short vectors (the MoE backward sums each token's k expert rows, N·k calls of D floats per
 * layer) skip the OpenMP region: even one with a false if clause goes through libgomp, which
 * cost more than the additions (7 µs per token over the benchmark model's four layers at
 * D = 512, 2 % of a training step). */
void kn_axpy(float *y, float a, const float *x, int64_t n) {
    if (n <= 65536) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
        return;
    }
#pragma omp parallel for schedule(static)
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

/* Eight independent lanes so the loop is not one long dependency chain (a row of 32768 logits
 * took ~4 cycles per element as a single chain). Same comparison as a sequential scan, so the
 * result is identical: NaNs are skipped unless x[0] is one. */
float kn_max(const float *x, int64_t n) {
    float m[8];
    for (int k = 0; k < 8; k++) m[k] = x[0];
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) m[k] = x[i + k] > m[k] ? x[i + k] : m[k];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    for (int k = 1; k < 8; k++) m[0] = m[k] > m[0] ? m[k] : m[0];
    return m[0];
}

/* Eight double partial sums (lane k takes x[i] with i % 8 == k), added pairwise at the end:
 * a reassociation of the sequential double sum, far below float precision. */
double kn_sum_f64(const float *x, int64_t n) {
    double s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += x[i + k];
    for (; i < n; i++) s[i % 8] += x[i];
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}
