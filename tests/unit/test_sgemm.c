/* kn_sgemm / kn_sgemm_w against a naive double-precision reference written here from the
 * definition C = alpha·op(A)·op(B) + beta·C (beta == 0: C ignored). Error bound per element:
 * 1e-5 · (|alpha|·Σ|a||b| + |beta·c|), the scale of float rounding over a K-term sum. Compact
 * weights are checked against tensor/'s own dequantization (an independent decoder) and,
 * bitwise, against the f32 GEMM on that dequantized matrix (packing must give equal panels). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "kernels/kn_sgemm_internal.h"
#include "kn_testutil.h"
#include "tensor/convert.h"
#include "tensor/fp.h"
#include "tensor/nf4.h"
#include "test.h"

typedef struct {
    kn_trans ta, tb;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
} gcase;

static gcase mk(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, int64_t pad,
                float alpha, float beta) {
    gcase g = {ta, tb, M, N, K, 0, 0, 0, alpha, beta};
    g.lda = (ta == KN_T ? M : K) + pad;
    g.ldb = (tb == KN_T ? K : N) + pad;
    g.ldc = N + pad;
    return g;
}
static int64_t a_size(const gcase *g) { return (g->ta == KN_T ? g->K : g->M) * g->lda; }
static int64_t b_size(const gcase *g) { return (g->tb == KN_T ? g->N : g->K) * g->ldb; }
static double a_at(const gcase *g, const float *A, int64_t i, int64_t k) {
    return g->ta == KN_T ? A[k * g->lda + i] : A[i * g->lda + k];
}
static double b_at(const gcase *g, const float *B, int64_t k, int64_t j) {
    return g->tb == KN_T ? B[j * g->ldb + k] : B[k * g->ldb + j];
}

/* Checks C[i][j] (computed from C0) against the reference; every element when `every`,
 * else ~4000 sampled ones (large shapes). Returns the number of violations. */
static int64_t check_c(const gcase *g, const float *A, const float *B, const float *C0,
                       const float *C, bool every) {
    int64_t bad = 0, total = g->M * g->N, step = every || total < 4000 ? 1 : total / 4000 + 1;
    for (int64_t e = 0; e < total; e += step) {
        int64_t i = e / g->N, j = e % g->N;
        double s = 0, mag = 0;
        for (int64_t k = 0; k < g->K; k++) {
            double p = a_at(g, A, i, k) * b_at(g, B, k, j);
            s += p;
            mag += fabs(p);
        }
        double c0 = g->beta == 0.0f ? 0.0 : (double)g->beta * C0[i * g->ldc + j];
        double ref = g->alpha * s + c0, tol = 1e-5 * (fabs(g->alpha) * mag + fabs(c0)) + 1e-30;
        double got = C[i * g->ldc + j];
        if (!(fabs(got - ref) <= tol)) {
            if (bad < 3)
                fprintf(stderr, "  C[%ld][%ld] = %.9g, reference %.9g (M%ld N%ld K%ld ta%d tb%d)\n",
                        (long)i, (long)j, got, ref, (long)g->M, (long)g->N, (long)g->K, g->ta, g->tb);
            bad++;
        }
    }
    return bad;
}

static float *c_init(const gcase *g) {
    float *C = kt_randf(g->M * g->ldc, 1.0);
    if (g->beta == 0.0f)
        for (int64_t i = 0; i < g->M * g->ldc; i++) C[i] = NAN;
    return C;
}

/* Runs one case; also checks that C's padding columns are untouched. */
static int64_t run_case(const gcase *g, bool every) {
    float *A = kt_randf(a_size(g), 1.0), *B = kt_randf(b_size(g), 1.0), *C = c_init(g);
    float *C0 = malloc((size_t)(g->M * g->ldc) * sizeof(float));
    memcpy(C0, C, (size_t)(g->M * g->ldc) * sizeof(float));
    kn_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
    int64_t bad = check_c(g, A, B, C0, C, every);
    for (int64_t i = 0; i < g->M; i++)
        for (int64_t j = g->N; j < g->ldc; j++)
            if (memcmp(&C[i * g->ldc + j], &C0[i * g->ldc + j], sizeof(float))) bad++;
    free(A), free(B), free(C), free(C0);
    return bad;
}

