/* Linear layers on kn_sgemm (row-major). y = x·Wᵀ is one NT GEMM; the backward is an NN
 * GEMM for dx and a TN GEMM for dW, both accumulating (beta = 1). */
#include "kernels/kernels.h"

void kn_linear_fwd_ld(float *y, int64_t ldy, const float *x, int64_t ldx, const float *w,
                      int64_t ldw, int64_t M, int64_t N, int64_t K, bool accumulate) {
    if (M <= 0 || N <= 0) return;
    kn_sgemm(KN_N, KN_T, M, N, K, 1.0f, x, ldx, w, ldw, accumulate ? 1.0f : 0.0f, y, ldy);
}

void kn_linear_fwd(float *y, const float *x, const float *w, int64_t M, int64_t N, int64_t K,
                   bool accumulate) {
    kn_linear_fwd_ld(y, N, x, K, w, K, M, N, K, accumulate);
}

void kn_linear_bwd_ld(float *dx, int64_t lddx, float *dw, int64_t lddw, const float *dy,
                      int64_t lddy, const float *x, int64_t ldx, const float *w, int64_t ldw,
                      int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    if (dx)
        kn_sgemm(KN_N, KN_N, M, K, N, 1.0f, dy, lddy, w, ldw, 1.0f, dx, lddx);
    if (dw)
        kn_sgemm(KN_T, KN_N, N, K, M, 1.0f, dy, lddy, x, ldx, 1.0f, dw, lddw);
}

void kn_linear_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w,
                   int64_t M, int64_t N, int64_t K) {
    kn_linear_bwd_ld(dx, K, dw, K, dy, N, x, K, w, K, M, N, K);
}
