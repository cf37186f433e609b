/* MLA attention of one decoder layer (spec §2.4), forward and backward (§3). The latent
 * norms use eps 1e-6 as transformers hard-codes for q_a_layernorm / kv_a_layernorm. */
#include <string.h>

#include "model/m4_internal.h"

#define LATENT_EPS 1e-6f

typedef struct {
    int64_t N, D, H, dn, dr, dv, dqk, rq, rkv, lda, kvw;
} dims;

static dims dims_of(const m4_model *m) {
    const m4_text_config *c = &m->cfg;
    dims d = {m->ctx.N, c->hidden_size, c->num_heads, c->qk_nope_head_dim, c->qk_rope_head_dim,
              c->v_head_dim, m4_qk_head_dim(c), c->q_lora_rank, c->kv_lora_rank, 0, 0};
    d.lda = d.rkv + d.dr;
    d.kvw = d.dn + d.dv;
    return d;
}

static kn_attn_shape shape_of(const m4_model *m, const dims *d) {
    return (kn_attn_shape){
        .B = m->ctx.B, .T = m->ctx.T, .H = d->H, .dqk = d->dqk, .dv = d->dv,
        .q_tok = d->H * d->dqk, .q_head = d->dqk, .k_tok = d->H * d->dqk, .k_head = d->dqk,
        .v_tok = d->H * d->kvw, .v_head = d->kvw, .o_tok = d->H * d->dv, .o_head = d->dv};
}

/* Keys per head: [k_nope(h) ‖ rotated k_rope (shared by all heads)]. */
static void assemble_k(float *k, const float *kv, const float *a, const dims *d) {
#pragma omp parallel for schedule(static) if (d->N * d->H * d->dqk > 65536)
    for (int64_t t = 0; t < d->N; t++)
        for (int64_t h = 0; h < d->H; h++) {
            float *kh = k + (t * d->H + h) * d->dqk;
            memcpy(kh, kv + (t * d->H + h) * d->kvw, (size_t)d->dn * sizeof(float));
            memcpy(kh + d->dn, a + t * d->lda + d->rkv, (size_t)d->dr * sizeof(float));
        }
}

/* y[N, out] = x[N, in]·Wᵀ for layer l's weight `field` (through m4_lin_fwd). */
#define LIN(y, x, field, out, in, acc) \
    m4_lin_fwd(m, y, out, x, in, M4_W(m, l, field), d->N, out, in, acc)
#define LIN_BWD(dx, dw, dy, x, field, out, in) \
    m4_lin_bwd(m, dx, in, dw, dy, out, x, in, M4_W(m, l, field), d->N, out, in)

static void queries(m4_model *m, int64_t l, const m4_layer_params *w, m4_acts *a, const dims *d) {
    if (d->rq) {
        LIN(a->cq, a->u, q_a, d->rq, d->D, false);
        kn_rmsnorm_fwd(a->cqn, d->rq, a->rstd_q, a->cq, d->rq, w->q_a_norm, d->N, d->rq, LATENT_EPS);
        LIN(a->q, a->cqn, q_b, d->H * d->dqk, d->rq, false);
    } else {
        LIN(a->q, a->u, q_proj, d->H * d->dqk, d->D, false);
    }
    kn_rope_fwd(a->q, d->N, d->H * d->dqk, d->H, d->dqk, d->dn, d->dr / 2, m->ctx.cos_t, m->ctx.sin_t);
}

/* The input norm's output u is not kept: the backward remakes it from x and the same rstd
 * (the same float operations, so the same bits) — D floats per token per layer saved. */
static float *input_norm(m4_model *m, const m4_layer_params *w, const float *x, m4_acts *a, const dims *d) {
    float *u = m4_scratch(m, d->N * d->D, false);
    kn_rmsnorm_fwd(u, d->D, a->rstd_in, x, d->D, w->input_norm, d->N, d->D, (float)m->cfg.rms_norm_eps);
    return u;
}

void m4_attn_fwd(m4_model *m, int64_t l, const float *x, float *out, m4_acts *a) {
    const m4_layer_params *w = &m->p.layers[l];
    dims dd = dims_of(m);
    const dims *d = &dd;
    nt_arena_pos pos = m4_scratch_mark(m);
    a->u = input_norm(m, w, x, a, d);
    queries(m, l, w, a, d);
    LIN(a->a, a->u, kv_a, d->lda, d->D, false);
    kn_rmsnorm_fwd(a->ckvn, d->rkv, a->rstd_kv, a->a, d->lda, w->kv_a_norm, d->N, d->rkv, LATENT_EPS);
    LIN(a->kv, a->ckvn, kv_b, d->H * d->kvw, d->rkv, false);
    kn_rope_fwd(a->a, d->N, d->lda, 1, 0, d->rkv, d->dr / 2, m->ctx.cos_t, m->ctx.sin_t);
    assemble_k(a->k, a->kv, a->a, d);
    kn_attn_shape s = shape_of(m, d);
    kn_attention_fwd(a->att, a->lse, a->q, a->k, a->kv + d->dn, m->ctx.qscale, m->ctx.seg,
                     m->ctx.keep, &s, m->ctx.attn_scratch);
    memcpy(out, x, (size_t)(d->N * d->D) * sizeof(float));
    LIN(out, a->att, o, d->D, d->H * d->dv, true);
    a->u = NULL;
    m4_scratch_rollback(m, pos);
}