static const int64_t dims[] = {1, 2, 3, 5, 11, 12, 13, 16, 31, 32, 33, 47, 64, 97, 127, 128,
                               131, 192, 193, 255, 257, 300};
#define NDIMS ((int)(sizeof dims / sizeof dims[0]))
static const float alphas[] = {1.0f, -0.5f}, betas[] = {0.0f, 1.0f, 0.5f};

static gcase random_case(int t) {
    int64_t M = dims[rand() % NDIMS], N = dims[rand() % NDIMS], K = dims[rand() % NDIMS];
    return mk((kn_trans)(t >> 1), (kn_trans)(t & 1), M, N, K, rand() % 3 ? rand() % 7 : 0,
              alphas[rand() % 2], betas[rand() % 3]);
}

TEST(all_transposes_many_shapes_strides_alpha_beta) {
    srand(7);
    kt_seed(1);
    int64_t bad = 0;
    for (int t = 0; t < 4; t++)
        for (int n = 0; n < 36; n++) {
            gcase g = random_case(t);
            bad += run_case(&g, true);
        }
    CHECK_EQ_INT(bad, 0);
}

TEST(edge_shapes_one_and_tile_boundaries) {
    kt_seed(2);
    int64_t bad = 0;
    const int64_t e[] = {1, 11, 12, 13, 31, 32, 33, 191, 192, 193};
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 10; i++) {
            gcase g = mk((kn_trans)(t >> 1), (kn_trans)(t & 1), e[i], e[9 - i], e[(i + 3) % 10], 1,
                         1.0f, i & 1 ? 0.0f : 1.0f);
            bad += run_case(&g, true);
        }
    /* K = 0 and alpha = 0: C = beta·C without reading A or B's values */
    gcase z = mk(KN_N, KN_N, 5, 7, 0, 0, 1.0f, 0.5f);
    bad += run_case(&z, true);
    gcase a0 = mk(KN_N, KN_T, 5, 7, 9, 0, 0.0f, 0.0f);
    bad += run_case(&a0, true);
    CHECK_EQ_INT(bad, 0);
}

TEST(large_shapes_sampled) {
    kt_seed(3);
    int64_t bad = 0;
    gcase g1 = mk(KN_N, KN_T, 512, 2048, 512, 0, 1.0f, 0.0f);  /* forward NT */
    gcase g2 = mk(KN_N, KN_N, 512, 600, 1100, 5, -0.5f, 1.0f); /* dgrad NN, 5 K blocks */
    gcase g3 = mk(KN_T, KN_N, 520, 512, 512, 0, 1.0f, 1.0f);   /* wgrad TN */
    gcase g4 = mk(KN_N, KN_T, 300, 4200, 70, 3, 1.0f, 0.5f);   /* two NC column blocks */
    bad += run_case(&g1, false) + run_case(&g2, false) + run_case(&g3, false) + run_case(&g4, false);
    CHECK_EQ_INT(bad, 0);
}

TEST(inside_an_omp_parallel_region_each_thread_its_own_gemm) {
    srand(11);
    kt_seed(4);
    gcase cases[16];
    for (int i = 0; i < 16; i++) cases[i] = random_case(i & 3);
    float *A[16], *B[16], *C[16], *C0[16];
    for (int i = 0; i < 16; i++) {
        A[i] = kt_randf(a_size(&cases[i]), 1.0), B[i] = kt_randf(b_size(&cases[i]), 1.0);
        C[i] = c_init(&cases[i]);
        C0[i] = malloc((size_t)(cases[i].M * cases[i].ldc) * sizeof(float));
        memcpy(C0[i], C[i], (size_t)(cases[i].M * cases[i].ldc) * sizeof(float));
    }
    int saved = omp_get_max_threads();
    omp_set_num_threads(2);
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < 16; i++) {
        const gcase *g = &cases[i];
        kn_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A[i], g->lda, B[i], g->ldb, g->beta,
                 C[i], g->ldc);
    }
    omp_set_num_threads(saved);
    int64_t bad = 0;
    for (int i = 0; i < 16; i++) {
        bad += check_c(&cases[i], A[i], B[i], C0[i], C[i], true);
        free(A[i]), free(B[i]), free(C[i]), free(C0[i]);
    }
    CHECK_EQ_INT(bad, 0);
}

