/* Attention (causal, right padding, packed segments, per-row query scale) and the fused
 * lm_head + cross-entropy against naive double references with explicit T×T / N×V
 * matrices; backwards against central finite differences of those references. */
#include <omp.h>

#include "kernels/kernels.h"
#include "kn_testutil.h"
#include "test.h"

enum { B = 2, H = 2, DQK = 3, DV = 4, TMAX = 80 };
static int64_t T = 6; /* sequence length of the current case (some cases span several query tiles) */

typedef struct {
    const int32_t *seg;
    const uint8_t *keep;
    const double *qs, *G;
    double *out; /* optional: o */
} at_ctx;

static bool ok_(const at_ctx *c, int64_t b, int64_t t, int64_t s) {
    if (s > t) return false;
    if (c->keep && !c->keep[b * T + s]) return false;
    return !c->seg || c->seg[b * T + s] == c->seg[b * T + t];
}

/* x = [q (B·T·H·DQK) | k (same) | v (B·T·H·DV)], token-major, heads inside. */
static double at_loss(const double *x, void *vc) {
    at_ctx *c = vc;
    const double *q = x, *k = x + B * T * H * DQK, *v = k + B * T * H * DQK;
    double L = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++) {
                double sc[TMAX], m = -INFINITY, sum = 0;
                for (int64_t s = 0; s < T; s++) {
                    sc[s] = -INFINITY;
                    if (!ok_(c, b, t, s)) continue;
                    double d = 0;
                    for (int j = 0; j < DQK; j++)
                        d += q[((b * T + t) * H + h) * DQK + j] * k[((b * T + s) * H + h) * DQK + j];
                    sc[s] = c->qs[b * T + t] * d;
                    m = fmax(m, sc[s]);
                }
                for (int64_t s = 0; s < T; s++) sum += sc[s] == -INFINITY ? 0 : exp(sc[s] - m);
                for (int j = 0; j < DV; j++) {
                    double o = 0;
                    for (int64_t s = 0; s < T; s++)
                        if (sc[s] != -INFINITY) o += exp(sc[s] - m) / sum * v[((b * T + s) * H + h) * DV + j];
                    int64_t oi = ((b * T + t) * H + h) * DV + j;
                    if (c->out) c->out[oi] = o;
                    L += c->G[oi] * o;
                }
            }
    return L;
}

static void attn_case(const int32_t *seg, const uint8_t *keep) {
    kt_seed(7);
    int64_t nq = B * T * H * DQK, nv = B * T * H * DV;
    float *q = kt_randf(nq, 1), *k = kt_randf(nq, 1), *v = kt_randf(nv, 1), *g = kt_randf(nv, 1);
    float qs[B * TMAX], *o = kt_zerof(nv), lse[B * H * TMAX];
    for (int i = 0; i < B * T; i++) qs[i] = 0.5f + 0.1f * (float)(i % 3);
    kn_attn_shape s = {B, T, H, DQK, DV, H * DQK, DQK, H * DQK, DQK, H * DV, DV, H * DV, DV, 0};
    float *scr = kt_zerof((int64_t)omp_get_max_threads() * (int64_t)kn_attention_scratch(&s));
    kn_attention_fwd(o, lse, q, k, v, qs, seg, keep, &s, scr);
    double *x = malloc((2 * nq + nv) * sizeof(double)), *ref = calloc(nv, sizeof(double));
    for (int64_t i = 0; i < nq; i++) { x[i] = q[i]; x[nq + i] = k[i]; }
    for (int64_t i = 0; i < nv; i++) x[2 * nq + i] = v[i];
    double *G = kt_tod(g, nv), *QS = kt_tod(qs, B * T);
    at_ctx c = {seg, keep, QS, G, ref};
    at_loss(x, &c);
    CHECK(kt_err(o, ref, nv) < 1e-6);
    c.out = NULL;
    float *dq = kt_zerof(nq), *dk = kt_zerof(nq), *dv = kt_zerof(nv);
    kn_attention_bwd(dq, dk, dv, g, q, k, v, o, lse, qs, seg, keep, &s, scr);
    double *fd = kt_fd(at_loss, x, 2 * nq + nv, &c, 1e-6);
    CHECK(kt_err(dq, fd, nq) < 1e-5);
    CHECK(kt_err(dk, fd + nq, nq) < 1e-5);
    CHECK(kt_err(dv, fd + 2 * nq, nv) < 1e-5);
    free(q); free(k); free(v); free(g); free(o); free(scr); free(x); free(ref); free(G); free(QS);
    free(dq); free(dk); free(dv); free(fd);
}