/* dk per head → k_nope part of dkv; the rope part summed over heads (k_rope is shared) and
 * un-rotated into da. */
static void split_dk(m4_model *m, const float *dk, float *dkv, float *da, const dims *d) {
#pragma omp parallel for schedule(static) if (d->N * d->H * d->dqk > 65536)
    for (int64_t t = 0; t < d->N; t++)
        for (int64_t h = 0; h < d->H; h++) {
            const float *g = dk + (t * d->H + h) * d->dqk;
            float *kvh = dkv + (t * d->H + h) * d->kvw, *ar = da + t * d->lda + d->rkv;
            for (int64_t j = 0; j < d->dn; j++) kvh[j] += g[j];
            for (int64_t j = 0; j < d->dr; j++) ar[j] += g[d->dn + j];
        }
    kn_rope_bwd(da, d->N, d->lda, 1, 0, d->rkv, d->dr / 2, m->ctx.cos_t, m->ctx.sin_t);
}

static void queries_bwd(m4_model *m, int64_t l, const m4_layer_params *w, m4_layer_params *g,
                        const m4_acts *a, float *dq, float *du, const dims *d) {
    kn_rope_bwd(dq, d->N, d->H * d->dqk, d->H, d->dqk, d->dn, d->dr / 2, m->ctx.cos_t, m->ctx.sin_t);
    if (!d->rq) {
        LIN_BWD(du, g->q_proj, dq, a->u, q_proj, d->H * d->dqk, d->D);
        return;
    }
    float *dcqn = m4_scratch(m, d->N * d->rq, true), *dcq = m4_scratch(m, d->N * d->rq, true);
    LIN_BWD(dcqn, g->q_b, dq, a->cqn, q_b, d->H * d->dqk, d->rq);
    kn_rmsnorm_bwd(dcq, d->rq, g->q_a_norm, dcqn, d->rq, a->cq, d->rq, w->q_a_norm, a->rstd_q, d->N, d->rq);
    LIN_BWD(du, g->q_a, dcq, a->u, q_a, d->rq, d->D);
}

void m4_attn_bwd(m4_model *m, int64_t l, const float *x, const float *dout, float *dx,
                 m4_acts *a) {
    const m4_layer_params *w = &m->p.layers[l];
    m4_layer_params *g = &m->g.layers[l];
    dims dd = dims_of(m);
    const dims *d = &dd;
    nt_arena_pos pos = m4_scratch_mark(m);
    a->u = input_norm(m, w, x, a, d);
    float *datt = m4_scratch(m, d->N * d->H * d->dv, true);
    LIN_BWD(datt, g->o, dout, a->att, o, d->D, d->H * d->dv);
    float *dq = m4_scratch(m, d->N * d->H * d->dqk, true), *dk = m4_scratch(m, d->N * d->H * d->dqk, true);
    float *dkv = m4_scratch(m, d->N * d->H * d->kvw, true), *da = m4_scratch(m, d->N * d->lda, true);
    kn_attn_shape s = shape_of(m, d);
    kn_attention_bwd(dq, dk, dkv + d->dn, datt, a->q, a->k, a->kv + d->dn, a->att, a->lse,
                     m->ctx.qscale, m->ctx.seg, m->ctx.keep, &s, m->ctx.attn_scratch);
    split_dk(m, dk, dkv, da, d);
    float *dckvn = m4_scratch(m, d->N * d->rkv, true), *du = m4_scratch(m, d->N * d->D, true);
    LIN_BWD(dckvn, g->kv_b, dkv, a->ckvn, kv_b, d->H * d->kvw, d->rkv);
    kn_rmsnorm_bwd(da, d->lda, g->kv_a_norm, dckvn, d->rkv, a->a, d->lda, w->kv_a_norm, a->rstd_kv, d->N, d->rkv);
    LIN_BWD(du, g->kv_a, da, a->u, kv_a, d->lda, d->D);
    queries_bwd(m, l, w, g, a, dq, du, d);
    kn_rmsnorm_bwd(dx, d->D, g->input_norm, du, d->D, x, d->D, w->input_norm, a->rstd_in, d->N, d->D);
    kn_axpy(dx, 1.0f, dout, d->N * d->D);
    a->u = NULL;
    m4_scratch_rollback(m, pos);
}
