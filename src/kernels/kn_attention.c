/* Causal attention with padding and packing masks, flash-style memory: the forward keeps only
 * the log-sum-exp per query row; the backward recomputes each row's probabilities from it.
 * Work is split over (sequence, head) pairs, so the dk/dv rows a thread accumulates into are
 * its own (heads must not alias in dk/dv). Scratch per thread: one row of T scores. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"

size_t kn_attention_scratch(const kn_attn_shape *s) { return (size_t)s->T + 16; }

static inline float dotf(const float *a, const float *b, int64_t n) {
    float acc = 0;
    for (int64_t i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}

static inline bool allowed(const int32_t *seg, const uint8_t *keep, int64_t row0, int64_t t,
                           int64_t s) {
    if (keep && !keep[row0 + s]) return false;
    return !seg || seg[row0 + s] == seg[row0 + t];
}

/* Scores of query row t into sc[0..t]; −inf where masked. Returns the max. */
static float row_scores(float *sc, const float *qt, float qs, const float *kb,
                        const kn_attn_shape *sh, const int32_t *seg, const uint8_t *keep,
                        int64_t row0, int64_t t) {
    float m = -INFINITY;
    for (int64_t s = 0; s <= t; s++) {
        if (!allowed(seg, keep, row0, t, s)) {
            sc[s] = -INFINITY;
            continue;
        }
        sc[s] = qs * dotf(qt, kb + s * sh->k_tok, sh->dqk);
        if (sc[s] > m) m = sc[s];
    }
    return m;
}

static void fwd_row(float *ot, float *lse, const float *qt, float qs, const float *kb,
                    const float *vb, const kn_attn_shape *sh, const int32_t *seg,
                    const uint8_t *keep, int64_t row0, int64_t t, float *sc) {
    float m = row_scores(sc, qt, qs, kb, sh, seg, keep, row0, t);
    memset(ot, 0, (size_t)sh->dv * sizeof(float));
    if (m == -INFINITY) {
        *lse = -INFINITY;
        return;
    }
    double sum = 0;
    for (int64_t s = 0; s <= t; s++) {
        if (sc[s] == -INFINITY) continue;
        float p = expf(sc[s] - m);
        sum += p;
        const float *vs = vb + s * sh->v_tok;
        for (int64_t j = 0; j < sh->dv; j++) ot[j] += p * vs[j];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < sh->dv; j++) ot[j] *= inv;
    *lse = m + (float)log(sum);
}

void kn_attention_fwd(float *o, float *lse, const float *q, const float *k, const float *v,
                      const float *qscale, const int32_t *seg, const uint8_t *keep,
                      const kn_attn_shape *s, float *scratch) {
    int64_t BH = s->B * s->H;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < BH; bh++) {
        int64_t b = bh / s->H, h = bh % s->H, row0 = b * s->T;
        float *sc = scratch + (size_t)omp_get_thread_num() * kn_attention_scratch(s);
        const float *kb = k + row0 * s->k_tok + h * s->k_head;
        const float *vb = v + row0 * s->v_tok + h * s->v_head;
        for (int64_t t = 0; t < s->T; t++)
            fwd_row(o + (row0 + t) * s->o_tok + h * s->o_head, lse + bh * s->T + t,
                    q + (row0 + t) * s->q_tok + h * s->q_head, qscale[row0 + t], kb, vb, s, seg,
                    keep, row0, t, sc);
    }
}

typedef struct {
    float *dkb, *dvb;
    const float *kb, *vb;
} bwd_ctx;

/* One query row: p = exp(score − lse), dS = p·(dO·v − dO·o); dq += qs·dS·k, dk += qs·dS·q,
 * dv += p·dO. */
static void bwd_row(float *dqt, const float *dot_, const float *qt, const float *ot, float lse,
                    float qs, const bwd_ctx *c, const kn_attn_shape *sh, const int32_t *seg,
                    const uint8_t *keep, int64_t row0, int64_t t) {
    if (lse == -INFINITY) return;
    float D = dotf(dot_, ot, sh->dv);
    for (int64_t s = 0; s <= t; s++) {
        if (!allowed(seg, keep, row0, t, s)) continue;
        const float *ks = c->kb + s * sh->k_tok, *vs = c->vb + s * sh->v_tok;
        float p = expf(qs * dotf(qt, ks, sh->dqk) - lse);
        float ds = p * (dotf(dot_, vs, sh->dv) - D) * qs;
        if (dqt)
            for (int64_t j = 0; j < sh->dqk; j++) dqt[j] += ds * ks[j];
        if (c->dkb) {
            float *dks = c->dkb + s * sh->k_tok;
            for (int64_t j = 0; j < sh->dqk; j++) dks[j] += ds * qt[j];
        }
        if (c->dvb) {
            float *dvs = c->dvb + s * sh->v_tok;
            for (int64_t j = 0; j < sh->dv; j++) dvs[j] += p * dot_[j];
        }
    }
}

void kn_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, const float *o, const float *lse,
                      const float *qscale, const int32_t *seg, const uint8_t *keep,
                      const kn_attn_shape *s, float *scratch) {
    (void)scratch;
    int64_t BH = s->B * s->H;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < BH; bh++) {
        int64_t b = bh / s->H, h = bh % s->H, row0 = b * s->T;
        bwd_ctx c = {
            .dkb = dk ? dk + row0 * s->k_tok + h * s->k_head : NULL,
            .dvb = dv ? dv + row0 * s->v_tok + h * s->v_head : NULL,
            .kb = k + row0 * s->k_tok + h * s->k_head,
            .vb = v + row0 * s->v_tok + h * s->v_head,
        };
        for (int64_t t = 0; t < s->T; t++) {
            int64_t qo = (row0 + t) * s->q_tok + h * s->q_head;
            int64_t oo = (row0 + t) * s->o_tok + h * s->o_head;
            bwd_row(dq ? dq + qo : NULL, dout + oo, q + qo, o + oo, lse[bh * s->T + t],
                    qscale[row0 + t], &c, s, seg, keep, row0, t);
        }
    }
}

void kn_segments_from_positions(const int64_t *pos, int64_t B, int64_t T, int32_t *seg) {
    for (int64_t b = 0; b < B; b++) {
        int32_t id = 0;
        for (int64_t t = 0; t < T; t++) {
            if (t > 0 && pos[b * T + t] - pos[b * T + t - 1] != 1) id++;
            seg[b * T + t] = id;
        }
    }
}
