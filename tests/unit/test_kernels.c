/* Kernels against naive double-precision references: linear, RMSNorm, SwiGLU, RoPE (+YaRN
 * table and Llama-4 temperature from the spec's numbers), router. Backwards are checked
 * against central finite differences of the double reference of L = Σ G ⊙ y. */
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kn_testutil.h"
#include "test.h"

/* ---- linear ---- */
typedef struct { int64_t M, N, K; const double *G; } lin_ctx;
static double lin_loss(const double *x, void *vc) {
    lin_ctx *c = vc;
    const double *X = x, *W = x + c->M * c->K;
    double L = 0;
    for (int64_t i = 0; i < c->M; i++)
        for (int64_t j = 0; j < c->N; j++) {
            double y = 0;
            for (int64_t k = 0; k < c->K; k++) y += X[i * c->K + k] * W[j * c->K + k];
            L += c->G[i * c->N + j] * y;
        }
    return L;
}

TEST(linear_fwd_bwd) {
    kt_seed(1);
    int64_t M = 5, N = 4, K = 6;
    float *x = kt_randf(M * K, 1), *w = kt_randf(N * K, 1), *g = kt_randf(M * N, 1);
    float *y = kt_randf(M * N, 1), *y0 = malloc(M * N * sizeof(float));
    memcpy(y0, y, M * N * sizeof(float));
    kn_linear_fwd(y, x, w, M, N, K, true); /* accumulate onto y0 */
    double *ref = malloc(M * N * sizeof(double));
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = y0[i * N + j];
            for (int64_t k = 0; k < K; k++) s += (double)x[i * K + k] * w[j * K + k];
            ref[i * N + j] = s;
        }
    CHECK(kt_err(y, ref, M * N) < 1e-6);
    float *dx = kt_zerof(M * K), *dw = kt_zerof(N * K);
    kn_linear_bwd(dx, dw, g, x, w, M, N, K);
    double *xx = malloc((M * K + N * K) * sizeof(double));
    for (int64_t i = 0; i < M * K; i++) xx[i] = x[i];
    for (int64_t i = 0; i < N * K; i++) xx[M * K + i] = w[i];
    double *G = kt_tod(g, M * N);
    lin_ctx c = {M, N, K, G};
    double *fd = kt_fd(lin_loss, xx, M * K + N * K, &c, 1e-6);
    CHECK(kt_err(dx, fd, M * K) < 1e-6);
    CHECK(kt_err(dw, fd + M * K, N * K) < 1e-6);
    /* strided: rows of x and y embedded in wider buffers */
    float *xs = kt_randf(M * 9, 1), *ys = kt_zerof(M * 7);
    for (int64_t i = 0; i < M; i++) memcpy(xs + i * 9 + 2, x + i * K, K * sizeof(float));
    kn_linear_fwd_ld(ys + 1, 7, xs + 2, 9, w, K, M, N, K, false);
    double md = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) md = fmax(md, fabs(ys[i * 7 + 1 + j] - (ref[i * N + j] - y0[i * N + j])));
    CHECK(md < 1e-5);
    free(x); free(w); free(g); free(y); free(y0); free(ref); free(dx); free(dw); free(xx);
    free(G); free(fd); free(xs); free(ys);
}

/* ---- RMSNorm ---- */
typedef struct { int64_t n, d; double eps; const double *G; } rms_ctx;
static double rms_loss(const double *v, void *vc) {
    rms_ctx *c = vc;
    const double *x = v, *w = v + c->n * c->d;
    double L = 0;
    for (int64_t i = 0; i < c->n; i++) {
        double ss = 0;
        for (int64_t j = 0; j < c->d; j++) ss += x[i * c->d + j] * x[i * c->d + j];
        double r = 1 / sqrt(ss / c->d + c->eps);
        for (int64_t j = 0; j < c->d; j++) L += c->G[i * c->d + j] * w[j] * x[i * c->d + j] * r;
    }
    return L;
}

