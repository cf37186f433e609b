/* Feed-forward half of a decoder layer: post-attention norm, then the MoE block (router,
 * routed experts grouped per expert so each expert is two GEMMs over its tokens, shared
 * experts on all tokens) or, for the first_k_dense_replace layers, a dense SwiGLU MLP. */
#include <omp.h>
#include <string.h>

#include "model/m4_internal.h"

/* Not kept between forward and backward, because each is remade exactly (same float
 * operations on kept inputs) for a fraction of a GEMM's time: the post-attention norm's
 * output u2 (from h and rstd_post) and every SwiGLU output hh = silu(gate)⊙up (from gu) —
 * 2·D + k·F + S floats per token per layer (docs/model.md, "Activation memory"). */
static float *swiglu_out(m4_model *m, const float *gu, int64_t N, int64_t F) {
    float *hh = m4_scratch(m, N * F, false);
    kn_swiglu_fwd(hh, gu, gu + F, 2 * F, N, F);
    return hh;
}

static float *post_norm(m4_model *m, const m4_layer_params *w, m4_acts *a, int64_t N, int64_t D) {
    float *u2 = m4_scratch(m, N * D, false);
    kn_rmsnorm_fwd(u2, D, a->rstd_post, a->h, D, w->post_norm, N, D, (float)m->cfg.rms_norm_eps);
    return u2;
}

/* SwiGLU MLP on all N rows: gu = [u·Wgᵀ ‖ u·Wuᵀ], hh = silu(gate)⊙up, out += hh·Wdᵀ. */
static void swiglu_mlp_fwd(m4_model *m, float *out, const float *u, m4_wt wg, m4_wt wu,
                           m4_wt wd, float *gu, int64_t N, int64_t D, int64_t F) {
    nt_arena_pos pos = m4_scratch_mark(m);
    m4_lin_fwd(m, gu, 2 * F, u, D, wg, N, F, D, false);
    m4_lin_fwd(m, gu + F, 2 * F, u, D, wu, N, F, D, false);
    m4_lin_fwd(m, out, D, swiglu_out(m, gu, N, F), F, wd, N, D, F, true);
    m4_scratch_rollback(m, pos);
}

static void swiglu_mlp_bwd(m4_model *m, float *du, float *dwg, float *dwu, float *dwd,
                           const float *dout, const float *u, m4_wt wg, m4_wt wu, m4_wt wd,
                           const float *gu, int64_t N, int64_t D, int64_t F) {
    const float *hh = swiglu_out(m, gu, N, F);
    float *dhh = m4_scratch(m, N * F, true), *dgu = m4_scratch(m, N * 2 * F, true);
    m4_lin_bwd(m, dhh, F, dwd, dout, D, hh, F, wd, N, D, F);
    kn_swiglu_bwd(dgu, dgu + F, dhh, gu, gu + F, 2 * F, N, F);
    m4_lin_bwd(m, du, D, dwg, dgu, 2 * F, u, D, wg, N, F, D);
    m4_lin_bwd(m, du, D, dwu, dgu + F, 2 * F, u, D, wu, N, F, D);
}