TEST(attention_causal) { attn_case(NULL, NULL); }

TEST(attention_right_padding) {
    uint8_t keep[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    attn_case(NULL, keep);
}

TEST(attention_packed_segments) {
    int64_t pos[12] = {0, 1, 2, 0, 1, 0, 0, 1, 2, 3, 4, 5};
    int32_t seg[12], want[12] = {0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 0, 0};
    kn_segments_from_positions(pos, B, T, seg);
    for (int i = 0; i < 12; i++) CHECK_EQ_INT(seg[i], want[i]);
    attn_case(seg, NULL);
}

/* 70 tokens: three query tiles; packed samples that straddle tile boundaries, plus padding. */
TEST(attention_long_packed_and_padded) {
    T = 70;
    int64_t pos[B * TMAX];
    uint8_t keep[B * TMAX];
    int32_t seg[B * TMAX];
    for (int64_t t = 0; t < T; t++) {
        pos[t] = t < 30 ? t : t < 41 ? t - 30 : t - 41; /* samples of 30, 11, 29 */
        pos[T + t] = t;
        keep[t] = 1;
        keep[T + t] = t < 52; /* row 1: 52 tokens then padding */
    }
    kn_segments_from_positions(pos, B, T, seg);
    CHECK(seg[29] == 0 && seg[30] == 1 && seg[41] == 2 && seg[T + 69] == 0);
    attn_case(seg, keep);
    T = 6;
}

/* 1100 tokens: the automatic tile (128 rows from 1024 tokens on) against 32-row tiles, with
 * packed samples and padding, forward and backward. Both are the same sums in a different
 * blocking of the GEMMs, so they agree to rounding. */
TEST(attention_large_tiles_match_small_tiles) {
    enum { LT = 1100, LH = 2, LD = 16 };
    int64_t nq = 1 * LT * LH * LD;
    kt_seed(5);
    float *q = kt_randf(nq, 1), *k = kt_randf(nq, 1), *v = kt_randf(nq, 1), *g = kt_randf(nq, 1);
    float *qs = kt_zerof(LT);
    int32_t *seg = malloc(LT * sizeof *seg);
    uint8_t *keep = malloc(LT);
    int64_t *pos = malloc(LT * sizeof *pos);
    for (int64_t t = 0; t < LT; t++) {
        qs[t] = 0.25f, pos[t] = t < 700 ? t : t - 700, keep[t] = t < 1050;
    }
    kn_segments_from_positions(pos, 1, LT, seg);
    float *o[2], *lse[2], *dq[2], *dk[2], *dv[2];
    for (int r = 0; r < 2; r++) {
        kn_attn_shape s = {1, LT, LH, LD, LD, LH * LD, LD, LH * LD, LD, LH * LD, LD, LH * LD, LD, r ? 32 : 0};
        float *scr = kt_zerof((int64_t)omp_get_max_threads() * (int64_t)kn_attention_scratch(&s));
        o[r] = kt_zerof(nq), lse[r] = kt_zerof(LH * LT);
        dq[r] = kt_zerof(nq), dk[r] = kt_zerof(nq), dv[r] = kt_zerof(nq);
        kn_attention_fwd(o[r], lse[r], q, k, v, qs, seg, keep, &s, scr);
        kn_attention_bwd(dq[r], dk[r], dv[r], g, q, k, v, o[r], lse[r], qs, seg, keep, &s, scr);
        free(scr);
    }
    double e = 0, mag = 0;
    for (int64_t i = 0; i < nq; i++) {
        float a[4] = {o[0][i], dq[0][i], dk[0][i], dv[0][i]}, b[4] = {o[1][i], dq[1][i], dk[1][i], dv[1][i]};
        for (int j = 0; j < 4; j++) e = fmax(e, fabs((double)a[j] - b[j])), mag = fmax(mag, fabs((double)b[j]));
    }
    for (int64_t i = 0; i < LH * LT; i++) CHECK(fabsf(lse[0][i] - lse[1][i]) <= 1e-5f * fmaxf(1, fabsf(lse[1][i])));
    CHECK(mag > 0);
    CHECK(e <= 1e-5 * mag);
    for (int r = 0; r < 2; r++) free(o[r]), free(lse[r]), free(dq[r]), free(dk[r]), free(dv[r]);
    free(q); free(k); free(v); free(g); free(qs); free(seg); free(keep); free(pos);
}

/* The own SGEMM reads each head's Kᵀ and Vᵀ packed once (attention scratch) instead of
 * re-packing per query tile; the OpenBLAS path (NEWT_GEMM=blas) makes the plain calls. Both
 * compute the same sums, so they agree to rounding: causal only, padded, and packed samples
 * whose starts are not multiples of the 32-key panels (keys taken from the aligned-down start
 * and masked), over several query tiles; dqk ≠ dv, and dqk = 264 cut into two K blocks. */
static double packed_vs_plain(int64_t LT, int64_t dqk, int64_t dvv, int64_t qt, bool segs, bool pad) {
    enum { LH = 2 };
    int64_t nq = LT * LH * dqk, nv = LT * LH * dvv;
    kt_seed(11);
    float *q = kt_randf(nq, 1), *k = kt_randf(nq, 1), *v = kt_randf(nv, 1), *g = kt_randf(nv, 1);
    float *qs = kt_zerof(LT);
    int32_t *seg = malloc((size_t)LT * sizeof *seg);
    uint8_t *keep = malloc((size_t)LT);
    int64_t *pos = malloc((size_t)LT * sizeof *pos);
    for (int64_t t = 0; t < LT; t++) { /* samples start at 0, 45, 170 (45, 170: unaligned) */
        qs[t] = 0.3f, keep[t] = t < LT - 7, pos[t] = t < 45 ? t : t < 170 ? t - 45 : t - 170;
    }
    kn_segments_from_positions(pos, 1, LT, seg);
    kn_attn_shape s = {1, LT, LH, dqk, dvv, LH * dqk, dqk, LH * dqk, dqk, LH * dvv, dvv, LH * dvv, dvv, qt};
    float *o[2], *lse[2], *dq[2], *dk[2], *dv[2];
    const char *saved = getenv("NEWT_GEMM");
    char *keep_env = saved ? strdup(saved) : NULL;
    for (int r = 0; r < 2; r++) {
        if (r == 0) setenv("NEWT_GEMM", "blas", 1);
        else if (keep_env) setenv("NEWT_GEMM", keep_env, 1);
        else unsetenv("NEWT_GEMM");
        float *scr = kt_randf((int64_t)omp_get_max_threads() * (int64_t)kn_attention_scratch(&s), 1);
        o[r] = kt_zerof(nv), lse[r] = kt_zerof(LH * LT);
        dq[r] = kt_zerof(nq), dk[r] = kt_zerof(nq), dv[r] = kt_zerof(nv);
        kn_attention_fwd(o[r], lse[r], q, k, v, qs, segs ? seg : NULL, pad ? keep : NULL, &s, scr);
        kn_attention_bwd(dq[r], dk[r], dv[r], g, q, k, v, o[r], lse[r], qs, segs ? seg : NULL,
                         pad ? keep : NULL, &s, scr);
        free(scr);
    }
    free(keep_env);
    double e = 0, mag = 0;
    const float *x[2][4] = {{o[0], dq[0], dk[0], dv[0]}, {o[1], dq[1], dk[1], dv[1]}};
    int64_t n[4] = {nv, nq, nq, nv};
    for (int j = 0; j < 4; j++)
        for (int64_t i = 0; i < n[j]; i++)
            e = fmax(e, fabs((double)x[0][j][i] - x[1][j][i])), mag = fmax(mag, fabs((double)x[0][j][i]));
    for (int64_t i = 0; i < LH * LT; i++) {
        bool same_inf = isinf(lse[0][i]) && lse[0][i] == lse[1][i];
        if (!same_inf) e = fmax(e, fabs((double)lse[0][i] - lse[1][i]) / fmax(1, fabs((double)lse[0][i])) * mag);
    }
    for (int r = 0; r < 2; r++) free(o[r]), free(lse[r]), free(dq[r]), free(dk[r]), free(dv[r]);
    free(q); free(k); free(v); free(g); free(qs); free(seg); free(keep); free(pos);
    return mag > 0 ? e / mag : INFINITY;
}

TEST(attention_packed_keys_match_plain_gemms) {
    if (strcmp(kn_sgemm_impl(), "avx512") != 0) SKIP("own SGEMM off (no AVX-512 or NEWT_GEMM=blas)");
    CHECK(packed_vs_plain(300, 24, 16, 32, false, false) < 1e-5);
    CHECK(packed_vs_plain(300, 24, 16, 32, false, true) < 1e-5);
    CHECK(packed_vs_plain(300, 24, 16, 32, true, true) < 1e-5);
    CHECK(packed_vs_plain(300, 16, 24, 128, true, false) < 1e-5);
    CHECK(packed_vs_plain(100, 264, 8, 32, true, true) < 1e-5);
}

TEST(attention_fully_masked_row_is_zero) {
    uint8_t keep[12] = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}; /* row 0, t = 0 sees nothing */
    float q[12 * H * DQK], k[12 * H * DQK], v[12 * H * DV], o[12 * H * DV], lse[B * H * 6], qs[12];
    for (size_t i = 0; i < sizeof q / 4; i++) q[i] = k[i] = 0.1f * (float)i;
    for (size_t i = 0; i < sizeof v / 4; i++) v[i] = 1;
    for (int i = 0; i < B * T; i++) qs[i] = 1;
    kn_attn_shape s = {B, T, H, DQK, DV, H * DQK, DQK, H * DQK, DQK, H * DV, DV, H * DV, DV, 0};
    float *scr = kt_zerof((int64_t)omp_get_max_threads() * (int64_t)kn_attention_scratch(&s));
    kn_attention_fwd(o, lse, q, k, v, qs, NULL, keep, &s, scr);
    for (int j = 0; j < H * DV; j++) CHECK(o[j] == 0);
    CHECK(isinf(lse[0]) && lse[0] < 0);
    CHECK_NEAR(o[H * DV], 1.0, 1e-6); /* t = 1 attends only key 1: v = 1 */
    free(scr);
}