/* C from one call with `threads` OpenMP threads (0: from inside a parallel region). */
static float *det_run(const gcase *g, const float *A, const float *B, int threads) {
    float *C = calloc((size_t)(g->M * g->ldc), sizeof(float));
    int saved = omp_get_max_threads();
    if (threads == 0) {
        omp_set_num_threads(2);
#pragma omp parallel num_threads(2)
        {
#pragma omp single
            kn_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, g->lda, B, g->ldb, g->beta, C,
                     g->ldc);
        }
    } else {
        omp_set_num_threads(threads);
        kn_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, g->lda, B, g->ldb, g->beta, C,
                 g->ldc);
    }
    omp_set_num_threads(saved);
    return C;
}

TEST(bitwise_deterministic_across_calls_and_thread_counts) {
    kt_seed(5);
    const gcase gs[] = {mk(KN_N, KN_T, 512, 1000, 700, 0, 1.0f, 0.0f),
                        mk(KN_T, KN_N, 130, 520, 513, 2, -0.5f, 0.0f),
                        mk(KN_N, KN_N, 1000, 40, 300, 0, 1.0f, 0.0f)};
    for (int c = 0; c < 3; c++) {
        const gcase *g = &gs[c];
        float *A = kt_randf(a_size(g), 1.0), *B = kt_randf(b_size(g), 1.0);
        float *r2 = det_run(g, A, B, 2), *r2b = det_run(g, A, B, 2);
        float *r1 = det_run(g, A, B, 1), *r0 = det_run(g, A, B, 0);
        size_t bytes = (size_t)(g->M * g->ldc) * sizeof(float);
        CHECK(memcmp(r2, r2b, bytes) == 0);
        /* Across thread counts only newt's own kernel promises the same bits (each C tile is
         * summed in one fixed order); OpenBLAS (NEWT_GEMM=blas, or a CPU without AVX-512)
         * does not, and its bits do change with the thread count. */
        if (kn_sgemm_own()) {
            CHECK(memcmp(r2, r1, bytes) == 0);
            CHECK(memcmp(r2, r0, bytes) == 0);
        }
        free(A), free(B), free(r2), free(r2b), free(r1), free(r0);
    }
}

/* ---- compact weights ---- */

typedef struct {
    kn_wsrc w;
    tn_nf4 q;
    uint16_t *bf16;
    float *deq; /* all rows × cols, dequantized by tensor/ */
} wsrc_case;

static void wsrc_nf4(wsrc_case *c, int64_t rows, int64_t cols, bool dq) {
    float *x = kt_randf(rows * cols, 0.1);
    int64_t shape[2] = {rows, cols};
    nt_err err = {0};
    if (tn_nf4_quantize(TN_F32, x, shape, 2, 64, dq, &c->q, &err) != NT_OK) abort();
    free(x);
    c->deq = malloc((size_t)(rows * cols) * sizeof(float));
    tn_nf4_dequant_rows(&c->q, 0, (size_t)rows, c->deq);
    const tn_nf4 *q = &c->q;
    c->w = (kn_wsrc){.kind = KN_W_NF4, .ld = cols, .packed = q->packed,
                     .blocksize = (int64_t)q->blocksize, .quant_map = q->quant_map,
                     .absmax = q->double_quant ? NULL : q->absmax, .absmax_q = q->absmax_q,
                     .nested_absmax = q->nested_absmax, .nested_quant_map = q->nested_quant_map,
                     .nested_blocksize = (int64_t)q->nested_blocksize,
                     .nested_offset = q->nested_offset};
}

