/* Attention at lengths that use the large query tiles, the fused row kernels and the in-place
 * narrow products: causal attention forward and backward against a naive double-precision
 * reference written from the textbook formulas (P = softmax(qscale·Q·Kᵀ), O = P·V, dV = Pᵀ·G,
 * dS = P ⊙ (G·Vᵀ − rowsum(P ⊙ G·Vᵀ)), dQ = qscale·dS·K, dK = (qscale·dS)ᵀ·Q), at T not a multiple
 * of the tile; and the row kernels bit for bit against the plain sequence of steps built here
 * from the public kernels (scale, kn_max, kn_exp_shift, kn_sum_f64, normalise). */
#include <omp.h>

#include "kernels/kernels.h"
#include "kernels/kn_attn_rows.h"
#include "kn_testutil.h"
#include "test.h"

typedef struct {
    int64_t T, H, dqk, dv;
    const int32_t *seg; /* optional: samples (packing) */
    const uint8_t *keep; /* optional: padding */
} ref_shape;

static bool visible(const ref_shape *r, int64_t t, int64_t s) {
    return s <= t && (!r->keep || r->keep[s]) && (!r->seg || r->seg[s] == r->seg[t]);
}

/* One head h of the naive reference: o, and dq, dk, dv from the output gradient g. Layout:
 * token-major, heads inside ([T, H, d]). */
static void ref_head(const ref_shape *r, int64_t h, const float *q, const float *k, const float *v,
                     const float *g, const float *qs, double *o, double *dq, double *dk, double *dv) {
    int64_t T = r->T;
    double *P = calloc((size_t)(T * T), sizeof(double)), *dP = calloc((size_t)(T * T), sizeof(double));
#define Q_(t, j) q[((t) * r->H + h) * r->dqk + (j)]
#define K_(t, j) k[((t) * r->H + h) * r->dqk + (j)]
#define V_(t, j) v[((t) * r->H + h) * r->dv + (j)]
#define G_(t, j) g[((t) * r->H + h) * r->dv + (j)]
    for (int64_t t = 0; t < T; t++) {
        double m = -INFINITY, sum = 0;
        for (int64_t s = 0; s <= t; s++) {
            if (!visible(r, t, s)) continue;
            double d = 0;
            for (int64_t j = 0; j < r->dqk; j++) d += (double)Q_(t, j) * K_(s, j);
            P[t * T + s] = qs[t] * d;
            m = fmax(m, P[t * T + s]);
        }
        for (int64_t s = 0; s <= t; s++)
            if (visible(r, t, s)) sum += P[t * T + s] = exp(P[t * T + s] - m);
        for (int64_t s = 0; s <= t; s++) P[t * T + s] /= sum;
        for (int64_t j = 0; j < r->dv; j++) {
            double acc = 0;
            for (int64_t s = 0; s <= t; s++) acc += P[t * T + s] * V_(s, j);
            o[(t * r->H + h) * r->dv + j] = acc;
        }
        double rs = 0;
        for (int64_t s = 0; s <= t; s++) {
            if (!visible(r, t, s)) continue;
            double d = 0;
            for (int64_t j = 0; j < r->dv; j++) d += (double)G_(t, j) * V_(s, j);
            dP[t * T + s] = d;
            rs += P[t * T + s] * d;
        }
        for (int64_t s = 0; s <= t; s++) dP[t * T + s] = qs[t] * P[t * T + s] * (dP[t * T + s] - rs);
    }
    for (int64_t t = 0; t < T; t++)
        for (int64_t s = 0; s <= t; s++) {
            double ds = dP[t * T + s], p = P[t * T + s];
            for (int64_t j = 0; j < r->dqk; j++) {
                dq[(t * r->H + h) * r->dqk + j] += ds * K_(s, j);
                dk[(s * r->H + h) * r->dqk + j] += ds * Q_(t, j);
            }
            for (int64_t j = 0; j < r->dv; j++) dv[(s * r->H + h) * r->dv + j] += p * G_(t, j);
        }
#undef Q_
#undef K_
#undef V_
#undef G_
    free(P), free(dP);
}

/* Largest deviation of the kernel's o, dq, dk, dv from the reference, relative to each
 * tensor's largest magnitude; seg / keep optional. */
