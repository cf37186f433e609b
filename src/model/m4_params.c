/* Parameter table and the single allocation behind it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_internal.h"
#include "model/m4_names.h"

typedef struct {
    m4_model *m;
    size_t cap;
} table_ctx;

static void add_info(const m4_tensor_spec *t, void *ud) {
    table_ctx *c = ud;
    m4_model *m = c->m;
    if (m->n_info == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        m->info = nt_xrealloc(m->info, c->cap * sizeof *m->info);
    }
    m4_param_info *p = &m->info[m->n_info++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", t->name);
    p->ndim = t->ndim;
    p->numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        p->shape[i] = t->shape[i];
        p->numel *= t->shape[i];
    }
    p->offset = (size_t)m->n_floats;
    m->n_floats += p->numel;
}

void m4_build_table(m4_model *m) {
    m4_config full;
    memset(&full, 0, sizeof full);
    full.text = m->cfg;
    table_ctx c = {m, 0};
    m4_enum_tensors(&full, M4_NAMES_TEXT, false, add_info, &c);
}

/* Offset in m4_layer_params of the field a layer-relative name ("self_attn.q_a_proj.weight")
 * maps to, or SIZE_MAX. */
static size_t layer_field(const char *s) {
    static const struct { const char *name; size_t off; } map[] = {
#define F(n, f) {n, offsetof(m4_layer_params, f)}
        F("input_layernorm.weight", input_norm), F("post_attention_layernorm.weight", post_norm),
        F("self_attn.q_proj.weight", q_proj), F("self_attn.q_a_proj.weight", q_a),
        F("self_attn.q_a_layernorm.weight", q_a_norm), F("self_attn.q_b_proj.weight", q_b),
        F("self_attn.kv_a_proj_with_mqa.weight", kv_a),
        F("self_attn.kv_a_layernorm.weight", kv_a_norm), F("self_attn.kv_b_proj.weight", kv_b),
        F("self_attn.o_proj.weight", o), F("mlp.gate.weight", router),
        F("mlp.experts.gate_up_proj", gate_up), F("mlp.experts.down_proj", down),
        F("mlp.shared_experts.gate_proj.weight", sh_gate),
        F("mlp.shared_experts.up_proj.weight", sh_up),
        F("mlp.shared_experts.down_proj.weight", sh_down), F("mlp.gate_proj.weight", mlp_gate),
        F("mlp.up_proj.weight", mlp_up), F("mlp.down_proj.weight", mlp_down),
#undef F
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(s, map[i].name)) return map[i].off;
    return SIZE_MAX;
}

void m4_point_params(const m4_model *m, float *base, const size_t *offs, m4_params *p) {
    memset(p->layers, 0, (size_t)m->cfg.num_layers * sizeof *p->layers);
    p->embed = p->norm = p->lm_head = NULL;
    for (size_t i = 0; i < m->n_info; i++) {
        const char *n = m->info[i].name;
        float *ptr = base && offs[i] != SIZE_MAX ? base + offs[i] : NULL;
        long l;
        int used = 0;
        if (!strcmp(n, "model.embed_tokens.weight")) p->embed = ptr;
        else if (!strcmp(n, "model.norm.weight")) p->norm = ptr;
        else if (!strcmp(n, "lm_head.weight")) p->lm_head = ptr;
        else if (sscanf(n, "model.layers.%ld.%n", &l, &used) == 1 && used > 0) {
            size_t off = layer_field(n + used);
            if (off != SIZE_MAX) *(float **)((char *)&p->layers[l] + off) = ptr;
        }
    }
    if (m4_model_find_param(m, "lm_head.weight") < 0) p->lm_head = p->embed; /* tied */
}

void m4_index_layers(m4_model *m) {
    size_t nf = M4_LAYER_FIELDS;
    m->lidx = nt_xmalloc((size_t)m->cfg.num_layers * nf * sizeof *m->lidx);
    for (size_t j = 0; j < (size_t)m->cfg.num_layers * nf; j++) m->lidx[j] = -1;
    for (size_t i = 0; i < m->n_info; i++) {
        long l;
        int used = 0;
        if (sscanf(m->info[i].name, "model.layers.%ld.%n", &l, &used) != 1 || used == 0) continue;
        size_t off = layer_field(m->info[i].name + used);
        if (off != SIZE_MAX) m->lidx[(size_t)l * nf + off / sizeof(float *)] = (int32_t)i;
    }
}

int64_t m4_model_find_param(const m4_model *m, const char *name) {
    for (size_t i = 0; i < m->n_info; i++)
        if (!strcmp(m->info[i].name, name)) return (int64_t)i;
    return -1;
}
