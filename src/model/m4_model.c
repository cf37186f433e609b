/* Model object: construction, options, accessors, gradient buffers. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_internal.h"
#include "model/m4_lora.h"

void m4_build_table(m4_model *m);

/* transformers: scaling = qk_head_dim^-½, times mscale(factor, mscale_all_dim)² when the
 * rope is not default and mscale_all_dim is set (spec §2.4 step 11, §9.1). */
static double hf_softmax_scale(const m4_text_config *c) {
    double s = 1.0 / sqrt((double)m4_qk_head_dim(c));
    const m4_rope *r = &c->rope;
    if (r->type != M4_ROPE_DEFAULT && r->mscale_all_dim != 0 && r->factor > 1) {
        double ms = 0.1 * r->mscale_all_dim * log(r->factor) + 1.0;
        s *= ms * ms;
    }
    return s;
}

/* YaRN's cos/sin magnitude: mscale(f, mscale)/mscale(f, mscale_all_dim) when both are set,
 * else mscale(f, 1). */
static double yarn_attention_factor(const m4_rope *r) {
    if (r->type != M4_ROPE_YARN) return 1.0;
    double f = r->factor;
#define MS(m) (f <= 1 ? 1.0 : 0.1 * (m) * log(f) + 1.0)
    if (r->mscale != 0 && r->mscale_all_dim != 0) return MS(r->mscale) / MS(r->mscale_all_dim);
    return MS(1.0);
#undef MS
}

static nt_status check_config(const m4_text_config *c, nt_err *err) {
    if (c->qk_rope_head_dim % 2)
        return nt_err_set(err, NT_EINVAL, "qk_rope_head_dim %lld is odd", (long long)c->qk_rope_head_dim);
    if (c->n_routed_experts > 4096)
        return nt_err_set(err, NT_EUNSUPPORTED, "n_routed_experts %lld > 4096", (long long)c->n_routed_experts);
    if (c->n_group > 0 && c->n_routed_experts % c->n_group)
        return nt_err_set(err, NT_EINVAL, "n_routed_experts not divisible by n_group");
    if (strcmp(c->hidden_act, "silu") != 0)
        return nt_err_set(err, NT_EUNSUPPORTED, "hidden_act '%s' (only silu)", c->hidden_act);
    if (c->num_kv_heads != c->num_heads)
        return nt_err_set(err, NT_EUNSUPPORTED, "num_key_value_heads != num_attention_heads");
    return NT_OK;
}

static void setup_rope(m4_model *m) {
    const m4_text_config *c = &m->cfg;
    kn_rope_params rp = {
        .theta = c->rope.theta, .dim = c->qk_rope_head_dim, .yarn = c->rope.type == M4_ROPE_YARN,
        .factor = c->rope.factor, .original_max = c->rope.original_max_positions,
        .beta_fast = c->rope.beta_fast ? c->rope.beta_fast : 32,
        .beta_slow = c->rope.beta_slow ? c->rope.beta_slow : 1,
    };
    m->inv_freq = nt_xcalloc((size_t)(rp.dim / 2 + 1), sizeof(float));
    kn_rope_inv_freq(&rp, m->inv_freq);
    m->rope_attention_factor = (float)yarn_attention_factor(&c->rope);
}

/* lm_head + loss rows per chunk: a 32 MiB logits block (256 rows at vocab 32768, 64 at the
 * release's 131072), clamped to 64..1024 rows. Larger chunks mean larger, more efficient GEMMs
 * (about 10 % less CPU per step on the benchmark model at 256 rows than at 64). */
static int64_t default_xent_chunk(int64_t V) {
    int64_t rows = V > 0 ? ((int64_t)32 << 20) / (V * (int64_t)sizeof(float)) : 64;
    return rows < 64 ? 64 : rows > 1024 ? 1024 : rows;
}