/* ---- fused lm_head + cross-entropy ---- */
enum { XN = 7, XD = 5, XV = 11 };
typedef struct { const int32_t *tg; double scale; } xe_ctx;
static double xe_loss(const double *x, void *vc) {
    xe_ctx *c = vc;
    const double *h = x, *w = x + XN * XD;
    double L = 0;
    for (int i = 0; i < XN; i++) {
        if (c->tg[i] < 0) continue;
        double l[XV], m = -INFINITY, s = 0;
        for (int v = 0; v < XV; v++) {
            l[v] = 0;
            for (int d = 0; d < XD; d++) l[v] += h[i * XD + d] * w[v * XD + d];
            m = fmax(m, l[v]);
        }
        for (int v = 0; v < XV; v++) s += exp(l[v] - m);
        L += log(s) + m - l[c->tg[i]];
    }
    return L * c->scale;
}

TEST(lmhead_xent_fused) {
    kt_seed(9);
    float *h = kt_randf(XN * XD, 1), *w = kt_randf(XV * XD, 1);
    int32_t tg[XN] = {3, -1, 0, 10, 5, -1, 7};
    float *dh = kt_zerof(XN * XD), *dw = kt_zerof(XV * XD), *logits = kt_zerof(XN * XV);
    float *scr = kt_zerof(3 * XV);
    kn_xent_result r = kn_lmhead_xent(h, w, tg, XN, XD, XV, 1.0f / 5, dh, dw, logits, scr, 3);
    CHECK_EQ_INT(r.count, 5);
    double *x = malloc((XN * XD + XV * XD) * sizeof(double));
    for (int i = 0; i < XN * XD; i++) x[i] = h[i];
    for (int i = 0; i < XV * XD; i++) x[XN * XD + i] = w[i];
    xe_ctx c = {tg, 1.0};
    CHECK_NEAR(r.loss_sum, xe_loss(x, &c), 1e-5);
    double md = 0;
    for (int i = 0; i < XN; i++)
        for (int v = 0; v < XV; v++) {
            double l = 0;
            for (int d = 0; d < XD; d++) l += x[i * XD + d] * x[XN * XD + v * XD + d];
            md = fmax(md, fabs(logits[i * XV + v] - l));
        }
    CHECK(md < 1e-6);
    c.scale = 1.0 / 5;
    double *fd = kt_fd(xe_loss, x, XN * XD + XV * XD, &c, 1e-6);
    CHECK(kt_err(dh, fd, XN * XD) < 1e-5);
    CHECK(kt_err(dw, fd + XN * XD, XV * XD) < 1e-5);
    for (int d = 0; d < XD; d++) CHECK(dh[1 * XD + d] == 0); /* ignored row: no gradient */
    /* without gradients (no dh/dw): same loss; scratch-only */
    kn_xent_result r2 = kn_lmhead_xent(h, w, tg, XN, XD, XV, 1, NULL, NULL, NULL, scr, 2);
    CHECK_NEAR(r2.loss_sum, r.loss_sum, 1e-9);
    CHECK_EQ_INT(r2.count, 5);
    free(h); free(w); free(dh); free(dw); free(logits); free(scr); free(x); free(fd);
}

