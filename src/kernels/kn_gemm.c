/* Linear layers on cblas_sgemm (row-major). y = x·Wᵀ is one NT GEMM; the backward is an NN
 * GEMM for dx and a TN GEMM for dW, both accumulating (beta = 1). */
#include <cblas.h>

#include "kernels/kernels.h"

void kn_linear_fwd_ld(float *y, int64_t ldy, const float *x, int64_t ldx, const float *w,
                      int64_t ldw, int64_t M, int64_t N, int64_t K, bool accumulate) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x,
                (int)ldx, w, (int)ldw, accumulate ? 1.0f : 0.0f, y, (int)ldy);
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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)K, (int)N, 1.0f, dy,
                    (int)lddy, w, (int)ldw, 1.0f, dx, (int)lddx);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)K, (int)M, 1.0f, dy,
                    (int)lddy, x, (int)ldx, 1.0f, dw, (int)lddw);
}

void kn_linear_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w,
                   int64_t M, int64_t N, int64_t K) {
    kn_linear_bwd_ld(dx, K, dw, K, dy, N, x, K, w, K, M, N, K);
}
