/* Whole-model forward and backward: embedding, decoder layers (optionally recomputed in
 * backward from their saved inputs), final norm, fused lm_head + loss. */
#include <omp.h>
#include <string.h>

#include "model/m4_internal.h"

static nt_status check_batch(const m4_model *m, const m4_batch *b, nt_err *err) {
    if (b->B <= 0 || b->T <= 0) return nt_err_set(err, NT_EINVAL, "empty batch (%lld x %lld)", (long long)b->B, (long long)b->T);
    for (int64_t i = 0; i < b->B * b->T; i++) {
        int64_t row = i / b->T, col = i % b->T;
        if (b->input_ids[i] < 0 || b->input_ids[i] >= m->cfg.vocab_size)
            return nt_err_set(err, NT_EINVAL, "input_ids[%lld][%lld] = %d outside the vocabulary (%lld)",
                              (long long)row, (long long)col, b->input_ids[i], (long long)m->cfg.vocab_size);
        if (b->labels && b->labels[i] != -100 && (b->labels[i] < 0 || b->labels[i] >= m->cfg.vocab_size))
            return nt_err_set(err, NT_EINVAL, "labels[%lld][%lld] = %d is neither -100 nor a token id",
                              (long long)row, (long long)col, b->labels[i]);
        if (b->position_ids && b->position_ids[i] < 0)
            return nt_err_set(err, NT_EINVAL, "position_ids[%lld][%lld] is negative", (long long)row, (long long)col);
    }
    return NT_OK;
}

static void *acts_take(m4_model *m, size_t bytes, nt_status *st) {
    void *p = nt_arena_alloc(&m->acts_arena, bytes ? bytes : 1, 0);
    if (!p) *st = NT_ENOMEM;
    return p;
}

/* Positions, RoPE tables, query scales (softmax scale × Llama-4 temperature), masks. */
static nt_status setup_ctx(m4_model *m, const m4_batch *b) {
    m4_ctx *c = &m->ctx;
    nt_status st = NT_OK;
    int64_t N = b->B * b->T, half = m->cfg.qk_rope_head_dim / 2;
    c->B = b->B; c->T = b->T; c->N = N;
    int64_t *pos = acts_take(m, (size_t)N * 8, &st);
    c->cos_t = acts_take(m, (size_t)(N * half) * 4, &st);
    c->sin_t = acts_take(m, (size_t)(N * half) * 4, &st);
    c->qscale = acts_take(m, (size_t)N * 4, &st);
    kn_attn_shape as = {.T = b->T, .dqk = m4_qk_head_dim(&m->cfg), .dv = m->cfg.v_head_dim};
    c->attn_scratch = acts_take(m, (size_t)omp_get_max_threads() * kn_attention_scratch(&as) * 4, &st);
    c->seg = b->position_ids ? acts_take(m, (size_t)N * 4, &st) : NULL;
    c->keep = b->attention_mask ? acts_take(m, (size_t)N, &st) : NULL;
    if (st) return st;
    for (int64_t i = 0; i < N; i++) pos[i] = b->position_ids ? b->position_ids[i] : i % b->T;
    kn_rope_table(pos, N, m->inv_freq, half, m->rope_attention_factor, c->cos_t, c->sin_t);
    const m4_rope *r = &m->cfg.rope;
    for (int64_t i = 0; i < N; i++)
        c->qscale[i] = m->softmax_scale * kn_llama4_qscale(pos[i], (float)r->llama_4_scaling_beta, r->original_max_positions);
    if (c->seg) kn_segments_from_positions(b->position_ids, b->B, b->T, c->seg);
    if (c->keep) memcpy(c->keep, b->attention_mask, (size_t)N);
    return NT_OK;
}

static nt_status run_layer(m4_model *m, int64_t l, m4_acts *a, nt_err *err) {
    if (m4_acts_alloc(m, a, l, err)) return err ? err->code : NT_ENOMEM;
    m4_attn_fwd(m, l, m->xs[l], a->h, a);
    m4_mlp_fwd(m, l, m->xs[l + 1], a);
    return NT_OK;
}