static void rms_case(int64_t n, int64_t d, int64_t ld) {
    kt_seed(2);
    float *xs = kt_randf(n * ld, 2), *w = kt_randf(d, 1), *g = kt_randf(n * d, 1);
    float *y = kt_zerof(n * d), *rstd = kt_zerof(n);
    kn_rmsnorm_fwd(y, d, rstd, xs + 3, ld, w, n, d, 1e-6f);
    double *v = malloc((n * d + d) * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) v[i * d + j] = xs[i * ld + 3 + j];
    for (int64_t j = 0; j < d; j++) v[n * d + j] = w[j];
    double *ref = malloc(n * d * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        double ss = 0;
        for (int64_t j = 0; j < d; j++) ss += v[i * d + j] * v[i * d + j];
        for (int64_t j = 0; j < d; j++) ref[i * d + j] = w[j] * v[i * d + j] / sqrt(ss / d + 1e-6);
    }
    CHECK(kt_err(y, ref, n * d) < 1e-6);
    float *dxs = kt_zerof(n * ld), *dw = kt_zerof(d);
    kn_rmsnorm_bwd(dxs + 3, ld, dw, g, d, xs + 3, ld, w, rstd, n, d);
    double *G = kt_tod(g, n * d);
    rms_ctx c = {n, d, 1e-6, G};
    double *fd = kt_fd(rms_loss, v, n * d + d, &c, 1e-6);
    float *dx = kt_zerof(n * d);
    for (int64_t i = 0; i < n; i++) memcpy(dx + i * d, dxs + i * ld + 3, d * sizeof(float));
    CHECK(kt_err(dx, fd, n * d) < 1e-5);
    CHECK(kt_err(dw, fd + n * d, d) < 1e-5);
    CHECK(dxs[0] == 0 && dxs[2] == 0); /* before the first row (offset 3): untouched */
    free(xs); free(w); free(g); free(y); free(rstd); free(v); free(ref); free(dxs); free(dw);
    free(G); free(fd); free(dx);
}

TEST(rmsnorm_fwd_bwd) {
    rms_case(4, 16, 20);
    rms_case(3, 150, 153); /* several 64-column blocks in dw, a partial last one */
}

/* ---- SwiGLU ---- */
typedef struct { int64_t n; const double *G; } sw_ctx;
static double sw_loss(const double *v, void *vc) {
    sw_ctx *c = vc;
    double L = 0;
    for (int64_t i = 0; i < c->n; i++) {
        double a = v[i], b = v[c->n + i];
        L += c->G[i] * a / (1 + exp(-a)) * b;
    }
    return L;
}

TEST(swiglu_fwd_bwd) {
    kt_seed(3);
    int64_t n = 3, f = 5, m = n * f;
    float *ab = kt_randf(n * 2 * f, 3), *g = kt_randf(m, 1), *h = kt_zerof(m);
    kn_swiglu_fwd(h, ab, ab + f, 2 * f, n, f);
    double *v = malloc(2 * m * sizeof(double)), *ref = malloc(m * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            v[i * f + j] = ab[i * 2 * f + j];
            v[m + i * f + j] = ab[i * 2 * f + f + j];
            double a = v[i * f + j];
            ref[i * f + j] = a / (1 + exp(-a)) * v[m + i * f + j];
        }
    CHECK(kt_err(h, ref, m) < 1e-6);
    float *dab = kt_zerof(n * 2 * f);
    kn_swiglu_bwd(dab, dab + f, g, ab, ab + f, 2 * f, n, f);
    double *G = kt_tod(g, m);
    sw_ctx c = {m, G};
    double *fd = kt_fd(sw_loss, v, 2 * m, &c, 1e-6);
    float *da = kt_zerof(m), *db = kt_zerof(m);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            da[i * f + j] = dab[i * 2 * f + j];
            db[i * f + j] = dab[i * 2 * f + f + j];
        }
    CHECK(kt_err(da, fd, m) < 1e-5);
    CHECK(kt_err(db, fd + m, m) < 1e-5);
    free(ab); free(g); free(h); free(v); free(ref); free(dab); free(G); free(fd); free(da); free(db);
}