static double causal_case(int64_t T, int64_t H, int64_t dqk, int64_t dv, int64_t qt,
                          const int32_t *seg, const uint8_t *keep) {
    ref_shape r = {T, H, dqk, dv, seg, keep};
    int64_t nq = T * H * dqk, nv = T * H * dv;
    kt_seed((uint64_t)T);
    float *q = kt_randf(nq, 1), *k = kt_randf(nq, 1), *v = kt_randf(nv, 1), *g = kt_randf(nv, 1);
    float *qs = kt_zerof(T), *o = kt_zerof(nv), *lse = kt_zerof(H * T);
    float *dq = kt_zerof(nq), *dk = kt_zerof(nq), *dvv = kt_zerof(nv);
    for (int64_t t = 0; t < T; t++) qs[t] = 0.2f + 0.05f * (float)(t % 5);
    kn_attn_shape s = {1, T, H, dqk, dv, H * dqk, dqk, H * dqk, dqk, H * dv, dv, H * dv, dv, qt};
    float *scr = kt_randf((int64_t)omp_get_max_threads() * (int64_t)kn_attention_scratch(&s), 1);
    kn_attention_fwd(o, lse, q, k, v, qs, seg, keep, &s, scr);
    kn_attention_bwd(dq, dk, dvv, g, q, k, v, o, lse, qs, seg, keep, &s, scr);
    double *ro = calloc((size_t)nv, sizeof(double)), *rdq = calloc((size_t)nq, sizeof(double));
    double *rdk = calloc((size_t)nq, sizeof(double)), *rdv = calloc((size_t)nv, sizeof(double));
    for (int64_t h = 0; h < H; h++) ref_head(&r, h, q, k, v, g, qs, ro, rdq, rdk, rdv);
    double e = fmax(fmax(kt_err(o, ro, nv), kt_err(dq, rdq, nq)), fmax(kt_err(dk, rdk, nq), kt_err(dvv, rdv, nv)));
    free(q), free(k), free(v), free(g), free(qs), free(o), free(lse), free(dq), free(dk), free(dvv);
    free(scr), free(ro), free(rdq), free(rdk), free(rdv);
    return e;
}

/* 1030 tokens: eight 128-row tiles and a last one of 6; key rows up to 1030 (tile strides
 * around 1024, vector tails); qk dim 48 and v dim 64 (narrow products of one partial and one
 * full 64-column strip). Then 300 tokens in the 32-row tiles with dims over one strip. */
TEST(attention_causal_long_matches_double_reference) {
    CHECK(causal_case(1030, 1, 48, 64, 0, NULL, NULL) < 2e-5);
    CHECK(causal_case(300, 2, 72, 20, 32, NULL, NULL) < 2e-5);
}

/* The same with packed samples (starting at 0, 300, 301 and 777: inside tiles, off the
 * 32-key panels, one of a single token) and padding after 1000 tokens, as the trainer always
 * passes position ids and the attention mask: rows see [sample start, query] without a
 * per-key mask, padded queries key by key. */
TEST(attention_packed_and_padded_long_matches_double_reference) {
    enum { LT = 1030 };
    int64_t *pos = malloc(LT * sizeof *pos);
    int32_t *seg = malloc(LT * sizeof *seg);
    uint8_t *keep = malloc(LT);
    for (int64_t t = 0; t < LT; t++) {
        pos[t] = t < 300 ? t : t < 301 ? 0 : t < 777 ? t - 301 : t - 777;
        keep[t] = t < 1000;
    }
    kn_segments_from_positions(pos, 1, LT, seg);
    CHECK(seg[299] == 0 && seg[300] == 1 && seg[301] == 2 && seg[777] == 3);
    CHECK(causal_case(LT, 1, 48, 64, 0, seg, keep) < 2e-5);
    CHECK(causal_case(LT, 1, 64, 40, 32, seg, keep) < 2e-5);
    free(pos), free(seg), free(keep);
}

/* The plain steps on a copy of a raw score row: what kn_attn_softmax_row must equal bitwise. */
static float plain_softmax(float *r, int64_t n, int64_t lo, int64_t hi, float scale) {
    for (int64_t j = 0; j < n; j++) r[j] = j >= lo && j < hi ? r[j] * scale : -INFINITY;
    float m = kn_max(r, n);
    kn_exp_shift(r, n, m);
    double sum = kn_sum_f64(r, n);
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n; j++) r[j] *= inv;
    return m + (float)log(sum);
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