/* Counting sort of the N·k (token, slot) pairs by expert. */
static void group_by_expert(m4_acts *a, int64_t N, int64_t k, int64_t E) {
    memset(a->offs, 0, (size_t)(E + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < N * k; i++) a->offs[a->idx[i] + 1]++;
    for (int64_t e = 0; e < E; e++) a->offs[e + 1] += a->offs[e];
    int64_t fill[4097];
    memcpy(fill, a->offs, (size_t)E * sizeof(int64_t));
    for (int64_t i = 0; i < N * k; i++) {
        int64_t r = fill[a->idx[i]]++;
        a->slot_tok[r] = (int32_t)i;
        a->inv[i] = (int32_t)r;
    }
}

/* Slots [r0, r1): dst row r = src row of the slot's token (called per expert, inside the
 * expert loop, so the rows are gathered by the thread that uses them next). */
static void gather_rows(float *dst, const float *src, const int32_t *slot_tok, int64_t r0,
                        int64_t r1, int64_t k, int64_t D) {
    for (int64_t r = r0; r < r1; r++)
        memcpy(dst + r * D, src + (int64_t)(slot_tok[r] / k) * D, (size_t)D * sizeof(float));
}

/* Whether the experts of a layer run one per thread (each GEMM single-threaded: kn_sgemm runs
 * on the calling thread inside a parallel region) instead of one after another with
 * threaded GEMMs. An expert sees ~N·k/E rows (128 in the benchmark model), where a threaded
 * GEMM reaches ~60 % of the large-shape rate and a serial one ~80 % of a core, and the
 * per-expert work of adapters (rank-r GEMMs,
 * gathers) is a string of short parallel regions when run serially. Every storage and
 * adapters too: each thread takes scratch from its own arena (m4_scratch). Experts are
 * disjoint in every output: their rows of gu/he/ye/dxe/dhe, their slots of dw, their
 * weight-gradient slices, and their adapter gradients (an adapter on a fused expert tensor is
 * per expert: rows e·r.. of A, columns k·E + e of B; m4_lora_math.c), so the result is the
 * same in any order. order[] lists the experts by descending token count for the dynamic
 * schedule (largest first balances best). */
static bool experts_parallel(const m4_model *m, const int64_t *offs, int64_t E, int32_t *order) {
    for (int64_t e = 0; e < E; e++) order[e] = (int32_t)e;
    bool par = E > 1 && E <= 4096 && !m->experts_serial && omp_get_max_threads() > 1;
    if (!par) return false;
    for (int64_t i = 1; i < E; i++) { /* insertion sort: E is small */
        int32_t e = order[i];
        int64_t c = offs[e + 1] - offs[e], j = i;
        for (; j > 0 && offs[order[j - 1] + 1] - offs[order[j - 1]] < c; j--) order[j] = order[j - 1];
        order[j] = e;
    }
    return true;
}

static void experts_fwd(m4_model *m, int64_t l, float *out, m4_acts *a) {
    const m4_text_config *c = &m->cfg;
    int64_t N = m->ctx.N, D = c->hidden_size, E = c->n_routed_experts, k = c->experts_per_tok;
    int64_t F = c->moe_intermediate_size;
    float *z = m4_scratch(m, N * E, false), *xe = m4_scratch(m, N * k * D, false);
    float *ye = m4_scratch(m, N * k * D, false); /* not kept: backward needs only he */
    m4_wt wgu = M4_W(m, l, gate_up), wdn = M4_W(m, l, down);
    m4_lin_fwd(m, z, E, a->u2, D, M4_W(m, l, router), N, E, D, false);
    kn_router_fwd(z, N, &m->router, a->probs, a->idx, a->w);
    group_by_expert(a, N, k, E);
    int32_t order[4096];
    bool par = experts_parallel(m, a->offs, E, order);
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int64_t i = 0; i < E; i++) {
        int64_t e = order[i], r0 = a->offs[e], cnt = a->offs[e + 1] - r0;
        if (!cnt) continue;
        nt_arena_pos pos = m4_scratch_mark(m);
        float *gu = a->gu + r0 * 2 * F;
        gather_rows(xe, a->u2, a->slot_tok, r0, r0 + cnt, k, D);
        m4_lin_fwd(m, gu, 2 * F, xe + r0 * D, D, m4_wt_rows(wgu, e * 2 * F, D), cnt, 2 * F, D, false);
        m4_lin_fwd(m, ye + r0 * D, D, swiglu_out(m, gu, cnt, F), F, m4_wt_rows(wdn, e * D, F), cnt, D, F, false);
        m4_scratch_rollback(m, pos);
    }
#pragma omp parallel for schedule(static) if (N * D > 65536)
    for (int64_t t = 0; t < N; t++)
        for (int64_t j = 0; j < k; j++) {
            const float *y = ye + (int64_t)a->inv[t * k + j] * D;
            float wt = a->w[t * k + j];
            for (int64_t i = 0; i < D; i++) out[t * D + i] += wt * y[i];
        }
}