static void wsrc_bf16(wsrc_case *c, int64_t rows, int64_t cols) {
    c->bf16 = malloc((size_t)(rows * cols) * sizeof(uint16_t));
    c->deq = malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t i = 0; i < rows * cols; i++) {
        c->bf16[i] = tn_f32_to_bf16((float)kt_uniform());
        c->deq[i] = tn_bf16_to_f32(c->bf16[i]);
    }
    c->w = (kn_wsrc){.kind = KN_W_BF16, .ld = cols, .bf16 = c->bf16};
}

static void wsrc_free(wsrc_case *c) {
    tn_nf4_free(&c->q);
    free(c->bf16);
    free(c->deq);
}

/* W rows [row0, row0 + wr) of a [rows, cols] store as op(B): tb = T uses them as [N, K],
 * tb = N as [K, N]. Checks against the reference and bitwise against kn_sgemm on deq. */
static int64_t compact_case(wsrc_case *c, kn_trans ta, kn_trans tb, int64_t M, int64_t row0,
                            int64_t wr, int64_t cols, float beta) {
    int64_t N = tb == KN_T ? wr : cols, K = tb == KN_T ? cols : wr;
    gcase g = mk(ta, tb, M, N, K, 0, 1.0f, beta);
    g.ldb = cols;
    const float *B = c->deq + row0 * cols;
    float *A = kt_randf(a_size(&g), 1.0), *C = c_init(&g), *C2 = c_init(&g);
    float *C0 = malloc((size_t)(M * g.ldc) * sizeof(float));
    memcpy(C0, C, (size_t)(M * g.ldc) * sizeof(float));
    memcpy(C2, C, (size_t)(M * g.ldc) * sizeof(float));
    kn_wsrc w = c->w;
    w.off = row0 * cols;
    kn_sgemm_w(ta, tb, M, N, K, 1.0f, A, g.lda, &w, beta, C, g.ldc);
    kn_sgemm(ta, tb, M, N, K, 1.0f, A, g.lda, B, g.ldb, beta, C2, g.ldc);
    int64_t bad = check_c(&g, A, B, C0, C, true);
    if (memcmp(C, C2, (size_t)(M * g.ldc) * sizeof(float))) bad++;
    free(A), free(C), free(C2), free(C0);
    return bad;
}

static int64_t compact_suite(wsrc_case *c, int64_t rows, int64_t cols) {
    int64_t bad = 0;
    bad += compact_case(c, KN_N, KN_T, 37, 0, rows, cols, 0.0f);             /* forward */
    bad += compact_case(c, KN_N, KN_T, 13, rows / 3, rows / 2, cols, 1.0f);  /* expert slice */
    bad += compact_case(c, KN_N, KN_N, 45, 0, rows, cols, 1.0f);             /* dgrad */
    bad += compact_case(c, KN_T, KN_N, 20, rows / 4, rows / 2, cols, 0.0f);
    return bad;
}

TEST(compact_bf16_and_nf4_weights) {
    kt_seed(6);
    const int64_t shapes[][2] = {{96, 320}, {70, 100}, {33, 72}, {300, 640}};
    for (int s = 0; s < 4; s++) {
        int64_t rows = shapes[s][0], cols = shapes[s][1];
        wsrc_case b = {0}, n = {0}, d = {0};
        wsrc_bf16(&b, rows, cols);
        wsrc_nf4(&n, rows, cols, false);
        wsrc_nf4(&d, rows, cols, true);
        CHECK_EQ_INT(compact_suite(&b, rows, cols), 0);
        CHECK_EQ_INT(compact_suite(&n, rows, cols), 0);
        CHECK_EQ_INT(compact_suite(&d, rows, cols), 0);
        wsrc_free(&b), wsrc_free(&n), wsrc_free(&d);
    }
}

/* ---- caller-packed B (kn_bpack_fill + kn_sgemm_bpacked, the attention's Kᵀ/Vᵀ) ---- */

/* One column window [n0, n0+nc) of op(B) from the packed panels: bitwise equal to kn_sgemm on
 * the same window (same K blocks, micro-kernel and k order) and within rounding of the double
 * reference. K = 300 and 600 cut into two and three K blocks. */
