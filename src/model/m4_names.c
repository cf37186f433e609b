#include "model/m4_names.h"

#include <stdio.h>
#include <string.h>

const char *m4_group_name(m4_group g) {
    static const char *names[M4_GROUP_COUNT] = {
        "embed_tokens", "lm_head", "norms", "attention (MLA)", "router", "routed experts",
        "shared experts", "dense MLP", "vision tower", "projector", "FP8 scales", "other"};
    return (unsigned)g < M4_GROUP_COUNT ? names[g] : "?";
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

m4_group m4_group_of(const char *name) {
    if (ends_with(name, "_scale_inv") || ends_with(name, "activation_scale") ||
        ends_with(name, ".weight_scale") || ends_with(name, "input_scale"))
        return M4_GROUP_FP8_SCALE;
    if (strstr(name, "vision_tower.") || strstr(name, "vision_encoder.")) return M4_GROUP_VISION;
    if (strstr(name, "multi_modal_projector.")) return M4_GROUP_PROJECTOR;
    if (strstr(name, "embed_tokens.")) return M4_GROUP_EMBED;
    if (strstr(name, "lm_head.")) return M4_GROUP_LM_HEAD;
    if (ends_with(name, "norm.weight") || ends_with(name, "layernorm.weight")) return M4_GROUP_NORM;
    if (strstr(name, ".self_attn.")) return M4_GROUP_ATTENTION;
    if (strstr(name, ".mlp.experts.")) return M4_GROUP_ROUTED_EXPERTS;
    if (strstr(name, ".mlp.shared_experts.")) return M4_GROUP_SHARED_EXPERTS;
    if (strstr(name, ".mlp.gate.")) return M4_GROUP_ROUTER;
    if (strstr(name, ".mlp.")) return M4_GROUP_DENSE_MLP;
    return M4_GROUP_OTHER;
}

typedef struct {
    m4_tensor_cb cb;
    void *ud;
    bool fp8_scales;
    char name[256];
} emitter;

static void emit4(emitter *e, const char *name, m4_group g, bool fp8, int ndim, int64_t d0,
                  int64_t d1, int64_t d2, int64_t d3) {
    m4_tensor_spec t = {.name = name, .ndim = ndim, .shape = {d0, d1, d2, d3}, .group = g, .fp8 = fp8};
    e->cb(&t, e->ud);
}

static void emit(emitter *e, const char *name, m4_group g, bool fp8, int ndim, int64_t d0,
                 int64_t d1, int64_t d2) {
    emit4(e, name, g, fp8, ndim, d0, d1, d2, 0);
}

/* An nn.Linear weight; in the FP8 release also its two scalar scales. */
static void emit_linear(emitter *e, const char *prefix, const char *mod, m4_group g, int64_t out,
                        int64_t in) {
    char name[256];
    snprintf(name, sizeof name, "%s%s.weight", prefix, mod);
    emit(e, name, g, e->fp8_scales, 2, out, in, 0);
    if (!e->fp8_scales) return;
    snprintf(name, sizeof name, "%s%s.weight_scale_inv", prefix, mod);
    emit(e, name, M4_GROUP_FP8_SCALE, false, 0, 0, 0, 0);
    snprintf(name, sizeof name, "%s%s.activation_scale", prefix, mod);
    emit(e, name, M4_GROUP_FP8_SCALE, false, 0, 0, 0, 0);
}

static void emit_vector(emitter *e, const char *prefix, const char *mod, m4_group g, int64_t n) {
    char name[256];
    snprintf(name, sizeof name, "%s%s.weight", prefix, mod);
    emit(e, name, g, false, 1, n, 0, 0);
}

static void emit_attention(emitter *e, const m4_text_config *t, const char *lp) {
    int64_t H = t->hidden_size, nh = t->num_heads, qk = m4_qk_head_dim(t);
    m4_group A = M4_GROUP_ATTENTION;
    if (t->q_lora_rank) {
        emit_linear(e, lp, "self_attn.q_a_proj", A, t->q_lora_rank, H);
        emit_vector(e, lp, "self_attn.q_a_layernorm", M4_GROUP_NORM, t->q_lora_rank);
        emit_linear(e, lp, "self_attn.q_b_proj", A, nh * qk, t->q_lora_rank);
    } else {
        emit_linear(e, lp, "self_attn.q_proj", A, nh * qk, H);
    }
    emit_linear(e, lp, "self_attn.kv_a_proj_with_mqa", A, t->kv_lora_rank + t->qk_rope_head_dim, H);
    emit_vector(e, lp, "self_attn.kv_a_layernorm", M4_GROUP_NORM, t->kv_lora_rank);
    emit_linear(e, lp, "self_attn.kv_b_proj", A, nh * (t->qk_nope_head_dim + t->v_head_dim),
                t->kv_lora_rank);
    emit_linear(e, lp, "self_attn.o_proj", A, H, nh * t->v_head_dim);
}

static void emit_fused_experts(emitter *e, const m4_text_config *t, const char *lp) {
    int64_t E = t->n_routed_experts, F = t->moe_intermediate_size, H = t->hidden_size;
    char name[256];
    snprintf(name, sizeof name, "%smlp.experts.gate_up_proj", lp);
    emit(e, name, M4_GROUP_ROUTED_EXPERTS, e->fp8_scales, 3, E, 2 * F, H);
    snprintf(name, sizeof name, "%smlp.experts.down_proj", lp);
    emit(e, name, M4_GROUP_ROUTED_EXPERTS, e->fp8_scales, 3, E, H, F);
    if (!e->fp8_scales) return;
    static const char *which[] = {"gate_up_proj", "down_proj"};
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%smlp.experts.%s_scale_inv", lp, which[i]);
        emit(e, name, M4_GROUP_FP8_SCALE, false, 3, E, 1, 1);
        snprintf(name, sizeof name, "%smlp.experts.%s_activation_scale", lp, which[i]);
        emit(e, name, M4_GROUP_FP8_SCALE, false, 1, E, 0, 0);
    }
}