void m4_mlp_fwd(m4_model *m, int64_t l, float *out, m4_acts *a) {
    const m4_text_config *c = &m->cfg;
    const m4_layer_params *w = &m->p.layers[l];
    int64_t N = m->ctx.N, D = c->hidden_size;
    nt_arena_pos pos = m4_scratch_mark(m);
    a->u2 = post_norm(m, w, a, N, D);
    memcpy(out, a->h, (size_t)(N * D) * sizeof(float));
    if (!m4_layer_is_moe(c, l)) {
        swiglu_mlp_fwd(m, out, a->u2, M4_W(m, l, mlp_gate), M4_W(m, l, mlp_up),
                       M4_W(m, l, mlp_down), a->gu, N, D, c->intermediate_size);
    } else {
        experts_fwd(m, l, out, a);
        if (c->n_shared_experts > 0)
            swiglu_mlp_fwd(m, out, a->u2, M4_W(m, l, sh_gate), M4_W(m, l, sh_up),
                           M4_W(m, l, sh_down), a->sgu, N, D,
                           c->moe_intermediate_size * c->n_shared_experts);
    }
    a->u2 = NULL;
    m4_scratch_rollback(m, pos);
}

/* Per slot r in [r0, r1) (token·choice i): dw[i] = dhe0_r·he_r; then dhe_r and gy_r scaled
 * by w[i]. he holds the slots' SwiGLU outputs from r0 on. */
static void scale_slots(float *dw, float *dhe, float *gy, const m4_acts *a, const float *he,
                        int64_t r0, int64_t r1, int64_t D, int64_t F) {
#pragma omp parallel for schedule(static) if ((r1 - r0) * D > 65536)
    for (int64_t r = r0; r < r1; r++) {
        int64_t i = a->slot_tok[r];
        float wt = a->w[i], acc = 0;
        for (int64_t j = 0; j < F; j++) {
            acc += dhe[r * F + j] * he[(r - r0) * F + j];
            dhe[r * F + j] *= wt;
        }
        for (int64_t j = 0; j < D; j++) gy[r * D + j] *= wt;
        dw[i] = acc;
    }
}

/* The router weight's gradient is dout[t]·ye[r] with ye = he·Dᵀ, i.e. (dout[t]·D)·he: so
 * the unscaled dhe0 = dout·D gives it without keeping ye. Then dhe = w·dhe0, and the
 * gathered dout rows are scaled by w in place for the down-projection's weight gradient. */