static int64_t bpacked_case(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, int64_t n0,
                            int64_t nc, float alpha, float beta) {
    gcase g = mk(ta, tb, M, nc, K, 3, alpha, beta);
    int64_t ldb = (tb == KN_T ? K : N) + 5, bsz = tb == KN_T ? N * ldb : K * ldb;
    float *A = kt_randf(a_size(&g), 1.0), *B = kt_randf(bsz, 1.0), *C0 = kt_randf(M * g.ldc, 1.0);
    size_t pf = kn_bpack_floats(K, N);
    float *pk = aligned_alloc(64, (pf * sizeof(float) + 63) / 64 * 64), *C1 = malloc((size_t)(M * g.ldc) * sizeof(float));
    float *C2 = malloc((size_t)(M * g.ldc) * sizeof(float));
    memcpy(C1, C0, (size_t)(M * g.ldc) * sizeof(float));
    memcpy(C2, C0, (size_t)(M * g.ldc) * sizeof(float));
    const float *Bw = tb == KN_T ? B + n0 * ldb : B + n0; /* op(B)[:, n0:] */
    kn_bpack bp = kn_bpack_fill(tb, B, ldb, K, N, pk);
    kn_sgemm_bpacked(ta, M, n0, nc, alpha, A, g.lda, &bp, beta, C1, g.ldc);
    kn_sgemm(ta, tb, M, nc, K, alpha, A, g.lda, Bw, ldb, beta, C2, g.ldc);
    int64_t bad = memcmp(C1, C2, (size_t)(M * g.ldc) * sizeof(float)) != 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < nc; j++) {
            double acc = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = ta == KN_T ? A[k * g.lda + i] : A[i * g.lda + k];
                double b = tb == KN_T ? Bw[j * ldb + k] : Bw[k * ldb + j];
                acc += a * b, mag += fabs(a * b);
            }
            double want = alpha * acc + beta * C0[i * g.ldc + j];
            double tol = 1e-5 * (fabs(alpha) * mag + fabs(beta * C0[i * g.ldc + j])) + 1e-30;
            bad += fabs(C1[i * g.ldc + j] - want) > tol;
        }
    free(A), free(B), free(C0), free(C1), free(C2), free(pk);
    return bad;
}

TEST(caller_packed_b_matches_sgemm_bitwise) {
    if (strcmp(kn_sgemm_impl(), "avx512") != 0) SKIP("own SGEMM not active (no AVX-512 or NEWT_GEMM=blas)");
    kt_seed(31);
    CHECK_EQ_INT(bpacked_case(KN_N, KN_T, 100, 300, 64, 0, 300, 1.0f, 0.0f), 0);
    CHECK_EQ_INT(bpacked_case(KN_N, KN_T, 100, 300, 64, 64, 100, 1.0f, 0.0f), 0);
    CHECK_EQ_INT(bpacked_case(KN_N, KN_T, 13, 300, 64, 288, 12, -0.5f, 0.75f), 0);
    CHECK_EQ_INT(bpacked_case(KN_N, KN_T, 200, 1100, 64, 32, 1068, 1.0f, 0.0f), 0); /* nc > NC */
    CHECK_EQ_INT(bpacked_case(KN_N, KN_T, 40, 97, 300, 32, 1, 1.0f, 0.0f), 0);
    CHECK_EQ_INT(bpacked_case(KN_T, KN_T, 40, 97, 600, 64, 33, 2.0f, 1.0f), 0);
    CHECK_EQ_INT(bpacked_case(KN_N, KN_N, 30, 130, 72, 96, 34, 1.0f, 0.0f), 0);
    CHECK(kn_bpack_floats(64, 33) == 64 * 64); /* 33 columns: two 32-wide panels */
}

/* op(A) = A read in place (the path for blocks of at most two B panels) against the packed
 * copy: same FMAs in the same order, so bitwise equal; row counts off the 12-row micro-tile
 * and a partial last panel. */