static nt_status layers_fwd(m4_model *m, nt_err *err) {
    for (int64_t l = 0; l < m->cfg.num_layers; l++) {
        if (!m->opt.checkpointing) {
            if (run_layer(m, l, &m->acts[l], err)) return err ? err->code : NT_ENOMEM;
            continue;
        }
        nt_arena_pos p = nt_arena_mark(&m->acts_arena);
        nt_status st = run_layer(m, l, &m->acts[0], err);
        nt_arena_rollback(&m->acts_arena, p);
        if (st) return st;
    }
    return NT_OK;
}

/* Targets with transformers' shift: position t predicts labels[t+1]; the last of each row
 * predicts nothing. Without labels every target is ignored (logits only). */
static int32_t *shifted_targets(m4_model *m, const m4_batch *b) {
    int32_t *tg = (int32_t *)m4_scratch(m, m->ctx.N, false);
    for (int64_t i = 0; i < m->ctx.N; i++) {
        bool last = i % b->T == b->T - 1;
        tg[i] = (!b->labels || last || b->labels[i + 1] == -100) ? -1 : b->labels[i + 1];
    }
    return tg;
}

static void head(m4_model *m, const m4_batch *b, bool want_grad, float *logits, m4_loss *loss) {
    int64_t N = m->ctx.N, D = m->cfg.hidden_size, V = m->cfg.vocab_size;
    int32_t *tg = shifted_targets(m, b);
    int64_t count = 0;
    for (int64_t i = 0; i < N; i++) count += tg[i] >= 0;
    float scale = m->opt.loss_sum ? 1.0f : count ? 1.0f / (float)count : 0.0f;
    bool grad = want_grad && b->labels;
    int64_t chunk = m->opt.xent_chunk < N ? m->opt.xent_chunk : N; /* no larger than the batch */
    kn_xent_result r;
    if (grad && m->sink.grad)
        r = m4_sink_head(m, tg, count, scale);
    else
        r = kn_lmhead_xent(m->final_norm, m->p.lm_head, tg, N, D, V, scale, grad ? m->dfinal : NULL,
                           grad ? m->g.lm_head : NULL, logits, m4_scratch(m, chunk * V, false), chunk);
    if (loss) {
        loss->count = r.count;
        loss->loss = m->opt.loss_sum ? r.loss_sum : r.count ? r.loss_sum / (double)r.count : 0.0;
    }
}

static nt_status alloc_states(m4_model *m, const m4_batch *b, bool want_grad) {
    nt_status st = NT_OK;
    int64_t N = m->ctx.N, D = m->cfg.hidden_size, L = m->cfg.num_layers;
    m->xs = acts_take(m, (size_t)(L + 1) * sizeof(float *), &st);
    m->acts = acts_take(m, (size_t)(m->opt.checkpointing ? 1 : L) * sizeof(m4_acts), &st);
    for (int64_t l = 0; !st && l <= L; l++) m->xs[l] = acts_take(m, (size_t)(N * D) * 4, &st);
    m->final_norm = acts_take(m, (size_t)(N * D) * 4, &st);
    m->rstd_final = acts_take(m, (size_t)N * 4, &st);
    m->dfinal = want_grad ? acts_take(m, (size_t)(N * D) * 4, &st) : NULL;
    bool tied = m4_model_find_param(m, "lm_head.weight") < 0;
    int64_t emb = m4_model_find_param(m, "model.embed_tokens.weight");
    m->tied_g = want_grad && m->sink.grad && tied && emb >= 0 && m->trainable[emb]
                    ? acts_take(m, (size_t)(m->cfg.vocab_size * D) * 4, &st) : NULL;
    int32_t *ids = acts_take(m, (size_t)N * 4, &st);
    if (st) return st;
    if (m->dfinal) memset(m->dfinal, 0, (size_t)(N * D) * 4);
    if (m->tied_g) memset(m->tied_g, 0, (size_t)(m->cfg.vocab_size * D) * 4);
    memcpy(ids, b->input_ids, (size_t)N * 4);
    m->ids = ids;
    return NT_OK;
}