/* ---- RoPE ---- */
TEST(rope_yarn_inv_freq_matches_spec_table) {
    /* spec §2.4 step 7: d 64, base 1e4, factor 128, L0 8192, beta 32/1 */
    static const double want[32] = {
        1.0, 0.7499, 0.5623, 0.4217, 0.3162, 0.2371, 0.1778, 0.1334, 0.1, 0.07499, 0.05623,
        0.04217, 0.03162, 2.190e-2, 1.507e-2, 1.028e-2, 6.947e-3, 4.637e-3, 3.048e-3, 1.964e-3,
        1.231e-3, 7.425e-4, 4.211e-4, 2.140e-4, 8.413e-5, 5.859e-6, 4.393e-6, 3.295e-6, 2.471e-6,
        1.853e-6, 1.389e-6, 1.042e-6};
    kn_rope_params p = {.theta = 10000, .dim = 64, .yarn = true, .factor = 128, .original_max = 8192,
                        .beta_fast = 32, .beta_slow = 1, .attention_factor = 1};
    float inv[32];
    kn_rope_inv_freq(&p, inv);
    for (int i = 0; i < 32; i++) CHECK_MSG(fabs(inv[i] / want[i] - 1) < 6e-4, "i=%d %g vs %g", i, inv[i], want[i]);
    p.yarn = false; /* plain RoPE: base^(-2i/d) */
    kn_rope_inv_freq(&p, inv);
    for (int i = 0; i < 32; i++) CHECK(fabs(inv[i] - pow(10000, -2.0 * i / 64)) < 1e-6 * pow(10000, -2.0 * i / 64) + 1e-12);
}

TEST(llama4_query_scale_matches_spec) {
    CHECK_NEAR(kn_llama4_qscale(0, 0.1f, 8192), 1.0, 1e-7);
    CHECK_NEAR(kn_llama4_qscale(8191, 0.1f, 8192), 1.0, 1e-7);
    CHECK_NEAR(kn_llama4_qscale(8192, 0.1f, 8192), 1.0693, 1e-4);
    CHECK_NEAR(kn_llama4_qscale(16384, 0.1f, 8192), 1.1099, 1e-4);
    CHECK_NEAR(kn_llama4_qscale(262143, 0.1f, 8192), 1.3466, 1e-4);
    CHECK_NEAR(kn_llama4_qscale(262143, 0.0f, 8192), 1.0, 0);
}

TEST(rope_rotation_fwd_bwd) {
    kt_seed(4);
    int64_t n = 3, nh = 2, hs = 10, off = 4, half = 3, rs = 23;
    float *x = kt_randf(n * rs, 1), *x0 = malloc(n * rs * sizeof(float));
    memcpy(x0, x, n * rs * sizeof(float));
    int64_t pos[3] = {0, 5, 1000};
    float inv[3] = {1.0f, 0.1f, 0.001f}, c[9], s[9];
    kn_rope_table(pos, n, inv, half, 1.0f, c, s);
    kn_rope_fwd(x, n, rs, nh, hs, off, half, c, s);
    double md = 0;
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < nh; h++)
            for (int64_t i = 0; i < half; i++) {
                double th = (double)pos[t] * inv[i];
                int64_t o = t * rs + h * hs + off + 2 * i;
                double a = x0[o], b = x0[o + 1];
                md = fmax(md, fabs(x[o] - (a * cos(th) - b * sin(th))));
                md = fmax(md, fabs(x[o + 1] - (b * cos(th) + a * sin(th))));
            }
    CHECK(md < 2e-6);
    /* outside the rotated slices nothing changes */
    CHECK(x[0] == x0[0] && x[rs - 1] == x0[rs - 1] && x[hs + off - 1] == x0[hs + off - 1]);
    /* backward = transpose: <R·u, v> == <u, Rᵀ·v> */
    float *u = kt_randf(n * rs, 1), *v = kt_randf(n * rs, 1), *ru = malloc(n * rs * 4), *rtv = malloc(n * rs * 4);
    memcpy(ru, u, n * rs * 4);
    memcpy(rtv, v, n * rs * 4);
    kn_rope_fwd(ru, n, rs, nh, hs, off, half, c, s);
    kn_rope_bwd(rtv, n, rs, nh, hs, off, half, c, s);
    double l = 0, r = 0;
    for (int64_t i = 0; i < n * rs; i++) { l += (double)ru[i] * v[i]; r += (double)u[i] * rtv[i]; }
    CHECK_NEAR(l, r, 1e-5);
    free(x); free(x0); free(u); free(v); free(ru); free(rtv);
}

