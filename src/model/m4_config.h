/* Mistral Small 4 family configuration: the text backbone (`mistral4`: MLA attention + MoE,
 * DeepSeek-V3 lineage), and for `Mistral3ForConditionalGeneration` wrappers the Pixtral vision
 * tower and the patch-merger projector. Parsed from an already-loaded config.json value (the
 * model room knows nothing of files); missing keys take transformers' Mistral4Config defaults,
 * which are Mistral Small 4's values. */
#ifndef NEWT_MODEL_M4_CONFIG_H
#define NEWT_MODEL_M4_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "value/value.h"

typedef enum { M4_ROPE_DEFAULT, M4_ROPE_YARN } m4_rope_type;

typedef struct {
    m4_rope_type type;
    double theta;
    double factor;                   /* yarn: context extension factor */
    int64_t original_max_positions;  /* yarn / llama-4 scaling boundary */
    double beta_fast, beta_slow;
    double mscale, mscale_all_dim;   /* 0 = absent */
    double llama_4_scaling_beta;     /* 0 = no query scaling */
} m4_rope;

typedef struct {
    int64_t hidden_size, num_layers, num_heads, num_kv_heads;
    int64_t q_lora_rank;             /* 0: no query compression (q_proj) */
    int64_t kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
    int64_t n_routed_experts, n_shared_experts, experts_per_tok;
    int64_t moe_intermediate_size, intermediate_size, first_k_dense_replace;
    int64_t n_group, topk_group;
    bool norm_topk_prob, attention_bias, tie_word_embeddings, rope_interleave;
    double routed_scaling_factor, rms_norm_eps, initializer_range;
    int64_t vocab_size, max_position_embeddings;
    int64_t bos_token_id, eos_token_id, pad_token_id; /* -1 = absent */
    char hidden_act[16];
    m4_rope rope;
} m4_text_config;

typedef struct {
    int64_t hidden_size, num_layers, num_heads, head_dim, intermediate_size;
    int64_t patch_size, num_channels, image_size;
    double rope_theta;
    char hidden_act[16];
} m4_vision_config;

typedef struct {
    char architecture[64];           /* architectures[0], or "" */
    bool has_vision;                 /* Mistral3ForConditionalGeneration with vision_config */
    m4_text_config text;
    m4_vision_config vision;
    int64_t image_token_index, spatial_merge_size, vision_feature_layer;
    bool projector_bias;
    char projector_act[16];
} m4_config;

/* Parses config.json's value. Errors name the key ("text_config.hidden_size: ..."). */
nt_status m4_config_from_val(const val *root, m4_config *cfg, nt_err *err);

static inline int64_t m4_qk_head_dim(const m4_text_config *t) {
    return t->qk_nope_head_dim + t->qk_rope_head_dim;
}
/* Layer l has routed experts (MoE) rather than a dense MLP. */
static inline bool m4_layer_is_moe(const m4_text_config *t, int64_t l) {
    return t->n_routed_experts > 0 && l >= t->first_k_dense_replace;
}

/* Parameter counts implied by the config (bias-free as in the release; no FP8 scales). */
typedef struct {
    int64_t embed, lm_head, norms, attention, router, routed_experts, shared_experts, dense_mlp;
    int64_t text_total, vision, projector, total;
} m4_param_counts;

void m4_count_params(const m4_config *cfg, m4_param_counts *out);

#endif
