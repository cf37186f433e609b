/* RMSNorm forward/backward, fp32 values with double row statistics (the reduction over
 * thousands of elements is where float32 loses digits). */
#include <math.h>

#include "kernels/kernels.h"

void kn_rmsnorm_fwd(float *y, int64_t ldy, float *rstd, const float *x, int64_t ldx,
                    const float *w, int64_t n, int64_t d, float eps) {
#pragma omp parallel for schedule(static) if (n * d > 32768)
    for (int64_t i = 0; i < n; i++) {
        const float *xr = x + i * ldx;
        double ss = 0;
        for (int64_t j = 0; j < d; j++) ss += (double)xr[j] * xr[j];
        float r = (float)(1.0 / sqrt(ss / (double)d + (double)eps));
        if (rstd) rstd[i] = r;
        float *yr = y + i * ldy;
        for (int64_t j = 0; j < d; j++) yr[j] = w[j] * (xr[j] * r);
    }
}

/* dx for one row: r·(g − x·r²·mean(g⊙x)), g = dy⊙w. */
static void row_dx(float *dx, const float *dy, const float *x, const float *w, float r,
                   int64_t d) {
    double gx = 0;
    for (int64_t j = 0; j < d; j++) gx += (double)dy[j] * w[j] * x[j];
    float c = (float)(gx / (double)d) * r * r;
    for (int64_t j = 0; j < d; j++) dx[j] += r * (dy[j] * w[j] - x[j] * c);
}

void kn_rmsnorm_bwd(float *dx, int64_t lddx, float *dw, const float *dy, int64_t lddy,
                    const float *x, int64_t ldx, const float *w, const float *rstd, int64_t n,
                    int64_t d) {
    if (dx) {
#pragma omp parallel for schedule(static) if (n * d > 32768)
        for (int64_t i = 0; i < n; i++)
            row_dx(dx + i * lddx, dy + i * lddy, x + i * ldx, w, rstd[i], d);
    }
    if (!dw) return;
    /* Column sums in blocks of CB columns: each thread owns whole blocks (no two threads touch
     * the same dw[j]) and reads CB contiguous floats per row. */
    enum { CB = 64 };
    int64_t nb = (d + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (n * d > 32768)
    for (int64_t blk = 0; blk < nb; blk++) {
        int64_t j0 = blk * CB, nc = d - j0 < CB ? d - j0 : CB;
        double acc[CB] = {0};
        for (int64_t i = 0; i < n; i++) {
            const float *g = dy + i * lddy + j0, *xr = x + i * ldx + j0;
            double r = rstd[i];
            for (int64_t j = 0; j < nc; j++) acc[j] += (double)g[j] * xr[j] * r;
        }
        for (int64_t j = 0; j < nc; j++) dw[j0 + j] += (float)acc[j];
    }
}
