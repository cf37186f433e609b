/* lm_head + cross-entropy fused over token chunks: for each chunk of rows the logits are one
 * GEMM into scratch, turned in place into (softmax − onehot)·grad_scale, and pushed back
 * through the head (dh) and into its weight (dw) by two more GEMMs. Peak memory is
 * chunk × V floats, never n × V. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

/* One row: returns the loss −log softmax(l)[y]; turns l into grad_scale·(softmax − onehot)
 * when want_grad. Ignored rows (y < 0) get a zero gradient row. One float exp per logit (kept
 * in l for the gradient pass; kn_exp_shift gives expf's bits, vectorized), summed in double:
 * expf's error (< 1 ulp) is far below the float rounding of the result, and it halves the work
 * of the former two double exps. */
static double row_xent(float *l, int64_t V, int32_t y, float grad_scale, bool want_grad) {
    if (y < 0) {
        if (want_grad) memset(l, 0, (size_t)V * sizeof(float));
        return 0;
    }
    float m = kn_max(l, V), ly = l[y];
    kn_exp_shift(l, V, m); /* the row is scratch (already copied out when asked) */
    double s = kn_sum_f64(l, V);
    double loss = log(s) + m - ly;
    if (want_grad) {
        double inv = 1.0 / s;
#pragma omp simd
        for (int64_t j = 0; j < V; j++) l[j] = (float)(l[j] * inv) * grad_scale;
        l[y] -= grad_scale;
    }
    return loss;
}

kn_xent_result kn_lmhead_xent(const float *h, const float *w, const int32_t *target, int64_t n,
                              int64_t D, int64_t V, float grad_scale, float *dh, float *dw,
                              float *logits_out, float *scratch, int64_t chunk) {
    kn_xent_result r = {0, 0};
    bool want_grad = dh || dw;
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        int64_t m = n - c0 < chunk ? n - c0 : chunk;
        const float *hc = h + c0 * D;
        kn_linear_fwd(scratch, hc, w, m, V, D, false);
        if (logits_out) memcpy(logits_out + c0 * V, scratch, (size_t)(m * V) * sizeof(float));
        double sum = 0;
        int64_t cnt = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum, cnt) if (m * V > 65536)
        for (int64_t i = 0; i < m; i++) {
            sum += row_xent(scratch + i * V, V, target[c0 + i], grad_scale, want_grad);
            cnt += target[c0 + i] >= 0;
        }
        r.loss_sum += sum;
        r.count += cnt;
        if (want_grad)
            kn_linear_bwd(dh ? dh + c0 * D : NULL, dw, scratch, hc, w, m, V, D);
    }
    return r;
}