static void emit_mlp(emitter *e, const m4_text_config *t, int64_t l, const char *lp) {
    int64_t H = t->hidden_size;
    if (!m4_layer_is_moe(t, l)) {
        int64_t I = t->intermediate_size;
        emit_linear(e, lp, "mlp.gate_proj", M4_GROUP_DENSE_MLP, I, H);
        emit_linear(e, lp, "mlp.up_proj", M4_GROUP_DENSE_MLP, I, H);
        emit_linear(e, lp, "mlp.down_proj", M4_GROUP_DENSE_MLP, H, I);
        return;
    }
    char name[256];
    snprintf(name, sizeof name, "%smlp.gate.weight", lp);
    emit(e, name, M4_GROUP_ROUTER, false, 2, t->n_routed_experts, H, 0);
    emit_fused_experts(e, t, lp);
    if (t->n_shared_experts > 0) {
        int64_t S = t->moe_intermediate_size * t->n_shared_experts;
        emit_linear(e, lp, "mlp.shared_experts.gate_proj", M4_GROUP_SHARED_EXPERTS, S, H);
        emit_linear(e, lp, "mlp.shared_experts.up_proj", M4_GROUP_SHARED_EXPERTS, S, H);
        emit_linear(e, lp, "mlp.shared_experts.down_proj", M4_GROUP_SHARED_EXPERTS, H, S);
    }
}

