#include "model/m4_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Typed lookups with defaults; `where` names the object ("" or "text_config."). */
static nt_status get_int(const val *obj, const char *where, const char *key, int64_t def,
                         int64_t *out, nt_err *err) {
    const val *v = obj ? val_dict_get(obj, key) : NULL;
    if (!v || v->kind == VAL_NULL) {
        *out = def;
        return NT_OK;
    }
    if (v->kind == VAL_INT) {
        *out = v->u.i;
        return NT_OK;
    }
    if (v->kind == VAL_FLOAT && v->u.f == floor(v->u.f) && fabs(v->u.f) < 9e15) {
        *out = (int64_t)v->u.f;
        return NT_OK;
    }
    return nt_err_set(err, NT_EINVAL, "%s%s: expected an integer, got %s", where, key,
                      val_kind_name(v->kind));
}

static nt_status get_num(const val *obj, const char *where, const char *key, double def,
                         double *out, nt_err *err) {
    const val *v = obj ? val_dict_get(obj, key) : NULL;
    if (!v || v->kind == VAL_NULL) {
        *out = def;
        return NT_OK;
    }
    if (v->kind == VAL_INT || v->kind == VAL_FLOAT) {
        *out = val_to_double(v);
        return NT_OK;
    }
    return nt_err_set(err, NT_EINVAL, "%s%s: expected a number, got %s", where, key,
                      val_kind_name(v->kind));
}

static nt_status get_bool(const val *obj, const char *where, const char *key, bool def,
                          bool *out, nt_err *err) {
    const val *v = obj ? val_dict_get(obj, key) : NULL;
    if (!v || v->kind == VAL_NULL) {
        *out = def;
        return NT_OK;
    }
    if (v->kind == VAL_BOOL) {
        *out = v->u.b;
        return NT_OK;
    }
    return nt_err_set(err, NT_EINVAL, "%s%s: expected true or false, got %s", where, key,
                      val_kind_name(v->kind));
}

static nt_status get_str(const val *obj, const char *where, const char *key, const char *def,
                         char *out, size_t cap, nt_err *err) {
    const val *v = obj ? val_dict_get(obj, key) : NULL;
    const char *s = def;
    if (v && v->kind != VAL_NULL) {
        if (v->kind != VAL_STR)
            return nt_err_set(err, NT_EINVAL, "%s%s: expected a string, got %s", where, key,
                              val_kind_name(v->kind));
        s = v->u.str.s;
    }
    if (strlen(s) >= cap)
        return nt_err_set(err, NT_EINVAL, "%s%s: value '%.40s' is too long", where, key, s);
    strcpy(out, s);
    return NT_OK;
}

/* RoPE: transformers v5 writes `rope_parameters` (with rope_theta inside); older configs use
 * `rope_scaling` plus a top-level `rope_theta`. Both spell the type `type` or `rope_type`. */
static nt_status parse_rope(const val *tc, const char *w, m4_rope *r, nt_err *err) {
    const val *rp = val_dict_get(tc, "rope_parameters");
    const char *rw = "rope_parameters.";
    if (!rp || rp->kind == VAL_NULL) {
        rp = val_dict_get(tc, "rope_scaling");
        rw = "rope_scaling.";
    }
    if (rp && rp->kind == VAL_NULL) rp = NULL;
    if (rp && rp->kind != VAL_DICT)
        return nt_err_set(err, NT_EINVAL, "%s%.*s: expected an object", w, (int)strlen(rw) - 1, rw);
    char where[96], type[32];
    snprintf(where, sizeof where, "%s%s", w, rw);
    nt_status st;
    double theta_top;
    if ((st = get_num(tc, w, "rope_theta", 10000.0, &theta_top, err))) return st;
    if ((st = get_num(rp, where, "rope_theta", theta_top, &r->theta, err))) return st;
    const val *tv = rp ? val_dict_get(rp, "rope_type") : NULL;
    if ((st = get_str(rp, where, tv ? "rope_type" : "type", "default", type, sizeof type, err)))
        return st;
    if (!strcmp(type, "yarn")) r->type = M4_ROPE_YARN;
    else if (!strcmp(type, "default")) r->type = M4_ROPE_DEFAULT;
    else return nt_err_set(err, NT_EUNSUPPORTED, "%stype: RoPE type '%s' is not supported "
                           "(supported: default, yarn)", where, type);
    double omax;
    if ((st = get_num(rp, where, "factor", 1.0, &r->factor, err)) ||
        (st = get_num(rp, where, "original_max_position_embeddings", 0, &omax, err)) ||
        (st = get_num(rp, where, "beta_fast", 32.0, &r->beta_fast, err)) ||
        (st = get_num(rp, where, "beta_slow", 1.0, &r->beta_slow, err)) ||
        (st = get_num(rp, where, "mscale", 0.0, &r->mscale, err)) ||
        (st = get_num(rp, where, "mscale_all_dim", 0.0, &r->mscale_all_dim, err)))
        return st;
    double beta_top;
    if ((st = get_num(tc, w, "llama_4_scaling_beta", 0.0, &beta_top, err)) ||
        (st = get_num(rp, where, "llama_4_scaling_beta", beta_top, &r->llama_4_scaling_beta, err)))
        return st;
    r->original_max_positions = (int64_t)omax;
    if (r->type == M4_ROPE_YARN && (r->factor <= 0 || r->original_max_positions <= 0))
        return nt_err_set(err, NT_EINVAL, "%s: yarn needs factor > 0 and "
                          "original_max_position_embeddings > 0", where);
    return NT_OK;
}