/* ---- router ---- */
typedef struct { int64_t E, k; const int32_t *sel; bool norm; double scale; const double *G; } rt_ctx;
static double rt_loss(const double *z, void *vc) { /* weights of a fixed selection */
    rt_ctx *c = vc;
    double m = z[0], s = 0, ss = 0, L = 0;
    for (int64_t e = 1; e < c->E; e++) m = fmax(m, z[e]);
    for (int64_t e = 0; e < c->E; e++) s += exp(z[e] - m);
    for (int64_t j = 0; j < c->k; j++) ss += exp(z[c->sel[j]] - m) / s;
    for (int64_t j = 0; j < c->k; j++) {
        double p = exp(z[c->sel[j]] - m) / s;
        L += c->G[j] * (c->norm ? p / ss : p) * c->scale;
    }
    return L;
}

static void router_case(bool norm, float scale, int64_t groups, int64_t topg) {
    /* 8 experts; logits chosen so the plain top-2 is {6, 1} but with 2 groups of 4 and
     * topk_group 1 the best group (sum of its two best) is {4..7}: top-2 = {6, 5}. */
    float z[8] = {0.1f, 2.0f, -1.0f, 0.3f, 0.2f, 1.5f, 2.5f, -0.5f};
    kn_router_params p = {8, 2, groups, topg, norm, scale};
    float probs[8], w[2];
    int32_t idx[2];
    kn_router_fwd(z, 1, &p, probs, idx, w);
    double s = 0;
    for (int e = 0; e < 8; e++) s += exp(z[e]);
    for (int e = 0; e < 8; e++) CHECK_NEAR(probs[e], exp(z[e]) / s, 1e-7);
    int32_t want1 = groups > 1 ? 5 : 1;
    CHECK_EQ_INT(idx[0], 6);
    CHECK_EQ_INT(idx[1], want1);
    double p0 = exp(z[6]) / s, p1 = exp(z[want1]) / s;
    double n0 = norm ? p0 / (p0 + p1) : p0, n1 = norm ? p1 / (p0 + p1) : p1;
    CHECK_NEAR(w[0], n0 * scale, 1e-6);
    CHECK_NEAR(w[1], n1 * scale, 1e-6);
    float dw[2] = {0.7f, -1.3f}, dz[8] = {0};
    kn_router_bwd(dz, dw, probs, idx, w, 1, &p);
    double zz[8], G[2] = {0.7, -1.3};
    for (int e = 0; e < 8; e++) zz[e] = z[e];
    rt_ctx c = {8, 2, idx, norm, scale, G};
    double *fd = kt_fd(rt_loss, zz, 8, &c, 1e-6);
    CHECK_MSG(kt_err(dz, fd, 8) < 1e-5, "norm=%d groups=%lld", norm, (long long)groups);
    free(fd);
}

TEST(router_topk_and_backward) {
    router_case(true, 1.0f, 1, 1);
    router_case(false, 2.5f, 1, 1);
    router_case(true, 1.0f, 2, 1);
    router_case(false, 2.5f, 2, 1);
}

TEST(router_ties_pick_lower_index) {
    float z[4] = {1, 3, 3, 3};
    kn_router_params p = {4, 2, 1, 1, true, 1};
    float probs[4], w[2];
    int32_t idx[2];
    kn_router_fwd(z, 1, &p, probs, idx, w);
    CHECK_EQ_INT(idx[0], 1);
    CHECK_EQ_INT(idx[1], 2);
    CHECK_NEAR(w[0], 0.5, 1e-7);
}

