/* SGEMM driver: dispatch (own AVX-512 kernel or OpenBLAS), the GotoBLAS loop nest and the
 * thread split.
 *
 * Loop nest: jc over N in NC columns → pc over K in KC steps (op(B) block packed once, shared
 * by the team) → ic over M in MC rows (op(A) block packed per thread) → micro-panels. Sizes
 * for Zen 5 (L1d 48 KiB, L2 1 MiB per core):
 *   KC ≤ 256: a B micro-panel (KC·NR floats = 32 KiB) stays in L1 while the A micro-panels
 *             stream past it;
 *   MC = 192: the A block (MC·KC = 192 KiB) stays in L2;
 *   NC = 4096: the shared B block (4 MiB) lives in L3.
 * K is cut into equal blocks of at most KC (K = 512: two of 256) and never split across
 * threads: every C element is summed in the same order whatever the thread count or split,
 * so results are bitwise reproducible. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/scratch.h"
#include "kernels/kn_sgemm_internal.h"

#define KC_MAX 256
#define MC 192
#define NC 4096
/* Below this many flops (2·M·N·K) one thread is faster than waking the team. */
#define PAR_MIN_FLOPS 4e6
/* thread scratch slots */
#define SLOT_B 0
#define SLOT_A 1
#define SLOT_T 2

typedef struct {
    kn_trans ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A;
    int64_t lda;
    const kn_wsrc *W;
    float *C;
    int64_t ldc;
    int64_t nkb, kc_max; /* K blocks and their size (the last may be shorter) */
} job;

static int g_impl = -1; /* -1 unknown, 0 blas, 1 avx512 */

static int impl(void) {
    int v = __atomic_load_n(&g_impl, __ATOMIC_RELAXED);
    if (v >= 0) return v;
    const char *env = getenv("NEWT_GEMM");
    v = (env && strcmp(env, "blas") == 0) || !kn_sgemm_cpu_ok() ? 0 : 1;
    __atomic_store_n(&g_impl, v, __ATOMIC_RELAXED);
    return v;
}

const char *kn_sgemm_impl(void) { return impl() ? "avx512" : "blas"; }

void kn_sgemm_force_blas(bool on) {
    __atomic_store_n(&g_impl, -1, __ATOMIC_RELAXED);
    if (on) __atomic_store_n(&g_impl, 0, __ATOMIC_RELAXED);
    else impl();
}

/* C = beta·C for the degenerate K == 0 / alpha == 0 cases. */
static void scale_c(float *C, int64_t ldc, int64_t M, int64_t N, float beta) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

static void pack_b_block(const job *j, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                         float *pb, int tid, int nt) {
    int64_t np = (nc + KN_NR - 1) / KN_NR;
    float *tmp = j->W->kind == KN_W_F32 || j->tb == KN_N
                     ? NULL : nt_tls_scratch(SLOT_T, (size_t)(16 * kc) * sizeof(float));
    for (int64_t p = tid; p < np; p += nt) {
        int64_t nr = nc - p * KN_NR < KN_NR ? nc - p * KN_NR : KN_NR;
        kn_pack_b_panel(j->W, j->tb, k0, kc, n0 + p * KN_NR, nr, pb + p * KN_NR * kc, tmp);
    }
}

/* This thread's share of one packed B block: either every M block over a slice of the
 * panels (N split, when there are enough panels) or whole rows of M blocks (M split). */
static void compute_block(const job *j, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                          const float *pb, kn_cupd u, int tid, int nt) {
    int64_t np = (nc + KN_NR - 1) / KN_NR, nmb = (j->M + MC - 1) / MC;
    bool nsplit = np >= 2 * (int64_t)nt || nmb < nt;
    int64_t p0 = nsplit ? np * tid / nt : 0, p1 = nsplit ? np * (tid + 1) / nt : np;
    if (p0 >= p1) return;
    float *pa = nt_tls_scratch(SLOT_A, (size_t)MC * kc * sizeof(float));
    for (int64_t b = nsplit ? 0 : tid; b < nmb; b += nsplit ? 1 : nt) {
        int64_t i0 = b * MC, mc = j->M - i0 < MC ? j->M - i0 : MC;
        kn_pack_a(j->A, j->lda, j->ta, i0, mc, k0, kc, pa);
        kn_macro(pa, pb, mc, p0, p1, nc, kc, j->C + i0 * j->ldc + n0, j->ldc, u);
    }
}

static void run(const job *j, float *pb, int tid, int nt) {
    for (int64_t n0 = 0; n0 < j->N; n0 += NC) {
        int64_t nc = j->N - n0 < NC ? j->N - n0 : NC;
        for (int64_t kb = 0; kb < j->nkb; kb++) {
            int64_t k0 = kb * j->kc_max, kc = j->K - k0 < j->kc_max ? j->K - k0 : j->kc_max;
            kn_cupd u = {j->alpha, kb ? 1.0f : j->beta, kb == 0 && j->beta == 0.0f};
            if (nt > 1) {
#pragma omp barrier
            }
            pack_b_block(j, k0, kc, n0, nc, pb, tid, nt);
            if (nt > 1) {
#pragma omp barrier
            }
            compute_block(j, k0, kc, n0, nc, pb, u, tid, nt);
        }
    }
}

static void own_gemm(job *j) {
    j->nkb = (j->K + KC_MAX - 1) / KC_MAX;
    j->kc_max = (j->K + j->nkb - 1) / j->nkb;
    int64_t ncp = (j->N < NC ? j->N : NC) + KN_NR;
    float *pb = nt_tls_scratch(SLOT_B, (size_t)(ncp * j->kc_max) * sizeof(float));
    double flops = 2.0 * (double)j->M * (double)j->N * (double)j->K;
    int nt = omp_in_parallel() || flops < PAR_MIN_FLOPS ? 1 : omp_get_max_threads();
    if (nt == 1) {
        run(j, pb, 0, 1);
        return;
    }
#pragma omp parallel num_threads(nt)
    run(j, pb, omp_get_thread_num(), omp_get_num_threads());
}

void kn_sgemm_w(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const kn_wsrc *W, float beta, float *C,
                int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    job j = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .A = A,
             .lda = lda, .W = W, .C = C, .ldc = ldc};
    if (!impl()) {
        kn_sgemm_blas_w(ta, tb, M, N, K, alpha, A, lda, W, beta, C, ldc);
        return;
    }
    if (K <= 0 || alpha == 0.0f) {
        scale_c(C, ldc, M, N, beta);
        return;
    }
    own_gemm(&j);
}

void kn_sgemm(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc) {
    kn_wsrc w = {.kind = KN_W_F32, .f32 = B, .ld = ldb};
    if (M > 0 && N > 0 && !impl()) {
        cblas_sgemm(CblasRowMajor, ta == KN_T ? CblasTrans : CblasNoTrans,
                    tb == KN_T ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                    (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
    kn_sgemm_w(ta, tb, M, N, K, alpha, A, lda, &w, beta, C, ldc);
}