void m4_model_set_options(m4_model *m, const m4_options *opt) {
    if (opt) m->opt = *opt;
    if (m->opt.xent_chunk <= 0) m->opt.xent_chunk = default_xent_chunk(m->cfg.vocab_size);
    double s = m->opt.softmax_scale > 0 ? m->opt.softmax_scale : hf_softmax_scale(&m->cfg);
    m->softmax_scale = (float)s;
}

nt_status m4_model_new(const m4_text_config *cfg, const m4_options *opt, m4_model **out,
                       nt_err *err) {
    *out = NULL;
    if (check_config(cfg, err)) return err ? err->code : NT_EINVAL;
    m4_model *m = nt_xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m4_build_table(m);
    m->params = calloc((size_t)m->n_floats, sizeof(float));
    if (!m->params) {
        long long n = (long long)m->n_floats;
        free(m->info);
        free(m);
        return nt_err_set(err, NT_ENOMEM, "parameters: %lld floats", n);
    }
    m->n_pfloats = m->n_floats;
    m->trainable = nt_xmalloc(m->n_info * sizeof *m->trainable + 1);
    m->pol = nt_xcalloc(m->n_info + 1, sizeof *m->pol);
    m->store = nt_xcalloc(m->n_info + 1, sizeof *m->store);
    m->poff = nt_xmalloc(m->n_info * sizeof *m->poff + 1);
    m->goff = nt_xmalloc(m->n_info * sizeof *m->goff + 1);
    for (size_t i = 0; i < m->n_info; i++) {
        m->trainable[i] = true;
        m->pol[i] = (m4_param_policy){.trainable = true, .storage = TN_F32};
        m->store[i].dtype = TN_F32;
        m->poff[i] = m->info[i].offset;
        m->goff[i] = SIZE_MAX;
    }
    m->p.layers = nt_xcalloc((size_t)cfg->num_layers, sizeof(m4_layer_params));
    m->g.layers = nt_xcalloc((size_t)cfg->num_layers, sizeof(m4_layer_params));
    m4_point_params(m, m->params, m->poff, &m->p);
    m4_index_layers(m);
    m->router = (kn_router_params){
        .n_experts = cfg->n_routed_experts, .top_k = cfg->experts_per_tok,
        .n_group = cfg->n_group > 0 ? cfg->n_group : 1, .topk_group = cfg->topk_group > 0 ? cfg->topk_group : 1,
        .norm_topk_prob = cfg->norm_topk_prob, .routed_scaling_factor = (float)cfg->routed_scaling_factor};
    setup_rope(m);
    m4_model_set_options(m, opt);
    nt_arena_init(&m->acts_arena, 0);
    nt_arena_init(&m->scratch, 0);
    *out = m;
    return NT_OK;
}

void m4_model_free(m4_model *m) {
    if (!m) return;
    m4_lora_free(m->lora);
    nt_arena_free(&m->acts_arena);
    nt_arena_free(&m->scratch);
    for (int i = 0; i < m->n_tscratch; i++) nt_arena_free(&m->tscratch[i]);
    free(m->tscratch);
    free(m->params);
    free(m->grads);
    for (size_t i = 0; i < m->n_info; i++) m4_store_free(&m->store[i]);
    free(m->store);
    free(m->trainable);
    free(m->pol);
    free(m->poff);
    free(m->goff);
    free(m->lidx);
    m4_sink_free(m);
    free(m->p.layers);
    free(m->g.layers);
    free(m->info);
    free(m->inv_freq);
    free(m);
}

const m4_text_config *m4_model_config(const m4_model *m) { return &m->cfg; }
size_t m4_model_num_params(const m4_model *m) { return m->n_info; }
const m4_param_info *m4_model_param(const m4_model *m, size_t i) { return &m->info[i]; }
float *m4_model_param_data(m4_model *m, size_t i) {
    return m->poff[i] == SIZE_MAX ? NULL : m->params + m->poff[i];
}
float *m4_model_grad_data(m4_model *m, size_t i) {
    m->grads_zero = false; /* the caller may write through the pointer */
    return m->grads && m->goff[i] != SIZE_MAX ? m->grads + m->goff[i] : NULL;
}
const m4_params *m4_model_params(const m4_model *m) { return &m->p; }
int64_t m4_model_num_floats(const m4_model *m) { return m->n_floats; }