TEST(direct_a_equals_packed_a_bitwise) {
    if (strcmp(kn_sgemm_impl(), "avx512") != 0) SKIP("own SGEMM not active (no AVX-512 or NEWT_GEMM=blas)");
    enum { M = 29, K = 70, N = 40, LDA = 75, LDC = 41 };
    kt_seed(17);
    float *A = kt_randf(M * LDA, 1.0), *Bm = kt_randf(K * N, 1.0), *C0 = kt_randf(M * LDC, 1.0);
    float *pb = aligned_alloc(64, 64 * K * sizeof(float)), *pa = aligned_alloc(64, (36 * K * sizeof(float) + 63) / 64 * 64);
    float *C1 = malloc(M * LDC * sizeof(float)), *C2 = malloc(M * LDC * sizeof(float));
    kn_bpack bp = kn_bpack_fill(KN_N, Bm, N, K, N, pb);
    CHECK(bp.nkb == 1 && bp.np == 2);
    memcpy(C1, C0, M * LDC * sizeof(float)), memcpy(C2, C0, M * LDC * sizeof(float));
    kn_cupd u = {0.5f, 2.0f, false};
    kn_pack_a(A, LDA, KN_N, 0, M, 0, K, pa);
    kn_macro(pa, pb, M, 0, 2, N, K, C1, LDC, u);
    kn_macro_direct(A, LDA, pb, M, 0, 2, N, K, C2, LDC, u);
    CHECK(memcmp(C1, C2, M * LDC * sizeof(float)) == 0);
    double md = 0; /* and right: C = 0.5·A·B + 2·C0 */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) acc += (double)A[i * LDA + k] * Bm[k * N + j];
            md = fmax(md, fabs(C2[i * LDC + j] - (0.5 * acc + 2.0 * C0[i * LDC + j])));
        }
    CHECK(md < 1e-4);
    for (int i = 0; i < M; i++) CHECK(C2[i * LDC + N] == C0[i * LDC + N]); /* past N untouched */
    free(A), free(Bm), free(C0), free(pb), free(pa), free(C1), free(C2);
}

/* ---- narrow products read in place (kn_sgemm_narrow, attention's P·V, dS·K, dSᵀ·Q, Pᵀ·dO) ----
 * Against kn_sgemm on the same operands: bitwise equal (same K blocks, same FMA chain per
 * element), and within rounding of the double reference; C outside [M, N] untouched. N off
 * the 16-lane vectors and past one 64-column strip, M off the 6-row micro-tile, K = 600 cut
 * into three K blocks, both op(A), beta 0 / 1 / other. */
static int64_t narrow_case(kn_trans ta, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
    gcase g = mk(ta, KN_N, M, N, K, 7, alpha, beta);
    float *A = kt_randf(a_size(&g), 1.0), *B = kt_randf(b_size(&g), 1.0), *C0 = c_init(&g);
    size_t cb = (size_t)(M * g.ldc) * sizeof(float);
    float *C1 = malloc(cb), *C2 = malloc(cb);
    memcpy(C1, C0, cb), memcpy(C2, C0, cb);
    kn_sgemm_narrow(ta, M, N, K, alpha, A, g.lda, B, g.ldb, beta, C1, g.ldc);
    kn_sgemm(ta, KN_N, M, N, K, alpha, A, g.lda, B, g.ldb, beta, C2, g.ldc);
    int64_t bad = (memcmp(C1, C2, cb) != 0) + check_c(&g, A, B, C0, C1, true);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = N; j < g.ldc; j++) bad += memcmp(&C1[i * g.ldc + j], &C0[i * g.ldc + j], sizeof(float)) != 0;
    free(A), free(B), free(C0), free(C1), free(C2);
    return bad;
}

TEST(narrow_in_place_matches_sgemm_bitwise) {
    if (strcmp(kn_sgemm_impl(), "avx512") != 0) SKIP("own SGEMM not active (no AVX-512 or NEWT_GEMM=blas)");
    kt_seed(41);
    static const int64_t Ms[] = {1, 5, 6, 7, 128, 131}, Ns[] = {1, 17, 32, 40, 64, 100};
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++)
            for (size_t j = 0; j < sizeof Ns / sizeof Ns[0]; j++) {
                kn_trans ta = t ? KN_T : KN_N;
                int64_t K = (int64_t)(i + j) % 3 == 0 ? 600 : 37 + (int64_t)(5 * i + j);
                float beta = j % 3 == 0 ? 0.0f : j % 3 == 1 ? 1.0f : 0.5f;
                CHECK_EQ_INT(narrow_case(ta, Ms[i], Ns[j], K, i % 2 ? -0.5f : 1.0f, beta), 0);
            }
}

