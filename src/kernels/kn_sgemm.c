/* SGEMM driver: dispatch (own AVX-512 kernel or OpenBLAS), the GotoBLAS loop nest and the
 * thread split.
 *
 * Loop nest: jc over N in NC columns → pc over K in KC steps (op(B) block packed) → ic over M
 * in MC rows (op(A) block packed when transposed, else read in place) → micro-panels. Threads
 * split C (run_share). Sizes for Zen 5 (L1d 48 KiB, L2 1 MiB per core):
 *   KC ≤ 256: a B micro-panel (KC·NR floats = 32 KiB) stays in L1 while the A micro-panels
 *             stream past it;
 *   MC = 192: the A block (MC·KC = 192 KiB) stays in L2;
 *   NC = 1024: the B block (1 MiB) lives in L2/L3 (4096 measured the same, 1 thread, CPU
 *              time: lm_head fwd 512×32768×512 154 vs 158 GFLOP/s) and costs less per thread.
 * MR = 14 (28 accumulators) measured the same as 12 (geometric mean over the bench shapes
 * 1.64 vs 1.63 × OpenBLAS-Haswell); 12 wastes less on M = 128-row experts.
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
#define NC 1024
/* op(A) = A (k contiguous) is read in place, never packed: the micro-kernel broadcasts its 12
 * values per k step from 12 row streams instead of one packed micro-panel, the same loads, and
 * skips the transpose into the panel. Measured (2 threads, best of many, own kernel, packed vs
 * in place, GFLOP/s): NT 512×512×512 420 / 456, NT 4096×512×512 376 / 405, NT 4096×1024×64
 * 336 / 434, NT 4096×128×512 353 / 455, NN 4096×512×1536 354 / 445, NN 512×512×32768 340 /
 * 400, NT 4096×3072×512 343 / 352; only NN 512×512×512 read 431 / 411. The transposes were
 * ~8 % of a LoRA step at 4096 tokens (the frozen lm_head re-packs all rows of h for each
 * vocabulary block). op(A) = Aᵀ is still packed (its panel rows are contiguous loads). */
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

/* 1: own kernel, 0: OpenBLAS. Read on every call (no cached global: getenv costs well under
 * a microsecond, nothing next to a GEMM), so tests and benchmarks can switch with setenv. */
static int impl(void) {
    const char *env = getenv("NEWT_GEMM");
    return (env && strcmp(env, "blas") == 0) || !kn_sgemm_cpu_ok() ? 0 : 1;
}

const char *kn_sgemm_impl(void) { return impl() ? "avx512" : "blas"; }

bool kn_sgemm_own(void) { return impl() == 1; }

/* C = beta·C for the degenerate K == 0 / alpha == 0 cases. */
static void scale_c(float *C, int64_t ldc, int64_t M, int64_t N, float beta) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

/* The GotoBLAS loop nest on the block C[m0:m1, n0:n1], on the calling thread alone. */
static void run_block(const job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    int64_t ncmax = n1 - n0 < NC ? n1 - n0 : NC;
    float *pb = nt_tls_scratch(SLOT_B, (size_t)((ncmax + KN_NR) * j->kc_max) * sizeof(float));
    float *pa = j->ta == KN_N ? NULL : nt_tls_scratch(SLOT_A, (size_t)(MC * j->kc_max) * sizeof(float));
    float *tmp = j->tb == KN_N ? NULL
                               : nt_tls_scratch(SLOT_T, (size_t)(16 * j->kc_max) * sizeof(float));
    for (int64_t jc = n0; jc < n1; jc += NC) {
        int64_t nc = n1 - jc < NC ? n1 - jc : NC, np = (nc + KN_NR - 1) / KN_NR;
        for (int64_t kb = 0; kb < j->nkb; kb++) {
            int64_t k0 = kb * j->kc_max, kc = j->K - k0 < j->kc_max ? j->K - k0 : j->kc_max;
            kn_cupd u = {j->alpha, kb ? 1.0f : j->beta, kb == 0 && j->beta == 0.0f};
            for (int64_t p = 0; p < np; p++) {
                int64_t nr = nc - p * KN_NR < KN_NR ? nc - p * KN_NR : KN_NR;
                kn_pack_b_panel(j->W, j->tb, k0, kc, jc + p * KN_NR, nr, pb + p * KN_NR * kc, tmp);
            }
            for (int64_t i0 = m0; i0 < m1; i0 += MC) {
                int64_t mc = m1 - i0 < MC ? m1 - i0 : MC;
                float *Cb = j->C + i0 * j->ldc + jc;
                if (j->ta == KN_N) {
                    kn_macro_direct(j->A + i0 * j->lda + k0, j->lda, pb, mc, 0, np, nc, kc, Cb, j->ldc, u);
                    continue;
                }
                kn_pack_a(j->A, j->lda, j->ta, i0, mc, k0, kc, pa);
                kn_macro(pa, pb, mc, 0, np, nc, kc, Cb, j->ldc, u);
            }
        }
    }
}