/* The double reference of the frozen head: the summed loss, and when g is given the largest
 * |dh − reference| into *err and the largest |reference| into *mag (rows with a target < 0
 * must be zero). */
static double xent_ref(const float *h, const float *w, const int32_t *tg, int n, int D, int V,
                       double scale, const float *dh, double *err, double *mag) {
    double L = 0, *l = malloc((size_t)V * sizeof(double));
    for (int i = 0; i < n; i++) {
        if (tg[i] < 0) {
            for (int d = 0; dh && d < D; d++) CHECK(dh[i * D + d] == 0);
            continue;
        }
        double m = -INFINITY, s = 0;
        for (int v = 0; v < V; v++) {
            l[v] = 0;
            for (int d = 0; d < D; d++) l[v] += (double)h[i * D + d] * w[v * D + d];
            m = fmax(m, l[v]);
        }
        for (int v = 0; v < V; v++) s += exp(l[v] - m);
        L += log(s) + m - l[tg[i]];
        for (int v = 0; dh && v < V; v++) l[v] = exp(l[v] - m) / s - (v == tg[i]);
        for (int d = 0; dh && d < D; d++) {
            double g = 0;
            for (int v = 0; v < V; v++) g += l[v] * w[v * D + d];
            g *= scale;
            *err = fmax(*err, fabs(dh[i * D + d] - g));
            *mag = fmax(*mag, fabs(g));
        }
    }
    free(l);
    return L;
}