/* ---- causal skipping (attention's tiles past the diagonal) ----
 * kn_sgemm_bpacked_lower against kn_sgemm_bpacked: every C element on or below the diagonal
 * j ≤ i + diag bitwise equal (the skipped micro-tiles lie wholly above it), for diagonals
 * through the middle, at the edges and off the tile grid, M past one MC block. */
static int64_t lower_case(int64_t M, int64_t nc, int64_t K, int64_t diag, float beta) {
    int64_t N = nc + 40, n0 = 32, lda = K + 3, ldc = nc + 7;
    float *A = kt_randf(M * lda, 1.0), *B = kt_randf(N * K, 1.0), *C0 = kt_randf(M * ldc, 1.0);
    float *pk = aligned_alloc(64, (kn_bpack_floats(K, N) * sizeof(float) + 63) / 64 * 64);
    float *C1 = malloc((size_t)(M * ldc) * sizeof(float)), *C2 = malloc((size_t)(M * ldc) * sizeof(float));
    memcpy(C1, C0, (size_t)(M * ldc) * sizeof(float)), memcpy(C2, C0, (size_t)(M * ldc) * sizeof(float));
    kn_bpack bp = kn_bpack_fill(KN_T, B, K, K, N, pk);
    kn_sgemm_bpacked_lower(KN_N, M, n0, nc, 1.0f, A, lda, &bp, beta, C1, ldc, diag);
    kn_sgemm_bpacked(KN_N, M, n0, nc, 1.0f, A, lda, &bp, beta, C2, ldc);
    int64_t bad = 0, kept = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < nc && j <= i + diag; j++, kept++)
            bad += memcmp(&C1[i * ldc + j], &C2[i * ldc + j], sizeof(float)) != 0;
    free(A), free(B), free(C0), free(C1), free(C2), free(pk);
    return kept ? bad : -1;
}

TEST(lower_skips_only_past_the_diagonal_bitwise) {
    if (strcmp(kn_sgemm_impl(), "avx512") != 0) SKIP("own SGEMM not active (no AVX-512 or NEWT_GEMM=blas)");
    kt_seed(43);
    CHECK_EQ_INT(lower_case(128, 256, 64, 128, 0.0f), 0);
    CHECK_EQ_INT(lower_case(128, 300, 64, 172, 0.0f), 0);
    CHECK_EQ_INT(lower_case(131, 131, 64, 0, 0.0f), 0);
    CHECK_EQ_INT(lower_case(250, 270, 300, 20, 1.0f), 0); /* two K blocks, two MC blocks */
    CHECK_EQ_INT(lower_case(7, 90, 64, -5, 0.5f), 0);
    CHECK_EQ_INT(lower_case(40, 64, 64, 1000, 0.0f), 0);
}

/* kn_sgemm_narrow_band against kn_sgemm_narrow on an op(A) that is zero outside the band:
 * C bitwise equal (the skipped steps add exact zeros), both op(A), K past one K block and one
 * slice (partial sums), bands that leave whole micro-tiles and K blocks with nothing; and the
 * same with B given as strips (kn_strips64_fill, kn_sgemm_narrow_strips). */