static void emit_text(emitter *e, const m4_text_config *t, const char *p, const char *head) {
    int64_t H = t->hidden_size;
    char name[256], lp[128];
    snprintf(name, sizeof name, "%sembed_tokens.weight", p);
    emit(e, name, M4_GROUP_EMBED, false, 2, t->vocab_size, H, 0);
    for (int64_t l = 0; l < t->num_layers; l++) {
        snprintf(lp, sizeof lp, "%slayers.%lld.", p, (long long)l);
        emit_vector(e, lp, "input_layernorm", M4_GROUP_NORM, H);
        emit_vector(e, lp, "post_attention_layernorm", M4_GROUP_NORM, H);
        emit_attention(e, t, lp);
        emit_mlp(e, t, l, lp);
    }
    snprintf(name, sizeof name, "%snorm.weight", p);
    emit(e, name, M4_GROUP_NORM, false, 1, H, 0, 0);
    if (!t->tie_word_embeddings) emit(e, head, M4_GROUP_LM_HEAD, false, 2, t->vocab_size, H, 0);
}

static void emit_vision(emitter *e, const m4_config *c, const char *vp, const char *pp) {
    const m4_vision_config *v = &c->vision;
    int64_t D = v->hidden_size, ps = v->patch_size, I = v->intermediate_size, m = c->spatial_merge_size;
    char name[256], lp[128];
    snprintf(name, sizeof name, "%spatch_conv.weight", vp);
    emit4(e, name, M4_GROUP_VISION, false, 4, D, v->num_channels, ps, ps);
    emit_vector(e, vp, "ln_pre", M4_GROUP_VISION, D);
    static const char *attn[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
    for (int64_t l = 0; l < v->num_layers; l++) {
        snprintf(lp, sizeof lp, "%stransformer.layers.%lld.", vp, (long long)l);
        emit_vector(e, lp, "attention_norm", M4_GROUP_VISION, D);
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "%sattention.%s.weight", lp, attn[i]);
            emit(e, name, M4_GROUP_VISION, false, 2, D, D, 0);
        }
        emit_vector(e, lp, "ffn_norm", M4_GROUP_VISION, D);
        snprintf(name, sizeof name, "%sfeed_forward.gate_proj.weight", lp);
        emit(e, name, M4_GROUP_VISION, false, 2, I, D, 0);
        snprintf(name, sizeof name, "%sfeed_forward.up_proj.weight", lp);
        emit(e, name, M4_GROUP_VISION, false, 2, I, D, 0);
        snprintf(name, sizeof name, "%sfeed_forward.down_proj.weight", lp);
        emit(e, name, M4_GROUP_VISION, false, 2, D, I, 0);
    }
    int64_t Ht = c->text.hidden_size;
    emit_vector(e, pp, "norm", M4_GROUP_PROJECTOR, D);
    snprintf(name, sizeof name, "%spatch_merger.merging_layer.weight", pp);
    emit(e, name, M4_GROUP_PROJECTOR, false, 2, D, D * m * m, 0);
    snprintf(name, sizeof name, "%slinear_1.weight", pp);
    emit(e, name, M4_GROUP_PROJECTOR, false, 2, Ht, D, 0);
    snprintf(name, sizeof name, "%slinear_2.weight", pp);
    emit(e, name, M4_GROUP_PROJECTOR, false, 2, Ht, Ht, 0);
}

void m4_enum_tensors(const m4_config *cfg, m4_naming naming, bool fp8_scales, m4_tensor_cb cb,
                     void *ud) {
    emitter e = {.cb = cb, .ud = ud, .fp8_scales = fp8_scales};
    switch (naming) {
    case M4_NAMES_TEXT: emit_text(&e, &cfg->text, "model.", "lm_head.weight"); break;
    case M4_NAMES_V5:
        emit_text(&e, &cfg->text, "model.language_model.", "lm_head.weight");
        if (cfg->has_vision)
            emit_vision(&e, cfg, "model.vision_tower.", "model.multi_modal_projector.");
        break;
    case M4_NAMES_LEGACY:
        emit_text(&e, &cfg->text, "language_model.model.", "language_model.lm_head.weight");
        if (cfg->has_vision) emit_vision(&e, cfg, "vision_tower.", "multi_modal_projector.");
        break;
    }
}