/* Frozen head (no dw, no logits): the online vocabulary-block path, all rows at once. V = 1000
 * with a scratch of 3 rows × V leaves room for blocks of 288 vocabulary rows (three and a
 * partial one); the later vocabulary rows are larger so the running max rises block after
 * block and the rescaling is exercised. Checked against the double softmax gradient and against the
 * token-chunked path (taken when dw is given). */
TEST(lmhead_xent_frozen_online_blocks) {
    enum { N = 9, D = 16, V = 1000 };
    kt_seed(21);
    float *h = kt_randf(N * D, 1), *w = kt_randf(V * D, 1);
    for (int v = 0; v < V; v++)
        for (int d = 0; d < D; d++) w[v * D + d] *= 0.5f + 2.0f * (float)v / V;
    int32_t tg[N] = {3, -1, 999, 511, 256, 0, -1, 700, 255};
    float *dh = kt_zerof(N * D), *dh2 = kt_zerof(N * D), *dw = kt_zerof(V * D), *scr = kt_zerof(3 * V);
    kn_xent_result r = kn_lmhead_xent(h, w, tg, N, D, V, 0.25f, dh, NULL, NULL, scr, 3);
    kn_xent_result r2 = kn_lmhead_xent(h, w, tg, N, D, V, 0.25f, dh2, dw, NULL, scr, 3);
    CHECK_EQ_INT(r.count, 7);
    CHECK_EQ_INT(r2.count, 7);
    double err = 0, mag = 0, L = xent_ref(h, w, tg, N, D, V, 0.25, dh, &err, &mag);
    CHECK(fabs(r.loss_sum - L) < 1e-5 * fabs(L));
    CHECK(fabs(r2.loss_sum - L) < 1e-5 * fabs(L));
    CHECK(err < 1e-5 * mag);
    for (int i = 0; i < N * D; i++) CHECK(isfinite(dh[i]));
    double d12 = 0;
    for (int i = 0; i < N * D; i++) d12 = fmax(d12, fabs(dh[i] - dh2[i]));
    CHECK(d12 < 1e-5 * mag);
    /* loss only (no dh): the same loss */
    kn_xent_result r3 = kn_lmhead_xent(h, w, tg, N, D, V, 1, NULL, NULL, NULL, scr, 3);
    CHECK_NEAR(r3.loss_sum, r.loss_sum, 1e-9 * fabs(L));
    free(h); free(w); free(dh); free(dh2); free(dw); free(scr);
}