static int64_t band_case(kn_trans ta, int64_t M, int64_t N, int64_t K, kn_band band, float beta) {
    gcase g = mk(ta, KN_N, M, N, K, 7, 1.0f, beta);
    float *A = kt_randf(a_size(&g), 1.0), *B = kt_randf(b_size(&g), 1.0), *C0 = c_init(&g);
    for (int64_t i = 0; i < M; i++) /* op(A)(i, k) = 0 outside i − lo ≤ k ≤ i + hi */
        for (int64_t k = 0; k < K; k++)
            if (k < i - band.lo || k > i + band.hi) A[ta == KN_N ? i * g.lda + k : k * g.lda + i] = 0.0f;
    size_t cb = (size_t)(M * g.ldc) * sizeof(float);
    float *C1 = malloc(cb), *C2 = malloc(cb);
    memcpy(C1, C0, cb), memcpy(C2, C0, cb);
    kn_sgemm_narrow_band(ta, M, N, K, 1.0f, A, g.lda, B, g.ldb, beta, C1, g.ldc, band);
    kn_sgemm_narrow(ta, M, N, K, 1.0f, A, g.lda, B, g.ldb, beta, C2, g.ldc);
    int64_t bad = memcmp(C1, C2, cb) != 0, stride = K * 64 + 64;
    float *bs = aligned_alloc(64, (size_t)((N + 63) / 64 * stride) * sizeof(float));
    kn_strips64_fill(bs, stride, B, g.ldb, K, N);
    memcpy(C1, C0, cb);
    kn_sgemm_narrow_strips(ta, M, N, K, 1.0f, A, g.lda, bs, stride, beta, C1, g.ldc, band);
    bad += memcmp(C1, C2, cb) != 0;
    free(A), free(B), free(C0), free(C1), free(C2), free(bs);
    return bad;
}

TEST(narrow_band_skips_zeros_bitwise) {
    if (strcmp(kn_sgemm_impl(), "avx512") != 0) SKIP("own SGEMM not active (no AVX-512 or NEWT_GEMM=blas)");
    kt_seed(47);
    const int64_t all = KN_BAND_ALL.lo;
    CHECK_EQ_INT(band_case(KN_N, 128, 64, 600, (kn_band){all, 472}, 0.0f), 0); /* P·V, last tile */
    CHECK_EQ_INT(band_case(KN_N, 96, 64, 300, (kn_band){all, 100}, 1.0f), 0);
    CHECK_EQ_INT(band_case(KN_N, 131, 40, 131, (kn_band){all, 0}, 0.5f), 0);
    CHECK_EQ_INT(band_case(KN_T, 600, 64, 128, (kn_band){472, all}, 1.0f), 0); /* dSᵀ·Q */
    CHECK_EQ_INT(band_case(KN_T, 300, 64, 96, (kn_band){204, all}, 0.0f), 0);
    CHECK_EQ_INT(band_case(KN_T, 131, 17, 131, (kn_band){0, all}, 1.0f), 0);
    CHECK_EQ_INT(band_case(KN_N, 50, 64, 400, (kn_band){all, -60}, 1.0f), 0); /* all zero */
    CHECK_EQ_INT(band_case(KN_N, 70, 192, 300, (kn_band){all, 150}, 1.0f), 0); /* three strips */
    CHECK_EQ_INT(band_case(KN_N, 33, 100, 90, KN_BAND_ALL, 0.0f), 0);
}

TEST(blas_path_same_semantics) {
    setenv("NEWT_GEMM", "blas", 1);
    CHECK_EQ_STR(kn_sgemm_impl(), "blas");
    srand(13);
    kt_seed(8);
    int64_t bad = 0;
    for (int t = 0; t < 4; t++)
        for (int n = 0; n < 6; n++) {
            gcase g = random_case(t);
            bad += run_case(&g, true);
        }
    wsrc_case d = {0};
    wsrc_nf4(&d, 90, 192, true);
    bad += compact_suite(&d, 90, 192);
    wsrc_free(&d);
    wsrc_case b = {0};
    wsrc_bf16(&b, 50, 70);
    bad += compact_suite(&b, 50, 70);
    wsrc_free(&b);
    unsetenv("NEWT_GEMM");
    CHECK_EQ_INT(bad, 0);
}

TEST(newt_gemm_env_selects_blas) {
    setenv("NEWT_GEMM", "blas", 1);
    CHECK_EQ_STR(kn_sgemm_impl(), "blas");
    unsetenv("NEWT_GEMM");
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) SKIP("no AVX-512 on this CPU");
    CHECK_EQ_STR(kn_sgemm_impl(), "avx512");
}

TEST_MAIN()
