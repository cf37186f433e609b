/* Optimizer in backward, the model's side (m4_model.h, "a gradient sink"): gradients are
 * made one group at a time in scratch and handed to the sink as soon as they are final.
 *
 * Why: a full fine-tune with f32 AdamW keeps parameters, gradients and two moments — four
 * copies of the model. When no update needs every gradient first (no clipping, one
 * micro-batch per step), each tensor can be updated the moment its gradient is complete and
 * the gradient forgotten, so only the largest group's gradient ever exists: on the benchmark
 * model 27 MiB per decoder layer (64 MiB for the embedding, in scratch pages the lm_head's
 * logits already used) instead of 238 MiB for all of them.
 *
 * Each group's buffer is zeroed before its backward, as m4_model_zero_grads would have left
 * it, and the kernels accumulate into it exactly as they do into the full buffer, so every
 * gradient has the same bits as without a sink. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_internal.h"

enum { G_NORM, G_EMBED, G_HEAD, G_EXTRA }; /* after the decoder layers */

static int32_t group_of(const m4_model *m, size_t i) {
    const char *n = m->info[i].name;
    int64_t L = m->cfg.num_layers;
    long l;
    int used = 0;
    if (!strcmp(n, "model.embed_tokens.weight")) return (int32_t)(L + G_EMBED);
    if (!strcmp(n, "model.norm.weight")) return (int32_t)(L + G_NORM);
    if (!strcmp(n, "lm_head.weight")) return (int32_t)(L + G_HEAD);
    if (sscanf(n, "model.layers.%ld.%n", &l, &used) == 1 && used > 0 && l >= 0 && l < L) {
        for (size_t f = 0; f < M4_LAYER_FIELDS; f++)
            if (m->lidx[(size_t)l * M4_LAYER_FIELDS + f] == (int32_t)i) return (int32_t)l;
    }
    return -1;
}

nt_status m4_model_set_grad_sink(m4_model *m, const m4_grad_sink *sink, nt_err *err) {
    if (sink && (!sink->grad || !sink->begin))
        return nt_err_set(err, NT_EINVAL, "optimizer in backward: the sink needs begin and grad");
    if (sink && m->lora)
        return nt_err_set(err, NT_EUNSUPPORTED,
                          "optimizer in backward: not with adapters (their update waits for the whole step)");
    for (size_t i = 0; sink && i < m->n_info; i++)
        if (m->trainable[i] && group_of(m, i) < 0)
            return nt_err_set(err, NT_EUNSUPPORTED, "optimizer in backward: no place for the gradient of %s",
                              m->info[i].name);
    free(m->grads);
    m->grads = NULL;
    m->n_gfloats = 0;
    m->grads_ready = false;
    m->grads_zero = false;
    m->have_grad = false;
    m->sink = sink ? *sink : (m4_grad_sink){0};
    return NT_OK;
}

bool m4_model_has_grad_sink(const m4_model *m) { return m->sink.grad != NULL; }
bool m4_model_trains(const m4_model *m, size_t i) { return i < m->n_info && m->trainable[i]; }

/* goff[i]: the tensor's offset in its group; grp_floats: each group's size. No buffer. */
nt_status m4_sink_layout(m4_model *m, nt_err *err) {
    int64_t ng = m->cfg.num_layers + G_EXTRA;
    free(m->grp);
    free(m->grp_floats);
    m->grp = nt_xmalloc((m->n_info ? m->n_info : 1) * sizeof *m->grp);
    m->grp_floats = nt_xcalloc((size_t)ng, sizeof *m->grp_floats);
    for (size_t i = 0; i < m->n_info; i++) {
        m->grp[i] = m->trainable[i] ? group_of(m, i) : -1;
        m->goff[i] = SIZE_MAX;
        if (m->grp[i] < 0) continue;
        m->goff[i] = (size_t)m->grp_floats[m->grp[i]];
        m->grp_floats[m->grp[i]] += m->info[i].numel;
    }
    m4_point_params(m, NULL, m->goff, &m->g); /* every gradient pointer NULL between groups */
    m->grads_ready = true;
    (void)err;
    return NT_OK;
}

int64_t m4_sink_largest_group(const m4_model *m) {
    int64_t big = 0;
    for (int64_t g = 0; g < m->cfg.num_layers + G_EXTRA; g++) big = m->grp_floats[g] > big ? m->grp_floats[g] : big;
    return big;
}

void m4_sink_free(m4_model *m) {
    free(m->grp);
    free(m->grp_floats);
    m->grp = NULL, m->grp_floats = NULL;
}

/* Points (base) or unpoints (NULL) the gradient fields of group g at its buffer. */
static void point_group(m4_model *m, int32_t g, float *base) {
    int64_t L = m->cfg.num_layers;
    for (size_t i = 0; i < m->n_info; i++) {
        if (m->grp[i] != g) continue;
        float *p = base ? base + m->goff[i] : NULL;
        if (g < L) {
            float **f = (float **)(void *)&m->g.layers[g];
            for (size_t k = 0; k < M4_LAYER_FIELDS; k++)
                if (m->lidx[(size_t)g * M4_LAYER_FIELDS + k] == (int32_t)i) f[k] = p;
        } else if (g == L + G_NORM) {
            m->g.norm = p;
        } else if (g == L + G_EMBED) {
            m->g.embed = p;
            if (m4_model_find_param(m, "lm_head.weight") < 0) m->g.lm_head = p; /* tied */
        } else {
            m->g.lm_head = p;
        }
    }
}