/* Thread t of nt takes a contiguous share of C's columns (whole NR panels) when M ≤ N, else
 * of its rows (whole MR tiles), and runs the full loop nest on it with its own packing: no
 * barrier at all, only the fork and join. The duplicated packing (op(A) per thread for a
 * column split, op(B) for a row split) is the smaller operand's, at most 1/(share) of the
 * work. No shared buffers also means a thread descheduled by other load never stalls its
 * partners mid-GEMM, which on a busy machine cost 2-4x against a shared-B-panel split. */
static void run_share(const job *j, int t, int nt) {
    bool cols = j->M <= j->N;
    int64_t unit = cols ? KN_NR : KN_MR, len = cols ? j->N : j->M;
    int64_t units = (len + unit - 1) / unit;
    int64_t lo = units * t / nt * unit, hi = units * (t + 1) / nt * unit;
    if (hi > len) hi = len;
    if (lo >= hi) return;
    if (cols) run_block(j, 0, j->M, lo, hi);
    else run_block(j, lo, hi, 0, j->N);
}

/* K in equal blocks of at most KC_MAX (the same cut for own_gemm and the caller-packed B). */
static void k_blocks(int64_t K, int64_t *nkb, int64_t *kc_max) {
    *nkb = (K + KC_MAX - 1) / KC_MAX;
    *kc_max = (K + *nkb - 1) / *nkb;
}

