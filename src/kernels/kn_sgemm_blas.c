/* kn_sgemm_w on OpenBLAS (NEWT_GEMM=blas, or CPUs without AVX-512). A compact W is decoded
 * a tile of rows at a time into thread scratch (1 Mi floats: large enough that each tile's
 * GEMM is efficient, small enough to stay in L2/L3 between decoding and use), then each tile
 * is one cblas_sgemm: for op(W) = Wᵀ a tile of W rows is a slice of C's columns; for
 * op(W) = W it is a slice of K, accumulated into C (beta only on the first). */
#include <cblas.h>

#include "base/scratch.h"
#include "kernels/kn_sgemm_internal.h"

#define TILE_FLOATS ((int64_t)1 << 20)

static CBLAS_TRANSPOSE cb(kn_trans t) { return t == KN_T ? CblasTrans : CblasNoTrans; }

static void decode_rows(const kn_wsrc *W, int64_t r0, int64_t nr, int64_t cols, float *dst) {
    bool avx512 = kn_sgemm_cpu_ok();
#pragma omp parallel for schedule(static) if (nr * cols > 65536)
    for (int64_t r = 0; r < nr; r++) kn_w_row_seg(W, r0 + r, 0, cols, dst + r * cols, avx512);
}

void kn_sgemm_blas_w(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const kn_wsrc *W, float beta, float *C,
                     int64_t ldc) {
    if (W->kind == KN_W_F32) {
        cblas_sgemm(CblasRowMajor, cb(ta), cb(tb), (int)M, (int)N, (int)K, alpha, A, (int)lda,
                    W->f32 + W->off, (int)W->ld, beta, C, (int)ldc);
        return;
    }
    int64_t rows = tb == KN_T ? N : K, cols = tb == KN_T ? K : N;
    if (rows <= 0 || cols <= 0) { /* K == 0: C = beta·C, which BLAS does with any B */
        cblas_sgemm(CblasRowMajor, cb(ta), CblasNoTrans, (int)M, (int)N, 0, alpha, A, (int)lda,
                    C, (int)ldc, beta, C, (int)ldc);
        return;
    }
    int64_t tr = TILE_FLOATS / cols < 1 ? 1 : TILE_FLOATS / cols;
    float *tile = nt_tls_scratch(2, (size_t)((tr < rows ? tr : rows) * cols) * sizeof(float));
    for (int64_t r0 = 0; r0 < rows; r0 += tr) {
        int64_t nr = rows - r0 < tr ? rows - r0 : tr;
        decode_rows(W, r0, nr, cols, tile);
        if (tb == KN_T)
            cblas_sgemm(CblasRowMajor, cb(ta), CblasTrans, (int)M, (int)nr, (int)K, alpha, A,
                        (int)lda, tile, (int)cols, beta, C + r0, (int)ldc);
        else
            cblas_sgemm(CblasRowMajor, cb(ta), CblasNoTrans, (int)M, (int)N, (int)nr, alpha,
                        ta == KN_T ? A + r0 * lda : A + r0, (int)lda, tile, (int)cols,
                        r0 ? 1.0f : beta, C, (int)ldc);
    }
}