nt_status m4_forward(m4_model *m, const m4_batch *b, bool want_grad, float *logits,
                     m4_loss *loss, nt_err *err) {
    m->have_grad = false;
    if (check_batch(m, b, err)) return err ? err->code : NT_EINVAL;
    if (want_grad && b->labels && m4_model_alloc_grads(m, err)) return err ? err->code : NT_ENOMEM;
    if (want_grad && b->labels) m->grads_zero = false; /* lm_head's gradient is written below */
    nt_arena_reset(&m->acts_arena);
    m4_scratch_begin(m);
    if (setup_ctx(m, b) || alloc_states(m, b, want_grad && b->labels))
        return nt_err_set(err, NT_ENOMEM, "activations for %lld tokens: out of memory", (long long)(b->B * b->T));
    int64_t N = m->ctx.N, D = m->cfg.hidden_size;
    kn_embed_fwd(m->xs[0], m->p.embed, m->ids, N, D);
    if (layers_fwd(m, err)) return err ? err->code : NT_ENOMEM;
    kn_rmsnorm_fwd(m->final_norm, D, m->rstd_final, m->xs[m->cfg.num_layers], D, m->p.norm, N, D,
                   (float)m->cfg.rms_norm_eps);
    nt_arena_pos p = nt_arena_mark(&m->scratch);
    if (b->labels || logits) head(m, b, want_grad, logits, loss);
    nt_arena_rollback(&m->scratch, p);
    m->have_grad = want_grad && b->labels;
    return NT_OK;
}

/* dx holds d loss / d (output of layer l) on entry and d loss / d (its input) on return. */
nt_status m4_layer_bwd(m4_model *m, int64_t l, float *dx, float *dh, nt_err *err) {
    int64_t N = m->ctx.N, D = m->cfg.hidden_size;
    m4_acts *a = &m->acts[m->opt.checkpointing ? 0 : l];
    nt_arena_pos ap = nt_arena_mark(&m->acts_arena);
    nt_arena_pos sp = nt_arena_mark(&m->scratch);
    if (m->opt.checkpointing) {
        float *out = m4_scratch(m, N * D, false); /* recomputed output, equals xs[l+1] */
        if (m4_acts_alloc(m, a, l, err)) return err ? err->code : NT_ENOMEM;
        m4_attn_fwd(m, l, m->xs[l], a->h, a);
        m4_mlp_fwd(m, l, out, a);
    }
    memset(dh, 0, (size_t)(N * D) * 4);
    m4_mlp_bwd(m, l, dx, dh, a);
    memset(dx, 0, (size_t)(N * D) * 4);
    m4_attn_bwd(m, l, m->xs[l], dh, dx, a);
    nt_arena_rollback(&m->scratch, sp);
    if (m->opt.checkpointing) nt_arena_rollback(&m->acts_arena, ap);
    return NT_OK;
}

nt_status m4_backward(m4_model *m, nt_err *err) {
    if (!m->have_grad)
        return nt_err_set(err, NT_EINVAL, "backward without a forward that had labels and want_grad");
    m->grads_zero = false;
    int64_t N = m->ctx.N, D = m->cfg.hidden_size;
    m4_scratch_begin(m);
    float *dx = m4_scratch(m, N * D, true), *dh = m4_scratch(m, N * D, false);
    if (m->sink.grad) {
        m->have_grad = false;
        return m4_sink_backward(m, dx, dh, err);
    }
    kn_rmsnorm_bwd(dx, D, m->g.norm, m->dfinal, D, m->xs[m->cfg.num_layers], D, m->p.norm,
                   m->rstd_final, N, D);
    for (int64_t l = m->cfg.num_layers - 1; l >= 0; l--)
        if (m4_layer_bwd(m, l, dx, dh, err)) return err ? err->code : NT_ENOMEM;
    if (m->g.embed) kn_embed_bwd(m->g.embed, dx, m->ids, N, D); /* NULL: frozen */
    m->have_grad = false;
    return NT_OK;
}

const float *m4_hidden(const m4_model *m, int64_t layer) { return m->xs[layer + 1]; }
const float *m4_hidden_final_norm(const m4_model *m) { return m->final_norm; }