enum { NMAX = 70 };

/* One row of n keys, visible [lo, hi), forward and backward against the plain steps; masked:
 * the caller has already scaled and masked some keys with −inf (then lo = 0, hi = n). Returns
 * the number of rows that differ in any bit. */
static int64_t row_case(int64_t n, int64_t lo, int64_t hi, bool masked) {
    float raw[NMAX] = {0}, dp[NMAX] = {0}, a[NMAX], b[NMAX], ds[NMAX], ds2[NMAX];
    for (int64_t j = 0; j < n; j++) {
        raw[j] = (float)(kt_uniform() * (j % 7 == 3 ? 400.0 : 4.0));
        dp[j] = (float)kt_uniform();
        if (masked && j % 5 == 2) raw[j] = -INFINITY;
    }
    float scale = masked && n % 2 ? 1.0f : 0.37f, D = 0.25f, qs = 0.37f;
    memcpy(a, raw, sizeof raw), memcpy(b, raw, sizeof raw);
    float la = kn_attn_softmax_row(a, n, lo, hi, scale), lb = plain_softmax(b, n, lo, hi, scale);
    int64_t bad = bits(la) != bits(lb) || memcmp(a, b, (size_t)n * sizeof(float)) != 0;
    /* backward: P = exp(scale·s − lse) and dS = P·(dP − D)·qs, with dP taken as 0 outside
     * [lo, hi): the kernel must not read there (the packed path leaves those scores and dP
     * uncomputed), so its copy holds NaN there */
    memcpy(a, raw, sizeof raw), memcpy(b, raw, sizeof raw);
    memcpy(ds, dp, sizeof dp), memcpy(ds2, dp, sizeof dp);
    for (int64_t j = 0; j < n; j++)
        if (j < lo || j >= hi) a[j] = ds[j] = NAN;
    kn_attn_grad_row(a, ds, n, lo, hi, scale, lb, D, qs);
    for (int64_t j = 0; j < n; j++) b[j] = j >= lo && j < hi ? b[j] * scale : -INFINITY;
    kn_exp_shift(b, n, lb);
    for (int64_t j = 0; j < n; j++) ds2[j] = b[j] * ((j >= lo && j < hi ? ds2[j] : 0.0f) - D) * qs;
    return bad + (memcmp(a, b, (size_t)n * sizeof(float)) != 0 || memcmp(ds, ds2, (size_t)n * sizeof(float)) != 0);
}

/* Rows of 1 to 70 keys (vector tails), visible ranges [lo, hi) starting and ending at many
 * offsets (masked keys of another sample before lo, of later queries from hi), scores spread
 * wide enough that some exp arguments leave the fast range (below −88: the C library's expf
 * path), plus rows already masked with −inf by the caller (lo = 0, hi = n). */
TEST(attention_row_kernels_match_plain_steps_bitwise) {
    kt_seed(3);
    int64_t bad = 0, rows = 0;
    for (int64_t n = 1; n <= NMAX; n++) {
        for (int64_t hi = 1; hi <= n; hi += 1 + n / 9)
            for (int64_t lo = 0; lo < hi; lo += 1 + hi / 3, rows++) bad += row_case(n, lo, hi, false);
        if (n > 1) bad += row_case(n, 0, n, true), rows++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(rows > 1000);
    /* nothing visible: zero row, lse −inf; backward with lse −inf: P = 0, dS = 0 */
    float z[20], d[20];
    for (int j = 0; j < 20; j++) z[j] = -INFINITY, d[j] = 1.0f;
    float l = kn_attn_softmax_row(z, 20, 0, 20, 1.0f);
    CHECK(isinf(l) && l < 0);
    for (int j = 0; j < 20; j++) CHECK(z[j] == 0.0f);
    kn_attn_grad_row(z, d, 20, 0, 20, 1.0f, -INFINITY, 0.5f, 2.0f);
    for (int j = 0; j < 20; j++) CHECK(z[j] == 0.0f && d[j] == 0.0f);
}

TEST_MAIN()
