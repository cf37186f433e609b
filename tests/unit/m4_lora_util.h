/* Shared setup for the LoRA tests: the tiny fixture's config shrunk to hidden 40 and expert
 * width 10 (NF4 blocks straddle rows and experts), layer 0 dense and layer 1 MoE, and the
 * adapters on every linear plus the fused experts and the router. */
#ifndef NEWT_TEST_M4_LORA_UTIL_H
#define NEWT_TEST_M4_LORA_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/m4_internal.h"
#include "model/m4_load.h"
#include "model/m4_lora.h"
#include "train/lora_target.h"

#define TINY "tests/fixtures/mistral4-tiny"
#define B_ 2
#define T_ 12
#define RANK 3

typedef struct {
    m4_config full;
    int32_t ids[B_ * T_], labels[B_ * T_];
    m4_batch b;
    tr_result res;
} lsetup;

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }
static float unif(uint32_t *s) { return (float)(lcg(s) >> 8) * 0x1p-24f * 2.0f - 1.0f; }

static const char *const EXPERT_PARAMS[] = {"mlp.experts.gate_up_proj", "mlp.experts.down_proj",
                                            "mlp.gate.weight"};

/* with_params: fused experts and router as parameter targets too (no dropout then). */
static int lsetup_make(lsetup *s, bool with_params, double dropout) {
    nt_err err = {0};
    m4_weights *w = NULL;
    if (m4_weights_open(TINY, &w, &err)) return fprintf(stderr, "  %s\n", err.msg), 1;
    s->full = *m4_weights_config(w);
    m4_weights_close(w);
    m4_text_config *c = &s->full.text;
    c->hidden_size = 40;
    c->moe_intermediate_size = 10;
    c->intermediate_size = 50;
    c->first_k_dense_replace = 1;
    uint32_t st = 7;
    for (int i = 0; i < B_ * T_; i++) {
        s->ids[i] = (int32_t)(lcg(&st) % (uint32_t)c->vocab_size);
        s->labels[i] = i % 5 == 1 ? -100 : (int32_t)(lcg(&st) % (uint32_t)c->vocab_size);
    }
    s->b = (m4_batch){B_, T_, s->ids, s->labels, NULL, NULL};
    tr_spec sp = {.target_linear = true, .lora_dropout = dropout};
    if (with_params) sp.parameters = EXPERT_PARAMS, sp.n_parameters = 3;
    if (tr_resolve(&s->full, &sp, &s->res, &err)) return fprintf(stderr, "  %s\n", err.msg), 1;
    return 0;
}

/* Every tensor trainable f32: norms near 1, everything else ±0.15, from the seed (inline: not
 * every includer uses it). */
static inline m4_model *lfull(const m4_text_config *c, const m4_options *mo, uint32_t seed, nt_err *err) {
    m4_model *m = NULL;
    if (m4_model_new(c, mo, &m, err)) return NULL;
    for (size_t i = 0; i < m4_model_num_params(m); i++) {
        const m4_param_info *p = m4_model_param(m, i);
        float *v = m4_model_param_data(m, i);
        for (int64_t j = 0; j < p->numel; j++) v[j] = (p->ndim == 1 ? 1.0f : 0.0f) + 0.15f * unif(&seed);
    }
    return m;
}

/* Base weights (norms near 1, matrices ±0.15, embedding ±0.5), every base tensor frozen,
 * linear weights stored as dt. */
static m4_model *lmodel(const lsetup *s, tn_dtype dt, nt_err *err) {
    m4_model *m = NULL;
    if (m4_model_new(&s->full.text, NULL, &m, err)) return NULL;
    uint32_t st = 12345;
    for (size_t i = 0; i < m4_model_num_params(m); i++) {
        const m4_param_info *p = m4_model_param(m, i);
        float *v = m4_model_param_data(m, i);
        bool norm = p->ndim == 1, emb = !strcmp(p->name, "model.embed_tokens.weight");
        for (int64_t j = 0; j < p->numel; j++)
            v[j] = norm ? 1.0f + 0.1f * unif(&st) : (emb ? 0.5f : 0.15f) * unif(&st);
    }
    if (m4_model_freeze_base(m, dt, false, err)) {
        m4_model_free(m);
        return NULL;
    }
    return m;
}

static nt_status lattach(m4_model *m, const lsetup *s, double dropout, nt_err *err) {
    m4_lora_opts o = {.r = RANK, .alpha = 5, .use_rslora = false, .dropout = dropout, .seed = 42};
    return m4_lora_attach(m, &s->res, &o, err);
}

/* Every adapter value uniform ±amp (B too, so every gradient is non-trivial). */
static inline void lrandomize(m4_model *m, float amp, uint32_t seed) {
    float *p = m4_lora_params(m);
    for (int64_t i = 0; i < m4_lora_num_floats(m); i++) p[i] = amp * unif(&seed);
}

/* ‖a − b‖ / ‖b‖ */
static inline double lrel(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Text-layout tensor name a target's adapter applies to. */
static inline void ltensor_name(const tr_target *t, char *out, size_t n) {
    snprintf(out, n, t->kind == TR_MODULE ? "%s.weight" : "%s", t->name);
}

#endif