static void own_gemm(job *j) {
    k_blocks(j->K, &j->nkb, &j->kc_max);
    double flops = 2.0 * (double)j->M * (double)j->N * (double)j->K;
    int nt = omp_in_parallel() || flops < PAR_MIN_FLOPS ? 1 : omp_get_max_threads();
    if (nt == 1) {
        run_block(j, 0, j->M, 0, j->N);
        return;
    }
#pragma omp parallel num_threads(nt)
    run_share(j, omp_get_thread_num(), omp_get_num_threads());
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

size_t kn_bpack_floats(int64_t K, int64_t N) {
    return (size_t)(K * ((N + KN_NR - 1) / KN_NR * KN_NR));
}

kn_bpack kn_bpack_fill_part(kn_trans tb, const float *B, int64_t ldb, int64_t K, int64_t N,
                            float *dst, int part, int parts) {
    kn_bpack bp = {.p = dst, .K = K, .N = N, .np = (N + KN_NR - 1) / KN_NR};
    k_blocks(K, &bp.nkb, &bp.kc_max);
    kn_wsrc w = {.kind = KN_W_F32, .f32 = B, .ld = ldb};
    float *tmp = tb == KN_N ? NULL : nt_tls_scratch(SLOT_T, (size_t)(16 * bp.kc_max) * sizeof(float));
    int64_t p0 = bp.np * part / parts, p1 = bp.np * (part + 1) / parts;
    for (int64_t kb = 0; kb < bp.nkb; kb++) {
        int64_t k0 = kb * bp.kc_max, kc = K - k0 < bp.kc_max ? K - k0 : bp.kc_max;
        for (int64_t p = p0; p < p1; p++) {
            int64_t nr = N - p * KN_NR < KN_NR ? N - p * KN_NR : KN_NR;
            kn_pack_b_panel(&w, tb, k0, kc, p * KN_NR, nr, dst + k0 * bp.np * KN_NR + p * KN_NR * kc, tmp);
        }
    }
    return bp;
}

kn_bpack kn_bpack_fill(kn_trans tb, const float *B, int64_t ldb, int64_t K, int64_t N, float *dst) {
    return kn_bpack_fill_part(tb, B, ldb, K, N, dst, 0, 1);
}

/* run_block's loop nest without the B packing (the column blocking by NC only orders the
 * work; each C element is the same sum either way). */
void kn_sgemm_bpacked_lower(kn_trans ta, int64_t M, int64_t n0, int64_t nc, float alpha,
                            const float *A, int64_t lda, const kn_bpack *bp, float beta, float *C,
                            int64_t ldc, int64_t diag) {
    if (M <= 0 || nc <= 0) return;
    float *pa = ta == KN_N ? NULL : nt_tls_scratch(SLOT_A, (size_t)(MC * bp->kc_max) * sizeof(float));
    int64_t np = (nc + KN_NR - 1) / KN_NR;
    for (int64_t kb = 0; kb < bp->nkb; kb++) {
        int64_t k0 = kb * bp->kc_max, kc = bp->K - k0 < bp->kc_max ? bp->K - k0 : bp->kc_max;
        kn_cupd u = {alpha, kb ? 1.0f : beta, kb == 0 && beta == 0.0f};
        const float *pb = bp->p + k0 * bp->np * KN_NR + n0 / KN_NR * KN_NR * kc;
        for (int64_t i0 = 0; i0 < M; i0 += MC) {
            int64_t mc = M - i0 < MC ? M - i0 : MC;
            if (ta == KN_N) {
                kn_macro_direct_lower(A + i0 * lda + k0, lda, pb, mc, 0, np, nc, kc, C + i0 * ldc,
                                      ldc, u, diag + i0);
                continue;
            }
            kn_pack_a(A, lda, ta, i0, mc, k0, kc, pa);
            kn_macro(pa, pb, mc, 0, np, nc, kc, C + i0 * ldc, ldc, u);
        }
    }
}

void kn_sgemm_bpacked(kn_trans ta, int64_t M, int64_t n0, int64_t nc, float alpha, const float *A,
                      int64_t lda, const kn_bpack *bp, float beta, float *C, int64_t ldc) {
    kn_sgemm_bpacked_lower(ta, M, n0, nc, alpha, A, lda, bp, beta, C, ldc, KN_BAND_ALL.hi);
}

/* Column strips of 64, then K blocks (kn_sgemm's cut), then slices of them small enough that
 * B's slice (copied together: rows of q, k, v, dO are 2-3 KiB apart in the model, so in place
 * they share a few L1 sets and evict each other) stays in L1 while all 6-row micro-tiles of
 * op(A) pass; the micro-tiles' partial sums wait in `part` between slices. */
#define NARROW_SLICE_FLOATS 8192 /* 32 KiB of B */

/* The narrow product's loop nest; B's slices come from Bs (strips of 64 columns, row stride
 * 64, strip s at Bs + s·bs_stride) when given, else are copied from B. */
static void narrow_run(kn_trans ta, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       int64_t lda, const float *B, int64_t ldb, const float *Bs,
                       int64_t bs_stride, float beta, float *C, int64_t ldc, kn_band band) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(C, ldc, M, N, beta);
        return;
    }
    int64_t nkb, kc_max, ars = ta == KN_N ? lda : 1, acs = ta == KN_N ? 1 : lda;
    k_blocks(K, &nkb, &kc_max);
    int64_t slice = kc_max * 64 <= NARROW_SLICE_FLOATS ? kc_max : NARROW_SLICE_FLOATS / 64;
    float *bb = Bs ? NULL : nt_tls_scratch(SLOT_B, (size_t)(64 * slice) * sizeof(float));
    float *part = slice < kc_max ? nt_tls_scratch(SLOT_A, (size_t)((M + 5) / 6 * 6 * 64) * sizeof(float)) : NULL;
    for (int64_t n0 = 0; n0 < N; n0 += 64) {
        int64_t nc = N - n0 < 64 ? N - n0 : 64;
        for (int64_t kb = 0; kb < nkb; kb++) {
            int64_t k0 = kb * kc_max, kc = K - k0 < kc_max ? K - k0 : kc_max;
            kn_cupd u = {alpha, kb ? 1.0f : beta, kb == 0 && beta == 0.0f};
            for (int64_t s0 = 0; s0 < kc; s0 += slice) {
                int64_t ks = kc - s0 < slice ? kc - s0 : slice;
                kn_band b = {band.lo + k0 + s0, band.hi - k0 - s0}; /* in the slice's k */
                const float *sl = Bs ? Bs + n0 / 64 * bs_stride + (k0 + s0) * 64 : bb;
                if (!Bs) kn_rows64_copy(bb, B + (k0 + s0) * ldb + n0, ldb, ks, nc);
                kn_macro_narrow(A + (k0 + s0) * acs, ars, acs, M, sl, 64, nc, ks, C + n0, ldc, u,
                                part, s0 == 0, s0 + ks == kc, b);
            }
        }
    }
}

void kn_sgemm_narrow_band(kn_trans ta, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc, kn_band band) {
    narrow_run(ta, M, N, K, alpha, A, lda, B, ldb, NULL, 0, beta, C, ldc, band);
}

void kn_sgemm_narrow_strips(kn_trans ta, int64_t M, int64_t N, int64_t K, float alpha,
                            const float *A, int64_t lda, const float *Bs, int64_t bs_stride,
                            float beta, float *C, int64_t ldc, kn_band band) {
    narrow_run(ta, M, N, K, alpha, A, lda, NULL, 0, Bs, bs_stride, beta, C, ldc, band);
}

void kn_strips64_fill(float *dst, int64_t stride, const float *B, int64_t ldb, int64_t K, int64_t N) {
    for (int64_t n0 = 0; n0 < N; n0 += 64)
        kn_rows64_copy(dst + n0 / 64 * stride, B + n0, ldb, K, N - n0 < 64 ? N - n0 : 64);
}

void kn_sgemm_narrow(kn_trans ta, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    kn_sgemm_narrow_band(ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, KN_BAND_ALL);
}