TEST(embedding_gather_and_scatter_add) {
    float table[4 * 3], out[3 * 3], dtab[4 * 3] = {0}, g[3 * 3];
    for (int i = 0; i < 12; i++) table[i] = (float)i;
    for (int i = 0; i < 9; i++) g[i] = 1.0f + (float)i;
    int32_t ids[3] = {2, 0, 2};
    kn_embed_fwd(out, table, ids, 3, 3);
    CHECK(out[0] == 6 && out[3] == 0 && out[8] == 8);
    kn_embed_bwd(dtab, g, ids, 3, 3);
    /* row 2 gets rows 0 and 2 of g; row 0 row 1; rows 1, 3 nothing */
    CHECK(dtab[6] == 1 + 7 && dtab[8] == 3 + 9 && dtab[0] == 4 && dtab[3] == 0 && dtab[11] == 0);
    float y[3] = {1, 2, 3};
    kn_axpy(y, 2, table + 3, 3);
    CHECK(y[0] == 7 && y[2] == 13);
}

/* ---- exp: the C library's expf is the reference, bit for bit ---- */
static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Every 4093rd bit pattern (all signs, exponents, NaNs, subnormals) at lengths that leave
 * vector tails, plus the edges of glibc's fast path (|x| near 88, the underflow bounds),
 * ±0, ±inf, and a shift m that is applied in float first. */
TEST(exp_shift_matches_libm_expf_bitwise) {
    enum { N = 4093 };
    static float x[N], y[N];
    int64_t bad = 0, checked = 0;
    for (uint64_t b0 = 0; b0 < (1ull << 32); b0 += (uint64_t)N * 4093) {
        for (int i = 0; i < N; i++) {
            uint32_t u = (uint32_t)(b0 + (uint64_t)i * 4093);
            memcpy(&x[i], &u, sizeof u);
            y[i] = x[i];
        }
        int64_t n = N - (int64_t)(b0 % 7); /* varying tails */
        kn_exp_shift(y, n, 0.0f);
        for (int64_t i = 0; i < n; i++, checked++) {
            float e = expf(x[i]);
            bad += f32_bits(e) != f32_bits(y[i]) && !(isnan(e) && isnan(y[i]));
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(checked > 1000000);
    const float edge[] = {0.0f, -0.0f, INFINITY, -INFINITY, 88.0f, -88.0f, 87.99f, -87.99f,
                          88.72f, 88.73f, -103.9f, -103.98f, -104.0f, -87.34f, -87.33f,
                          -0x1.9d1d9ep6f, -0x1.9fe368p6f, 0x1.62e42ep6f, 1e-40f, -1e-40f,
                          -0.5f, 0.5f, 1.0f, -1.0f, 3.0f, -20.0f, -60.0f, 10.0f};
    enum { NE = sizeof edge / sizeof edge[0] };
    float m = 0.375f, z[NE];
    memcpy(z, edge, sizeof edge);
    kn_exp_shift(z, NE, m);
    for (int i = 0; i < NE; i++) {
        float want = expf(edge[i] - m);
        CHECK_EQ_INT(f32_bits(z[i]), f32_bits(want));
    }
    /* a causal score row: finite values, then masked −inf in the same vectors */
    float row[16], ref[16];
    for (int i = 0; i < 16; i++) row[i] = ref[i] = i < 5 ? 0.25f * (float)i - 1.0f : -INFINITY;
    kn_exp_shift(row, 16, 0.5f);
    for (int i = 0; i < 16; i++) CHECK_EQ_INT(f32_bits(row[i]), f32_bits(expf(ref[i] - 0.5f)));
}

/* Reference: the plain sequential scan and double sum, at lengths around the 8-lane blocks. */
TEST(max_and_double_sum_match_sequential_scan) {
    float x[37];
    uint32_t st = 12345;
    for (int n = 1; n <= 37; n++) {
        for (int i = 0; i < n; i++) {
            st = st * 1664525u + 1013904223u;
            x[i] = (float)((int32_t)(st >> 8) % 100000) * 1e-3f;
            if (i % 5 == 3) x[i] = -INFINITY;
        }
        float m = x[0];
        double s = 0;
        for (int i = 0; i < n; i++) {
            m = x[i] > m ? x[i] : m;
            if (x[i] != -INFINITY) s += x[i];
        }
        CHECK_EQ_INT(f32_bits(kn_max(x, n)), f32_bits(m));
        for (int i = 0; i < n; i++) x[i] = x[i] == -INFINITY ? 0.0f : x[i];
        CHECK_NEAR(kn_sum_f64(x, n), s, 1e-9);
    }
}

TEST_MAIN()