/* Trainable tensors only, in table order (so with everything trainable the layout is the
 * parameter table's). */
nt_status m4_model_alloc_grads(m4_model *m, nt_err *err) {
    if (m->grads_ready) return NT_OK;
    if (m->sink.grad) return m4_sink_layout(m, err);
    int64_t n = 0;
    for (size_t i = 0; i < m->n_info; i++) {
        m->goff[i] = m->trainable[i] ? (size_t)n : SIZE_MAX;
        if (m->trainable[i]) n += m->info[i].numel;
    }
    if (n == 0) {
        m4_point_params(m, NULL, m->goff, &m->g);
        m->grads_ready = true;
        return NT_OK;
    }
    m->grads = calloc((size_t)n, sizeof(float));
    if (!m->grads) return nt_err_set(err, NT_ENOMEM, "gradients: %lld floats", (long long)n);
    m->n_gfloats = n;
    m->grads_ready = true;
    m4_point_params(m, m->grads, m->goff, &m->g);
    return NT_OK;
}

int64_t m4_model_num_grad_floats(const m4_model *m) { return m->grads ? m->n_gfloats : 0; }

/* Skipping the memset when the optimizer step has already zeroed everything saves a write
 * of the whole gradient allocation per step (~250 MB for the benchmark model's full
 * fine-tune). */
void m4_model_zero_grads(m4_model *m) {
    if (m->grads_zero) return;
    if (m->grads) memset(m->grads, 0, (size_t)m->n_gfloats * sizeof(float));
    m4_lora_zero_grads(m);
    m->grads_zero = true;
}

void m4_model_grads_zeroed(m4_model *m) { m->grads_zero = true; }

void m4_scratch_begin(m4_model *m) {
    nt_arena_reset(&m->scratch);
    int n = omp_get_max_threads();
    if (n > m->n_tscratch) {
        m->tscratch = nt_xrealloc(m->tscratch, (size_t)n * sizeof *m->tscratch);
        for (int i = m->n_tscratch; i < n; i++) nt_arena_init(&m->tscratch[i], 0);
        m->n_tscratch = n;
    }
    for (int i = 0; i < m->n_tscratch; i++) nt_arena_reset(&m->tscratch[i]);
}

/* The team member number at the outermost active level (inner regions run on one thread
 * unless nesting is enabled, and then they share their ancestor's arena: no m4 code takes
 * scratch from such a region). Even the team's master gets its own arena, so that code
 * which marks and rolls back m->scratch inside the region (with no allocation of its own
 * there) never disturbs another thread's blocks. */
static nt_arena *scratch_arena(m4_model *m) {
    if (omp_get_active_level() == 0) return &m->scratch;
    for (int l = 1, n = omp_get_level(); l <= n; l++)
        if (omp_get_team_size(l) > 1) {
            int t = omp_get_ancestor_thread_num(l);
            if (t < 0 || t >= m->n_tscratch) abort(); /* a team larger than m4_scratch_begin saw */
            return &m->tscratch[t];
        }
    return &m->scratch;
}

nt_arena_pos m4_scratch_mark(m4_model *m) { return nt_arena_mark(scratch_arena(m)); }
void m4_scratch_rollback(m4_model *m, nt_arena_pos pos) { nt_arena_rollback(scratch_arena(m), pos); }

float *m4_scratch(m4_model *m, int64_t nfloats, bool zero) {
    float *p = nt_arena_alloc(scratch_arena(m), (size_t)(nfloats > 0 ? nfloats : 1) * sizeof(float), 0);
    if (!p) abort();
    if (zero) memset(p, 0, (size_t)(nfloats > 0 ? nfloats : 0) * sizeof(float));
    return p;
}