/* Hands every tensor of group g to the sink (table order), then unpoints the group. */
static void emit_group(m4_model *m, int32_t g, const float *base) {
    for (size_t i = 0; i < m->n_info; i++)
        if (m->grp[i] == g) m->sink.grad(m->sink.ctx, i, 0, (size_t)m->info[i].numel, base + m->goff[i]);
    point_group(m, g, NULL);
}

/* A group's gradients, zeroed, from the scratch arena (which backward has reset). */
static float *group_buffer(m4_model *m, int32_t g) {
    float *b = m4_scratch(m, m->grp_floats[g], true);
    point_group(m, g, b);
    return b;
}

typedef struct {
    m4_model *m;
    size_t tensor;
    int64_t D;
} head_ctx;

static void head_block(void *ctx, int64_t r0, int64_t nr, const float *rows) {
    const head_ctx *h = ctx;
    h->m->sink.grad(h->m->sink.ctx, h->tensor, (size_t)(r0 * h->D), (size_t)(nr * h->D), rows);
}

/* The fused loss of a forward with gradients under a sink. An untied trained head gets its
 * gradient in blocks of 256 vocabulary rows (a multiple of 8-bit AdamW's 256-value blocks
 * for any D) when the batch's logits are no larger than a [V, D] gradient plus a chunk of
 * logits, else whole from scratch; a tied one collects into m->tied_g for the embedding's
 * turn in the backward. Blocks need newt's own GEMM: its bits for a row of dW do not depend
 * on how many rows one call computes, OpenBLAS's do, and the update must stay exactly the
 * one the gradient buffers give. */
kn_xent_result m4_sink_head(m4_model *m, const int32_t *tg, int64_t count, float scale) {
    int64_t N = m->ctx.N, D = m->cfg.hidden_size, V = m->cfg.vocab_size;
    int64_t chunk = m->opt.xent_chunk < N ? m->opt.xent_chunk : N;
    int64_t ih = m4_model_find_param(m, "lm_head.weight");
    m->sink.begin(m->sink.ctx, count);
    if (ih < 0 || !m->trainable[ih])
        return kn_lmhead_xent(m->final_norm, m->p.lm_head, tg, N, D, V, scale, m->dfinal, m->tied_g, NULL,
                              m4_scratch(m, chunk * V, false), chunk);
    if (N <= chunk + D && strcmp(kn_sgemm_impl(), "avx512") == 0) {
        enum { VB = 256 };
        head_ctx hc = {m, (size_t)ih, D};
        return kn_lmhead_xent_dw_blocks(m->final_norm, m->p.lm_head, tg, N, D, V, scale, m->dfinal,
                                        m4_scratch(m, N * V + VB * D, false), VB, head_block, &hc);
    }
    float *dw = m4_scratch(m, V * D, true);
    kn_xent_result r = kn_lmhead_xent(m->final_norm, m->p.lm_head, tg, N, D, V, scale, m->dfinal, dw, NULL,
                                      m4_scratch(m, chunk * V, false), chunk);
    m->sink.grad(m->sink.ctx, (size_t)ih, 0, (size_t)(V * D), dw);
    return r;
}

/* m4_backward under a sink: the same order of work as without one, each group handed over
 * as soon as it is complete. */
nt_status m4_sink_backward(m4_model *m, float *dx, float *dh, nt_err *err) {
    int64_t N = m->ctx.N, D = m->cfg.hidden_size, L = m->cfg.num_layers;
    nt_arena_pos p = m4_scratch_mark(m);
    float *gb = group_buffer(m, (int32_t)(L + G_NORM));
    kn_rmsnorm_bwd(dx, D, m->g.norm, m->dfinal, D, m->xs[L], D, m->p.norm, m->rstd_final, N, D);
    emit_group(m, (int32_t)(L + G_NORM), gb);
    m4_scratch_rollback(m, p);
    for (int64_t l = L - 1; l >= 0; l--) {
        gb = group_buffer(m, (int32_t)l);
        nt_status st = m4_layer_bwd(m, l, dx, dh, err);
        if (st) {
            point_group(m, (int32_t)l, NULL);
            return st;
        }
        emit_group(m, (int32_t)l, gb);
        m4_scratch_rollback(m, p);
    }
    int32_t ge = (int32_t)(L + G_EMBED);
    if (m->grp_floats[ge] == 0) return NT_OK; /* embedding frozen */
    gb = m->tied_g ? m->tied_g : m4_scratch(m, m->grp_floats[ge], true);
    point_group(m, ge, gb);
    kn_embed_bwd(m->g.embed, dx, m->ids, N, D);
    emit_group(m, ge, gb);
    m4_scratch_rollback(m, p);
    return NT_OK;
}
