#include "formats/json.h"
#include "m4_fixtures.h"
#include "model/m4_config.h"
#include "model/m4_names.h"
#include "test.h"

static int parse_cfg(const char *json, m4_config *cfg, nt_err *err) {
    val *v = NULL;
    int st = json_parse(json, strlen(json), &v, err);
    if (st) return st;
    st = m4_config_from_val(v, cfg, err);
    val_unref(v);
    return st;
}

TEST(tiny_fixture_config) {
    val *v = NULL;
    nt_err err = {0};
    m4_config c;
    CHECK(json_parse_file("tests/fixtures/mistral4-tiny/config.json", &v, &err) == NT_OK);
    CHECK(m4_config_from_val(v, &c, &err) == NT_OK);
    CHECK_EQ_INT(c.text.hidden_size, 64);
    CHECK_EQ_INT(c.text.num_layers, 2);
    CHECK_EQ_INT(c.text.q_lora_rank, 32);
    CHECK_EQ_INT(c.text.kv_lora_rank, 16);
    CHECK_EQ_INT(m4_qk_head_dim(&c.text), 16);
    CHECK_EQ_INT(c.text.n_routed_experts, 8);
    CHECK_EQ_INT(c.text.experts_per_tok, 2);
    CHECK(c.text.rope.type == M4_ROPE_YARN);
    CHECK_NEAR(c.text.rope.factor, 4.0, 0);
    CHECK_EQ_INT(c.text.rope.original_max_positions, 16);
    CHECK_NEAR(c.text.rope.llama_4_scaling_beta, 0.1, 0);
    CHECK_NEAR(c.text.rope.mscale_all_dim, 1.0, 0);
    CHECK(!c.has_vision);
    val_unref(v);
}

TEST(vlm_fixture_config) {
    val *v = NULL;
    nt_err err = {0};
    m4_config c;
    CHECK(json_parse_file("tests/fixtures/mistral3-tiny-vlm/config.json", &v, &err) == NT_OK);
    CHECK_MSG(m4_config_from_val(v, &c, &err) == NT_OK, "%s", err.msg);
    CHECK(c.has_vision);
    CHECK_EQ_STR(c.architecture, "Mistral3ForConditionalGeneration");
    CHECK_EQ_INT(c.text.hidden_size, 64);
    CHECK_EQ_INT(c.vision.hidden_size, 32);
    CHECK_EQ_INT(c.vision.head_dim, 16);
    CHECK_EQ_INT(c.vision.num_layers, 2);
    CHECK_EQ_INT(c.spatial_merge_size, 2);
    val_unref(v);
}

/* The published accounting of Mistral Small 4 (spec mistral4.md §4.1). */
TEST(small4_parameter_counts) {
    m4_config c;
    nt_err err = {0};
    CHECK_MSG(parse_cfg(M4_SMALL4_CONFIG_JSON, &c, &err) == NT_OK, "%s", err.msg);
    m4_param_counts n;
    m4_count_params(&c, &n);
    CHECK_EQ_INT(n.text_total, 118972826624LL);
    CHECK_EQ_INT(n.vision, 403305472LL);
    CHECK_EQ_INT(n.projector, 25166848LL);
    CHECK_EQ_INT((n.text_total - n.embed - n.lm_head - 4096) / 36, 3274974464LL);
}

typedef struct {
    int64_t total, scales, scale_tensors, tensors, per_group[M4_GROUP_COUNT];
    int misgrouped;
} tally;

static void tally_cb(const m4_tensor_spec *t, void *ud) {
    tally *s = ud;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    s->total += n;
    s->tensors++;
    s->per_group[t->group] += n;
    if (t->group == M4_GROUP_FP8_SCALE) {
        s->scales += n;
        s->scale_tensors++;
    }
    if (m4_group_of(t->name) != t->group) s->misgrouped++;
}

TEST(small4_enumeration_matches_index_total) {
    m4_config c;
    nt_err err = {0};
    CHECK(parse_cfg(M4_SMALL4_CONFIG_JSON, &c, &err) == NT_OK);
    for (int naming = M4_NAMES_V5; naming <= M4_NAMES_LEGACY; naming++) {
        tally s = {0};
        m4_enum_tensors(&c, (m4_naming)naming, true, tally_cb, &s);
        CHECK_EQ_INT(s.total, 119401317952LL); /* index metadata total_parameters */
        CHECK_EQ_INT(s.scales, 19008);
        CHECK_EQ_INT(s.misgrouped, 0);
        CHECK_EQ_INT(s.per_group[M4_GROUP_VISION], 403305472LL);
        CHECK_EQ_INT(s.per_group[M4_GROUP_PROJECTOR], 25166848LL);
    }
    tally s = {0};
    m4_enum_tensors(&c, M4_NAMES_TEXT, false, tally_cb, &s);
    CHECK_EQ_INT(s.total, 118972826624LL);
    CHECK_EQ_INT(s.scales, 0);
}