/* The online path against the double reference, and the same bits with 1, 2 and 3 threads
 * (the split of the rows never changes a row's sums) on the own SGEMM, which promises them
 * (OpenBLAS may round edge tiles differently). Scratch of `ch` rows × V. */
static void frozen_threads_case(int n, int D, int V, int ch) {
    float *h = kt_randf((int64_t)n * D, 1), *w = kt_randf((int64_t)V * D, 0.7f);
    float *scr = kt_zerof((int64_t)ch * V);
    int32_t *tg = malloc((size_t)n * sizeof(int32_t));
    int ignored = 0;
    for (int i = 0; i < n; i++) {
        tg[i] = i % 37 == 5 ? -1 : (int32_t)((i * 7919) % V);
        ignored += tg[i] < 0;
    }
    int saved = omp_get_max_threads();
    float *dh[3];
    kn_xent_result r[3];
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(t + 1);
        dh[t] = kt_zerof((int64_t)n * D);
        r[t] = kn_lmhead_xent(h, w, tg, n, D, V, 0.5f, dh[t], NULL, NULL, scr, ch);
    }
    omp_set_num_threads(saved);
    double err = 0, mag = 0, L = xent_ref(h, w, tg, n, D, V, 0.5, dh[0], &err, &mag);
    CHECK_EQ_INT(r[0].count, n - ignored);
    CHECK(fabs(r[0].loss_sum - L) < 1e-5 * fabs(L));
    CHECK(err < 1e-5 * mag);
    bool own = strcmp(kn_sgemm_impl(), "avx512") == 0;
    for (int t = 1; t < 3 && own; t++) {
        CHECK(r[t].loss_sum == r[0].loss_sum);
        CHECK(memcmp(dh[t], dh[0], (size_t)n * D * sizeof(float)) == 0);
    }
    for (int t = 0; t < 3; t++) free(dh[t]);
    free(h); free(w); free(scr); free(tg);
}

/* All rows at once: 300 rows, V 2500 in blocks of 480 vocabulary rows (five and a partial). */
TEST(lmhead_xent_frozen_all_rows_any_thread_count) {
    kt_seed(5);
    frozen_threads_case(300, 24, 2500, 64);
}

/* From 2048 rows, tiles of 96 rows per thread: 2100 rows (11 tiles per thread with 2), V 700
 * in blocks of 288, 288 and 124 (a scratch of 83 rows × V). */
TEST(lmhead_xent_frozen_tiles_any_thread_count) {
    kt_seed(6);
    frozen_threads_case(2100, 16, 700, 83);
}

TEST_MAIN()
