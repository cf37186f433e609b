/* The activation plan: what each layer keeps for its backward, per token. The same function
 * sizes the allocation and answers m4_layer_act_floats, so the documented formula
 * (docs/model.md) and the memory actually taken cannot drift apart silently. */
#include <string.h>

#include "model/m4_internal.h"

typedef struct {
    int64_t rstd_in, cq, rstd_q, cqn, q, a, rstd_kv, ckvn, kv, k, lse, att, h, rstd_post;
    int64_t probs, w, idx, slot_tok, inv, gu, sgu;
} act_sizes; /* floats (or 4-byte ints) per token */

static act_sizes sizes_of(const m4_text_config *c, int64_t l) {
    int64_t D = c->hidden_size, H = c->num_heads, dqk = m4_qk_head_dim(c);
    int64_t rq = c->q_lora_rank, rkv = c->kv_lora_rank;
    act_sizes s = {
        .rstd_in = 1, .cq = rq, .rstd_q = rq ? 1 : 0, .cqn = rq, .q = H * dqk,
        .a = rkv + c->qk_rope_head_dim, .rstd_kv = 1, .ckvn = rkv,
        .kv = H * (c->qk_nope_head_dim + c->v_head_dim), .k = H * dqk, .lse = H,
        .att = H * c->v_head_dim, .h = D, .rstd_post = 1,
    };
    if (m4_layer_is_moe(c, l)) {
        int64_t k = c->experts_per_tok, F = c->moe_intermediate_size;
        int64_t S = F * c->n_shared_experts;
        s.probs = c->n_routed_experts;
        s.w = s.idx = s.slot_tok = s.inv = k;
        s.gu = k * 2 * F;
        s.sgu = 2 * S;
    } else {
        s.gu = 2 * c->intermediate_size;
    }
    return s;
}

int64_t m4_layer_act_floats(const m4_text_config *c, int64_t l) {
    act_sizes s = sizes_of(c, l);
    const int64_t *v = (const int64_t *)&s;
    int64_t sum = 0;
    for (size_t i = 0; i < sizeof s / sizeof(int64_t); i++) sum += v[i];
    return sum;
}

static void *take(m4_model *m, int64_t per_tok, int64_t N, nt_status *st) {
    if (per_tok == 0) return NULL;
    void *p = nt_arena_alloc(&m->acts_arena, (size_t)(per_tok * N) * 4, 0);
    if (!p) *st = NT_ENOMEM;
    return p;
}

nt_status m4_acts_alloc(m4_model *m, m4_acts *a, int64_t l, nt_err *err) {
    act_sizes s = sizes_of(&m->cfg, l);
    int64_t N = m->ctx.N;
    nt_status st = NT_OK;
    memset(a, 0, sizeof *a);
#define T(f) a->f = take(m, s.f, N, &st)
    T(rstd_in); T(cq); T(rstd_q); T(cqn); T(q); T(a); T(rstd_kv); T(ckvn); T(kv); T(k);
    T(lse); T(att); T(h); T(rstd_post); T(probs); T(w); T(idx); T(slot_tok); T(inv);
    T(gu); T(sgu);
#undef T
    if (m4_layer_is_moe(&m->cfg, l)) {
        a->offs = nt_arena_alloc(&m->acts_arena, (size_t)(m->cfg.n_routed_experts + 1) * 8, 0);
        if (!a->offs) st = NT_ENOMEM;
    }
    return st ? nt_err_set(err, st, "activations of layer %lld: out of memory", (long long)l) : NT_OK;
}

size_t m4_planned_act_bytes(const m4_model *m, int64_t n) {
    const m4_text_config *c = &m->cfg;
    size_t bytes = (size_t)((c->num_layers + 1) * n * c->hidden_size) * 4; /* layer inputs + output */
    int64_t kept = m->opt.checkpointing ? 1 : c->num_layers, worst = 0;
    for (int64_t l = 0; l < c->num_layers; l++) {
        int64_t f = m4_layer_act_floats(c, l) * n * 4 + (m4_layer_is_moe(c, l) ? (c->n_routed_experts + 1) * 8 : 0);
        if (!m->opt.checkpointing) bytes += (size_t)f;
        worst = f > worst ? f : worst;
    }
    if (kept == 1 && m->opt.checkpointing) bytes += (size_t)worst;
    return bytes;
}

size_t m4_act_high_water(const m4_model *m) { return m->acts_arena.high_water; }