TEST(group_classification) {
    CHECK(m4_group_of("language_model.model.layers.3.self_attn.q_a_proj.weight") == M4_GROUP_ATTENTION);
    CHECK(m4_group_of("model.language_model.layers.3.self_attn.q_a_layernorm.weight") == M4_GROUP_NORM);
    CHECK(m4_group_of("model.layers.0.mlp.gate.weight") == M4_GROUP_ROUTER);
    CHECK(m4_group_of("model.layers.0.mlp.experts.gate_up_proj") == M4_GROUP_ROUTED_EXPERTS);
    CHECK(m4_group_of("model.layers.0.mlp.shared_experts.up_proj.weight") == M4_GROUP_SHARED_EXPERTS);
    CHECK(m4_group_of("model.layers.0.mlp.experts.down_proj_scale_inv") == M4_GROUP_FP8_SCALE);
    CHECK(m4_group_of("model.layers.0.self_attn.o_proj.activation_scale") == M4_GROUP_FP8_SCALE);
    CHECK(m4_group_of("vision_tower.transformer.layers.1.ffn_norm.weight") == M4_GROUP_VISION);
    CHECK(m4_group_of("language_model.lm_head.weight") == M4_GROUP_LM_HEAD);
}

TEST(old_rope_scaling_spelling_and_dense_layers) {
    const char *json =
        "{\"model_type\": \"deepseek_v3\", \"hidden_size\": 32, \"num_hidden_layers\": 3,"
        " \"num_attention_heads\": 2, \"q_lora_rank\": null, \"kv_lora_rank\": 8,"
        " \"qk_nope_head_dim\": 4, \"qk_rope_head_dim\": 4, \"v_head_dim\": 8,"
        " \"n_routed_experts\": 4, \"num_experts_per_tok\": 2, \"n_group\": 2, \"topk_group\": 1,"
        " \"first_k_dense_replace\": 1, \"intermediate_size\": 64, \"moe_intermediate_size\": 16,"
        " \"vocab_size\": 100, \"tie_word_embeddings\": true, \"rope_theta\": 50000,"
        " \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 8, "
        "  \"original_max_position_embeddings\": 64, \"mscale_all_dim\": 0.707}}";
    m4_config c;
    nt_err err = {0};
    CHECK_MSG(parse_cfg(json, &c, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(c.text.q_lora_rank, 0);
    CHECK_NEAR(c.text.rope.theta, 50000, 0);
    CHECK_NEAR(c.text.rope.factor, 8, 0);
    CHECK_NEAR(c.text.rope.mscale_all_dim, 0.707, 0);
    CHECK_EQ_INT(c.text.rope.original_max_positions, 64);
    CHECK(!m4_layer_is_moe(&c.text, 0) && m4_layer_is_moe(&c.text, 1));
    tally s = {0};
    m4_enum_tensors(&c, M4_NAMES_TEXT, false, tally_cb, &s);
    m4_param_counts n;
    m4_count_params(&c, &n);
    CHECK_EQ_INT(s.total, n.total);
    CHECK_EQ_INT(s.per_group[M4_GROUP_DENSE_MLP], 3 * 64 * 32);
    CHECK_EQ_INT(s.per_group[M4_GROUP_LM_HEAD], 0);
}

TEST(errors_name_the_key) {
    static const struct { const char *json, *needle; } cases[] = {
        {"{\"hidden_size\": \"big\"}", "hidden_size: expected an integer"},
        {"{\"text_config\": {\"num_hidden_layers\": 0}}", "text_config.num_hidden_layers: must be positive"},
        {"{\"text_config\": {\"rope_parameters\": {\"type\": \"longrope\"}}}", "text_config.rope_parameters.type"},
        {"{\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}}", "original_max_position_embeddings"},
        {"{\"num_experts_per_tok\": 9, \"n_routed_experts\": 8}", "num_experts_per_tok"},
        {"{\"model_type\": \"llama\"}", "model_type: 'llama' is not supported"},
        {"{\"hidden_act\": \"gelu\"}", "hidden_act"},
        {"{\"norm_topk_prob\": 1}", "norm_topk_prob: expected true or false"},
        {"{\"text_config\": 3}", "text_config: expected an object"},
        {"{\"vision_config\": {\"patch_size\": 0}, \"text_config\": {}}", "vision_config.patch_size"},
        {"[1]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        m4_config c;
        nt_err err = {0};
        CHECK_MSG(parse_cfg(cases[i].json, &c, &err) != NT_OK, "case %zu accepted", i);
        CHECK_CONTAINS(err.msg, cases[i].needle);
    }
}

TEST_MAIN()