static nt_status parse_text_dims(const val *tc, const char *w, m4_text_config *t, nt_err *err) {
    nt_status st;
    if ((st = get_int(tc, w, "hidden_size", 4096, &t->hidden_size, err)) ||
        (st = get_int(tc, w, "num_hidden_layers", 36, &t->num_layers, err)) ||
        (st = get_int(tc, w, "num_attention_heads", 32, &t->num_heads, err)) ||
        (st = get_int(tc, w, "num_key_value_heads", t->num_heads, &t->num_kv_heads, err)) ||
        (st = get_int(tc, w, "q_lora_rank", 1024, &t->q_lora_rank, err)) ||
        (st = get_int(tc, w, "kv_lora_rank", 256, &t->kv_lora_rank, err)) ||
        (st = get_int(tc, w, "qk_nope_head_dim", 64, &t->qk_nope_head_dim, err)) ||
        (st = get_int(tc, w, "qk_rope_head_dim", 64, &t->qk_rope_head_dim, err)) ||
        (st = get_int(tc, w, "v_head_dim", 128, &t->v_head_dim, err)) ||
        (st = get_int(tc, w, "n_routed_experts", 128, &t->n_routed_experts, err)) ||
        (st = get_int(tc, w, "n_shared_experts", 1, &t->n_shared_experts, err)) ||
        (st = get_int(tc, w, "num_experts_per_tok", 4, &t->experts_per_tok, err)) ||
        (st = get_int(tc, w, "moe_intermediate_size", 2048, &t->moe_intermediate_size, err)) ||
        (st = get_int(tc, w, "intermediate_size", 12288, &t->intermediate_size, err)) ||
        (st = get_int(tc, w, "first_k_dense_replace", 0, &t->first_k_dense_replace, err)) ||
        (st = get_int(tc, w, "n_group", 1, &t->n_group, err)) ||
        (st = get_int(tc, w, "topk_group", 1, &t->topk_group, err)) ||
        (st = get_int(tc, w, "vocab_size", 131072, &t->vocab_size, err)) ||
        (st = get_int(tc, w, "max_position_embeddings", 1048576, &t->max_position_embeddings, err)) ||
        (st = get_int(tc, w, "bos_token_id", 1, &t->bos_token_id, err)) ||
        (st = get_int(tc, w, "eos_token_id", 2, &t->eos_token_id, err)) ||
        (st = get_int(tc, w, "pad_token_id", 11, &t->pad_token_id, err)))
        return st;
    /* null q_lora_rank (DeepSeek-V2-Lite style) means "no query compression". */
    const val *q = val_dict_get(tc, "q_lora_rank");
    if (q && q->kind == VAL_NULL) t->q_lora_rank = 0;
    return NT_OK;
}

static nt_status parse_text_flags(const val *tc, const char *w, m4_text_config *t, nt_err *err) {
    nt_status st;
    if ((st = get_bool(tc, w, "norm_topk_prob", true, &t->norm_topk_prob, err)) ||
        (st = get_bool(tc, w, "attention_bias", false, &t->attention_bias, err)) ||
        (st = get_bool(tc, w, "tie_word_embeddings", false, &t->tie_word_embeddings, err)) ||
        (st = get_bool(tc, w, "rope_interleave", true, &t->rope_interleave, err)) ||
        (st = get_num(tc, w, "routed_scaling_factor", 1.0, &t->routed_scaling_factor, err)) ||
        (st = get_num(tc, w, "rms_norm_eps", 1e-6, &t->rms_norm_eps, err)) ||
        (st = get_num(tc, w, "initializer_range", 0.02, &t->initializer_range, err)) ||
        (st = get_str(tc, w, "hidden_act", "silu", t->hidden_act, sizeof t->hidden_act, err)))
        return st;
    return parse_rope(tc, w, &t->rope, err);
}