static void experts_bwd(m4_model *m, int64_t l, m4_layer_params *g, const float *dout,
                        float *du2, m4_acts *a) {
    const m4_text_config *c = &m->cfg;
    int64_t N = m->ctx.N, D = c->hidden_size, E = c->n_routed_experts, k = c->experts_per_tok;
    int64_t F = c->moe_intermediate_size, n = N * k;
    float *gy = m4_scratch(m, n * D, false), *dw = m4_scratch(m, n, false);
    m4_wt wgu = M4_W(m, l, gate_up), wdn = M4_W(m, l, down);
    bool need_xe = g->gate_up || m4_lora_on(m, wgu.idx); /* x only for dW / dA, dB */
    float *xe = need_xe ? m4_scratch(m, n * D, false) : NULL;
    float *dxe = m4_scratch(m, n * D, false); /* rows zeroed per expert, in the loop */
    float *dhe = m4_scratch(m, n * F, false), *dgu = m4_scratch(m, n * 2 * F, false);
    int32_t order[4096];
    bool par = experts_parallel(m, a->offs, E, order);
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int64_t i = 0; i < E; i++) {
        int64_t e = order[i], r0 = a->offs[e], cnt = a->offs[e + 1] - r0;
        if (!cnt) continue;
        nt_arena_pos pos = m4_scratch_mark(m);
        m4_wt wd = m4_wt_rows(wdn, e * D, F);
        gather_rows(gy, dout, a->slot_tok, r0, r0 + cnt, k, D);
        if (xe) gather_rows(xe, a->u2, a->slot_tok, r0, r0 + cnt, k, D);
        memset(dhe + r0 * F, 0, (size_t)(cnt * F) * sizeof(float));
        memset(dxe + r0 * D, 0, (size_t)(cnt * D) * sizeof(float));
        memset(dgu + r0 * 2 * F, 0, (size_t)(cnt * 2 * F) * sizeof(float));
        /* dhe0 = dout·D (the down adapter's dx share included) before the rows are scaled */
        m4_lin_bwd(m, dhe + r0 * F, F, NULL, gy + r0 * D, D, NULL, F, wd, cnt, D, F);
        const float *gu = a->gu + r0 * 2 * F, *he = swiglu_out(m, gu, cnt, F);
        scale_slots(dw, dhe, gy, a, he, r0, r0 + cnt, D, F);
        if (g->down) kn_linear_bwd(NULL, g->down + e * D * F, gy + r0 * D, he, NULL, cnt, D, F);
        /* the down adapter's dA, dB from the weighted dout (its dx share went into dhe0) */
        m4_lora_bwd(m, NULL, 0, gy + r0 * D, D, he, F, wd, cnt, D, F);
        kn_swiglu_bwd(dgu + r0 * 2 * F, dgu + r0 * 2 * F + F, dhe + r0 * F, gu, gu + F, 2 * F, cnt, F);
        m4_lin_bwd(m, dxe + r0 * D, D, m4_gslice(g->gate_up, e * 2 * F * D), dgu + r0 * 2 * F, 2 * F,
                   xe ? xe + r0 * D : NULL, D, m4_wt_rows(wgu, e * 2 * F, D), cnt, 2 * F, D);
        m4_scratch_rollback(m, pos);
    }
#pragma omp parallel for schedule(static) if (N * D > 65536)
    for (int64_t t = 0; t < N; t++)
        for (int64_t j = 0; j < k; j++) kn_axpy(du2 + t * D, 1.0f, dxe + (int64_t)a->inv[t * k + j] * D, D);
    float *dz = m4_scratch(m, N * E, true);
    kn_router_bwd(dz, dw, a->probs, a->idx, a->w, N, &m->router);
    m4_lin_bwd(m, du2, D, g->router, dz, E, a->u2, D, M4_W(m, l, router), N, E, D);
}

void m4_mlp_bwd(m4_model *m, int64_t l, const float *dout, float *dh, m4_acts *a) {
    const m4_text_config *c = &m->cfg;
    const m4_layer_params *w = &m->p.layers[l];
    m4_layer_params *g = &m->g.layers[l];
    int64_t N = m->ctx.N, D = c->hidden_size;
    nt_arena_pos pos = m4_scratch_mark(m);
    a->u2 = post_norm(m, w, a, N, D);
    float *du2 = m4_scratch(m, N * D, true);
    if (!m4_layer_is_moe(c, l)) {
        swiglu_mlp_bwd(m, du2, g->mlp_gate, g->mlp_up, g->mlp_down, dout, a->u2,
                       M4_W(m, l, mlp_gate), M4_W(m, l, mlp_up), M4_W(m, l, mlp_down), a->gu,
                       N, D, c->intermediate_size);
    } else {
        experts_bwd(m, l, g, dout, du2, a);
        if (c->n_shared_experts > 0)
            swiglu_mlp_bwd(m, du2, g->sh_gate, g->sh_up, g->sh_down, dout, a->u2,
                           M4_W(m, l, sh_gate), M4_W(m, l, sh_up), M4_W(m, l, sh_down), a->sgu,
                           N, D, c->moe_intermediate_size * c->n_shared_experts);
    }
    kn_rmsnorm_bwd(dh, D, g->post_norm, du2, D, a->h, D, w->post_norm, a->rstd_post, N, D);
    kn_axpy(dh, 1.0f, dout, N * D);
    a->u2 = NULL;
    m4_scratch_rollback(m, pos);
}