static nt_status check_positive(const char *w, const char *key, int64_t v, nt_err *err) {
    if (v > 0) return NT_OK;
    return nt_err_set(err, NT_EINVAL, "%s%s: must be positive, got %lld", w, key, (long long)v);
}

static nt_status check_text(const char *w, const m4_text_config *t, nt_err *err) {
    nt_status st;
    if ((st = check_positive(w, "hidden_size", t->hidden_size, err)) ||
        (st = check_positive(w, "num_hidden_layers", t->num_layers, err)) ||
        (st = check_positive(w, "num_attention_heads", t->num_heads, err)) ||
        (st = check_positive(w, "kv_lora_rank", t->kv_lora_rank, err)) ||
        (st = check_positive(w, "qk_rope_head_dim", t->qk_rope_head_dim, err)) ||
        (st = check_positive(w, "v_head_dim", t->v_head_dim, err)) ||
        (st = check_positive(w, "vocab_size", t->vocab_size, err)))
        return st;
    if (t->qk_rope_head_dim % 2)
        return nt_err_set(err, NT_EINVAL, "%sqk_rope_head_dim: must be even, got %lld", w,
                          (long long)t->qk_rope_head_dim);
    if (t->n_routed_experts > 0 && (t->experts_per_tok <= 0 || t->experts_per_tok > t->n_routed_experts))
        return nt_err_set(err, NT_EINVAL, "%snum_experts_per_tok: must be in 1..n_routed_experts "
                          "(%lld), got %lld", w, (long long)t->n_routed_experts,
                          (long long)t->experts_per_tok);
    if (t->n_group <= 0 || (t->n_routed_experts > 0 && t->n_routed_experts % t->n_group) ||
        t->topk_group <= 0 || t->topk_group > t->n_group)
        return nt_err_set(err, NT_EINVAL, "%sn_group/topk_group: need n_group dividing "
                          "n_routed_experts and 1 <= topk_group <= n_group (got %lld/%lld)", w,
                          (long long)t->n_group, (long long)t->topk_group);
    if (strcmp(t->hidden_act, "silu"))
        return nt_err_set(err, NT_EUNSUPPORTED, "%shidden_act: '%s' is not supported (silu)", w,
                          t->hidden_act);
    return NT_OK;
}

static nt_status parse_vision(const val *vc, m4_config *cfg, nt_err *err) {
    const char *w = "vision_config.";
    m4_vision_config *v = &cfg->vision;
    const val *rp = val_dict_get(vc, "rope_parameters");
    nt_status st;
    double theta;
    if ((st = get_num(vc, w, "rope_theta", 10000.0, &theta, err))) return st;
    if (rp && rp->kind == VAL_DICT &&
        (st = get_num(rp, "vision_config.rope_parameters.", "rope_theta", theta, &theta, err)))
        return st;
    v->rope_theta = theta;
    if ((st = get_int(vc, w, "hidden_size", 1024, &v->hidden_size, err)) ||
        (st = get_int(vc, w, "num_hidden_layers", 24, &v->num_layers, err)) ||
        (st = get_int(vc, w, "num_attention_heads", 16, &v->num_heads, err)) ||
        (st = get_int(vc, w, "head_dim", v->num_heads ? v->hidden_size / v->num_heads : 0,
                      &v->head_dim, err)) ||
        (st = get_int(vc, w, "intermediate_size", 4096, &v->intermediate_size, err)) ||
        (st = get_int(vc, w, "patch_size", 14, &v->patch_size, err)) ||
        (st = get_int(vc, w, "num_channels", 3, &v->num_channels, err)) ||
        (st = get_int(vc, w, "image_size", 1540, &v->image_size, err)) ||
        (st = get_str(vc, w, "hidden_act", "silu", v->hidden_act, sizeof v->hidden_act, err)) ||
        (st = check_positive(w, "hidden_size", v->hidden_size, err)) ||
        (st = check_positive(w, "num_hidden_layers", v->num_layers, err)) ||
        (st = check_positive(w, "patch_size", v->patch_size, err)))
        return st;
    return NT_OK;
}

static nt_status parse_wrapper(const val *root, m4_config *cfg, nt_err *err) {
    nt_status st;
    if ((st = get_int(root, "", "image_token_index", 10, &cfg->image_token_index, err)) ||
        (st = get_int(root, "", "spatial_merge_size", 2, &cfg->spatial_merge_size, err)) ||
        (st = get_int(root, "", "vision_feature_layer", -1, &cfg->vision_feature_layer, err)) ||
        (st = get_bool(root, "", "multimodal_projector_bias", false, &cfg->projector_bias, err)) ||
        (st = get_str(root, "", "projector_hidden_act", "gelu", cfg->projector_act,
                      sizeof cfg->projector_act, err)))
        return st;
    const val *vc = val_dict_get(root, "vision_config");
    if (vc && vc->kind == VAL_DICT) {
        cfg->has_vision = true;
        return parse_vision(vc, cfg, err);
    }
    return NT_OK;
}

nt_status m4_config_from_val(const val *root, m4_config *cfg, nt_err *err) {
    memset(cfg, 0, sizeof *cfg);
    if (!val_is(root, VAL_DICT)) return nt_err_set(err, NT_EINVAL, "config is not a JSON object");
    const val *arch = val_dict_get(root, "architectures");
    if (val_is(arch, VAL_LIST) && val_list_len(arch) > 0 && val_is(val_list_get(arch, 0), VAL_STR))
        snprintf(cfg->architecture, sizeof cfg->architecture, "%s", val_list_get(arch, 0)->u.str.s);
    const val *tc = val_dict_get(root, "text_config");
    const char *w = "";
    nt_status st;
    if (tc && tc->kind != VAL_NULL) {
        if (tc->kind != VAL_DICT) return nt_err_set(err, NT_EINVAL, "text_config: expected an object");
        w = "text_config.";
        if ((st = parse_wrapper(root, cfg, err))) return st;
    } else {
        tc = root;
    }
    const val *mt = val_dict_get(tc, "model_type");
    if (val_is(mt, VAL_STR) && strcmp(mt->u.str.s, "mistral4") && strcmp(mt->u.str.s, "deepseek_v3"))
        return nt_err_set(err, NT_EUNSUPPORTED, "%smodel_type: '%s' is not supported "
                          "(mistral4, deepseek_v3)", w, mt->u.str.s);
    if ((st = parse_text_dims(tc, w, &cfg->text, err)) ||
        (st = parse_text_flags(tc, w, &cfg->text, err)))
        return st;
    /* The wrapper's tie_word_embeddings governs the head of a VLM. */
    if (tc != root && (st = get_bool(root, "", "tie_word_embeddings",
                                     cfg->text.tie_word_embeddings,
                                     &cfg->text.tie_word_embeddings, err)))
        return st;
    return check_text(w, &cfg->text, err);
}

static void count_text(const m4_text_config *t, m4_param_counts *c) {
    int64_t H = t->hidden_size, nh = t->num_heads, qk = m4_qk_head_dim(t);
    int64_t q = t->q_lora_rank ? t->q_lora_rank * H + t->q_lora_rank + nh * qk * t->q_lora_rank
                               : nh * qk * H;
    int64_t kv = (t->kv_lora_rank + t->qk_rope_head_dim) * H + t->kv_lora_rank +
                 nh * (t->qk_nope_head_dim + t->v_head_dim) * t->kv_lora_rank;
    int64_t o = H * nh * t->v_head_dim;
    int64_t F = t->moe_intermediate_size;
    c->embed = t->vocab_size * H;
    c->lm_head = t->tie_word_embeddings ? 0 : t->vocab_size * H;
    c->norms = H; /* final norm */
    for (int64_t l = 0; l < t->num_layers; l++) {
        c->norms += 2 * H;
        c->attention += q + kv + o;
        if (m4_layer_is_moe(t, l)) {
            c->router += t->n_routed_experts * H;
            c->routed_experts += t->n_routed_experts * 3 * F * H;
            c->shared_experts += 3 * F * t->n_shared_experts * H;
        } else {
            c->dense_mlp += 3 * t->intermediate_size * H;
        }
    }
    c->text_total = c->embed + c->lm_head + c->norms + c->attention + c->router +
                    c->routed_experts + c->shared_experts + c->dense_mlp;
}

void m4_count_params(const m4_config *cfg, m4_param_counts *c) {
    memset(c, 0, sizeof *c);
    count_text(&cfg->text, c);
    if (cfg->has_vision) {
        const m4_vision_config *v = &cfg->vision;
        int64_t D = v->hidden_size, ps = v->patch_size, m = cfg->spatial_merge_size;
        int64_t layer = 2 * D + 4 * D * D + 3 * v->intermediate_size * D;
        c->vision = D * v->num_channels * ps * ps + D + v->num_layers * layer;
        int64_t Ht = cfg->text.hidden_size;
        c->projector = D + D * m * m * D + Ht * D + Ht * Ht;
        if (cfg->projector_bias) c->projector += 2 * Ht;
    }
    c->total = c->text_total + c->vision + c->projector;
}
