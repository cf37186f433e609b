/* LoRA targeting against the real Mistral Small 4 config: expected names, counts and shapes
 * come from formats.md §1.4 / §2.2 and axolotl.md §0 (hand-derived below). */
#include <string.h>

#include "formats/json.h"
#include "m4_fixtures.h"
#include "model/m4_config.h"
#include "test.h"
#include "py_oracle.h"
#include "train/lora_spec.h"
#include "train/lora_target.h"

static m4_config small4(void) {
    m4_config c;
    val *v = NULL;
    nt_err err = {0};
    json_parse(M4_SMALL4_CONFIG_JSON, strlen(M4_SMALL4_CONFIG_JSON), &v, &err);
    m4_config_from_val(v, &c, &err);
    val_unref(v);
    return c;
}

/* Text-only Mistral4ForCausalLM with Small 4's dimensions (missing keys default to them). */
static m4_config text_only(void) {
    static const char js[] = "{\"architectures\": [\"Mistral4ForCausalLM\"], "
                             "\"model_type\": \"mistral4\", \"num_hidden_layers\": 2}";
    m4_config c;
    val *v = NULL;
    nt_err err = {0};
    json_parse(js, strlen(js), &v, &err);
    m4_config_from_val(v, &c, &err);
    val_unref(v);
    return c;
}

static const char *SEED_REGEX =
    "model.language_model.layers.[\\d]+.(mlp|cross_attn|self_attn).(up|down|gate|q|k|v|o)_proj";

TEST(seed_regex_hits_only_the_36_o_proj_and_warns) {
    m4_config c = small4();
    tr_spec s = {.modules_regex = SEED_REGEX};
    tr_result r;
    nt_err err = {0};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(r.n, 36);
    for (size_t i = 0; i < r.n; i++) {
        char want[128];
        snprintf(want, sizeof want, "model.language_model.layers.%zu.self_attn.o_proj", i);
        CHECK_EQ_STR(r.targets[i].name, want);
        CHECK_EQ_INT(r.targets[i].in, 4096);
        CHECK_EQ_INT(r.targets[i].out, 4096);
    }
    CHECK_EQ_INT(r.group_count[TR_GROUP_O], 36);
    CHECK_EQ_INT(r.n_warnings, 1);
    CHECK_CONTAINS(r.warnings[0], "self_attn.o_proj (36)");
    CHECK_CONTAINS(r.warnings[0], "self_attn.q_a_proj");
    CHECK_CONTAINS(r.warnings[0], "self_attn.kv_b_proj");
    CHECK_CONTAINS(r.warnings[0], "mlp.shared_experts.down_proj");
    CHECK_CONTAINS(r.warnings[0], "1 of the 8");
    CHECK_EQ_STR(r.modules_regex, SEED_REGEX);
    CHECK(!r.defaulted);
    /* 36 · r · (4096 + 4096) */
    CHECK_EQ_INT(tr_trainable_params(&r, 32, NULL, NULL), 36LL * 32 * 8192);
    tr_result_free(&r);
}

/* Per layer, r·(in+out) from the §1.4 table: q_a 4096+1024, q_b 1024+4096, kv_a 4096+320,
 * kv_b 256+6144, o 4096+4096, shared gate/up 4096+2048 each, down 2048+4096. */
#define PER_LAYER_DIMS (5120 + 5120 + 4416 + 6400 + 8192 + 3 * 6144)

TEST(default_targets_are_mla_and_shared_experts) {
    m4_config c = small4();
    tr_spec s = {0};
    tr_result r;
    nt_err err = {0};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    CHECK(r.defaulted);
    CHECK_EQ_INT(r.n, 36 * 8);
    int groups[] = {TR_GROUP_Q_A, TR_GROUP_Q_B, TR_GROUP_KV_A, TR_GROUP_KV_B, TR_GROUP_O};
    for (int g = 0; g < 5; g++) CHECK_EQ_INT(r.group_count[groups[g]], 36);
    CHECK_EQ_INT(r.group_count[TR_GROUP_SHARED_EXPERTS], 108);
    CHECK_EQ_INT(r.group_count[TR_GROUP_VISION], 0);
    CHECK_EQ_INT(r.n_warnings, 0);
    CHECK_EQ_STR(r.targets[2].name, "model.language_model.layers.0.self_attn.kv_a_proj_with_mqa");
    CHECK_EQ_INT(r.targets[2].out, 320);
    CHECK_EQ_INT(r.targets[3].in, 256);
    CHECK_EQ_INT(r.targets[3].out, 6144);
    int64_t by[TR_GROUP_COUNT], saved;
    CHECK_EQ_INT(tr_trainable_params(&r, 16, by, &saved), 36LL * 16 * PER_LAYER_DIMS);
    CHECK_EQ_INT(by[TR_GROUP_KV_B], 36LL * 16 * 6400);
    CHECK_EQ_INT(saved, 0);
    char *sum = tr_summary(&r, 16);
    CHECK_CONTAINS(sum, "attention kv_b_proj");
    CHECK_CONTAINS(sum, "shared experts");
    free(sum);
    tr_result_free(&r);
    /* text-only naming */
    c = text_only();
    CHECK(tr_resolve(&c, &s, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.n, 2 * 8);
    CHECK_EQ_STR(r.targets[0].name, "model.layers.0.self_attn.q_a_proj");
    tr_result_free(&r);
}

TEST(list_is_suffix_match_regex_is_full_match) {
    m4_config c = small4();
    tr_result r;
    nt_err err = {0};
    const char *o[] = {"o_proj"};
    tr_spec s = {.modules = o, .n_modules = 1};
    CHECK(tr_resolve(&c, &s, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.n, 36 + 24); /* text and vision o_proj */
    CHECK_EQ_INT(r.group_count[TR_GROUP_VISION], 24);
    CHECK_EQ_INT(r.n_modules, 1);
    CHECK(!r.modules_regex);
    tr_result_free(&r);
    /* the same word as a regex must match whole names: nothing */
    tr_spec s2 = {.modules_regex = "o_proj"};
    CHECK(tr_resolve(&c, &s2, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "'o_proj' matches no linear module");
    /* "proj" is not a `.`-suffix of any name */
    const char *p[] = {"proj"};
    tr_spec s3 = {.modules = p, .n_modules = 1};
    CHECK(tr_resolve(&c, &s3, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "'proj' matches no module");
    /* q_proj: only the vision tower's on the wrapper; nothing on the text-only model */
    const char *q[] = {"q_proj"};
    tr_spec s4 = {.modules = q, .n_modules = 1};
    CHECK(tr_resolve(&c, &s4, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.n, 24);
    tr_result_free(&r);
    m4_config t = text_only();
    CHECK(tr_resolve(&t, &s4, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "q_proj");
    /* full names in a list */
    const char *full[] = {"model.language_model.layers.3.self_attn.kv_b_proj"};
    tr_spec s5 = {.modules = full, .n_modules = 1};
    CHECK(tr_resolve(&c, &s5, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.n, 1);
    tr_result_free(&r);
}

TEST(fullmatch_backtracks_into_alternatives) {
    /* Python: re.fullmatch("a\\.o|a\\.o_proj", "a.o_proj") matches via the 2nd branch. */
    m4_config c = text_only();
    tr_spec s = {.modules_regex = "model\\.layers\\.0\\.self_attn\\.o|"
                                  "model\\.layers\\.0\\.self_attn\\.o_proj"};
    tr_result r;
    nt_err err = {0};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(r.n, 1);
    tr_result_free(&r);
    tr_spec bad = {.modules_regex = "model\\.layers\\.(\\d+"};
    CHECK(tr_resolve(&c, &bad, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "invalid regex");
}

TEST(target_linear_and_exclusions) {
    m4_config c = small4();
    tr_result r;
    nt_err err = {0};
    tr_spec s = {.target_linear = true};
    CHECK(tr_resolve(&c, &s, &r, &err) == NT_OK);
    /* 36·8 text + 24·7 vision + 3 projector linears; never lm_head */
    CHECK_EQ_INT(r.n, 36 * 8 + 24 * 7 + 3);
    CHECK_EQ_INT(r.group_count[TR_GROUP_LM_HEAD], 0);
    CHECK_EQ_INT(r.group_count[TR_GROUP_PROJECTOR], 3);
    CHECK(r.n_modules > 0);
    for (size_t i = 0; i < r.n_modules; i++) CHECK(strcmp(r.modules[i], "lm_head"));
    tr_result_free(&r);
    tr_spec s2 = {.target_linear = true,
                  .exclude_regex = "model\\.(vision_tower|multi_modal_projector)\\..*"};
    CHECK(tr_resolve(&c, &s2, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.n, 36 * 8);
    tr_result_free(&r);
    const char *ex[] = {"kv_b_proj", "model.language_model.layers.0.self_attn.o_proj"};
    tr_spec s3 = {.exclude = ex, .n_exclude = 2};
    CHECK(tr_resolve(&c, &s3, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.group_count[TR_GROUP_KV_B], 0);
    CHECK_EQ_INT(r.group_count[TR_GROUP_O], 35);
    CHECK_EQ_INT(r.n, 36 * 8 - 36 - 1);
    tr_result_free(&r);
}

TEST(target_parameters_experts_and_router) {
    m4_config c = small4();
    tr_result r;
    nt_err err = {0};
    const char *p[] = {"mlp.experts.gate_up_proj", "mlp.experts.down_proj", "mlp.gate.weight"};
    tr_spec s = {.parameters = p, .n_parameters = 3};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(r.n, 36 * 3);
    CHECK_EQ_INT(r.group_count[TR_GROUP_ROUTED_EXPERTS], 72);
    CHECK_EQ_INT(r.group_count[TR_GROUP_ROUTER], 36);
    CHECK(!r.modules_regex);
    CHECK_EQ_INT(r.n_modules, 0); /* written as [] */
    int seen = 0;
    for (size_t i = 0; i < r.n; i++) {
        const tr_target *t = &r.targets[i];
        CHECK(t->kind == TR_PARAMETER);
        if (!strcmp(t->name, "model.language_model.layers.5.mlp.experts.gate_up_proj")) {
            CHECK_EQ_INT(t->experts, 128);
            CHECK_EQ_INT(t->in, 4096);
            CHECK_EQ_INT(t->out, 4096);
            CHECK_EQ_INT(t->nest, 1);
            CHECK_EQ_STR(t->module, "model.language_model.layers.5.mlp.experts");
            seen++;
        } else if (!strcmp(t->name, "model.language_model.layers.5.mlp.experts.down_proj")) {
            CHECK_EQ_INT(t->in, 2048);
            CHECK_EQ_INT(t->out, 4096);
            CHECK_EQ_INT(t->nest, 0);
            seen++;
        } else if (!strcmp(t->name, "model.language_model.layers.5.mlp.gate.weight")) {
            CHECK_EQ_INT(t->experts, 1);
            CHECK_EQ_INT(t->in, 4096);
            CHECK_EQ_INT(t->out, 128);
            CHECK_EQ_STR(t->module, "model.language_model.layers.5.mlp.gate");
            seen++;
        }
    }
    CHECK_EQ_INT(seen, 3);
    int64_t by[TR_GROUP_COUNT];
    tr_trainable_params(&r, 4, by, NULL);
    CHECK_EQ_INT(by[TR_GROUP_ROUTED_EXPERTS], 36LL * 128 * 4 * ((4096 + 4096) + (2048 + 4096)));
    CHECK_EQ_INT(by[TR_GROUP_ROUTER], 36LL * 4 * (4096 + 128));
    CHECK_EQ_INT(r.n_warnings, 0);
    tr_result_free(&r);
    /* one expert parameter alone: warned (ambiguous keys) */
    tr_spec s1 = {.parameters = p + 1, .n_parameters = 1};
    CHECK(tr_resolve(&c, &s1, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.n_warnings, 1);
    CHECK_CONTAINS(r.warnings[0], "down_proj");
    CHECK_EQ_INT(r.targets[0].nest, 0);
    tr_result_free(&r);
}

TEST(errors_name_the_culprit) {
    m4_config c = small4();
    tr_result r;
    nt_err err = {0};
    const char *p[] = {"mlp.experts.gate_up_proj"};
    tr_spec s = {.parameters = p, .n_parameters = 1, .lora_dropout = 0.05};
    CHECK(tr_resolve(&c, &s, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "lora_dropout");
    const char *bad[] = {"mlp.experts.w1"};
    tr_spec s2 = {.parameters = bad, .n_parameters = 1};
    CHECK(tr_resolve(&c, &s2, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "'mlp.experts.w1'");
    const char *lin[] = {"self_attn.o_proj.weight"};
    tr_spec s3 = {.parameters = lin, .n_parameters = 1};
    CHECK(tr_resolve(&c, &s3, &r, &err) == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "lora_target_modules");
    const char *gate[] = {"gate"};
    tr_spec s4 = {.modules = gate, .n_modules = 1};
    CHECK(tr_resolve(&c, &s4, &r, &err) == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "mlp.gate.weight");
    tr_spec s5 = {.modules_regex = ".*mlp\\.experts"};
    CHECK(tr_resolve(&c, &s5, &r, &err) == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "lora_target_parameters");
    tr_spec s6 = {.modules_regex = "x", .target_linear = true};
    CHECK(tr_resolve(&c, &s6, &r, &err) == NT_EINVAL);
}

TEST(layers_to_transform) {
    m4_config c = small4();
    tr_result r;
    nt_err err = {0};
    const char *o[] = {"o_proj"};
    const int64_t layers[] = {0, 3};
    tr_spec s = {.modules = o, .n_modules = 1, .layers = layers, .n_layers = 2};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    /* the first numbered segment: text layers 0, 3 and vision layers 0, 3 (§1.3) */
    CHECK_EQ_INT(r.n, 4);
    CHECK_EQ_STR(r.targets[1].name, "model.language_model.layers.3.self_attn.o_proj");
    CHECK_EQ_STR(r.targets[3].name, "model.vision_tower.transformer.layers.3.attention.o_proj");
    tr_result_free(&r);
    tr_spec s2 = {.modules_regex = ".*o_proj", .layers = layers, .n_layers = 2};
    CHECK(tr_resolve(&c, &s2, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "layers_to_transform");
}

TEST(modules_to_save) {
    m4_config c = small4();
    tr_result r;
    nt_err err = {0};
    const char *save[] = {"embed_tokens", "lm_head"};
    tr_spec s = {.target_linear = true, .modules_to_save = save, .n_modules_to_save = 2};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(r.n_saved, 2);
    CHECK_EQ_STR(r.saved[0].name, "model.language_model.embed_tokens.weight");
    CHECK_EQ_STR(r.saved[1].name, "lm_head.weight");
    CHECK_EQ_INT(r.saved[1].shape[0], 131072);
    CHECK_EQ_INT(r.saved[1].shape[1], 4096);
    int64_t saved;
    int64_t total = tr_trainable_params(&r, 8, NULL, &saved);
    CHECK_EQ_INT(saved, 2LL * 131072 * 4096);
    CHECK(total > saved);
    tr_result_free(&r);
    /* a saved module is never LoRA-wrapped */
    const char *o[] = {"o_proj"};
    const char *so[] = {"o_proj"};
    tr_spec s2 = {.modules = o, .n_modules = 1, .modules_to_save = so, .n_modules_to_save = 1};
    CHECK(tr_resolve(&c, &s2, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.n, 0);
    CHECK_EQ_INT(r.n_saved, 60);
    tr_result_free(&r);
    const char *none[] = {"wte"};
    tr_spec s3 = {.modules_to_save = none, .n_modules_to_save = 1};
    CHECK(tr_resolve(&c, &s3, &r, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "'wte'");
}

/* PEFT's matching is Python's: every linear module name of the real Small 4 wrapper is
 * matched by /usr/bin/python3 (re.fullmatch for strings, `==` / endswith("." + x) for list
 * entries) and the selected sets compared with tr_resolve's. */
static const char *ORACLE_PATTERNS[] = {
    "model.language_model.layers.[\\d]+.(mlp|cross_attn|self_attn).(up|down|gate|q|k|v|o)_proj",
    "model\\.language_model\\.layers\\.\\d+\\.(self_attn\\.(q_a_proj|q_b_proj|q_proj|"
    "kv_a_proj_with_mqa|kv_b_proj|o_proj)|mlp\\.shared_experts\\.(gate_proj|up_proj|down_proj))",
    ".*\\.(q|k|v)_proj",
    "model\\.vision_tower\\..*\\.1\\d?\\..*_proj|.*linear_\\d",
    ".*layers\\.(1|12)\\.self_attn\\.(kv_b|o)_proj",
};
static const char *ORACLE_LISTS[][3] = {
    {"o_proj", "q_a_proj", NULL},
    {"proj", "gate_proj", NULL},
    {"shared_experts.down_proj", "attention.k_proj", "merging_layer"},
};

static void write_names(FILE *f, const tr_result *r) {
    for (size_t i = 0; i < r->n; i++) fprintf(f, "%s\n", r->targets[i].name);
}

TEST(matching_agrees_with_python_re) {
    if (!py_oracle_available()) SKIP("no /usr/bin/python3");
    m4_config c = small4();
    tr_result all;
    nt_err err = {0};
    tr_spec lin = {.target_linear = true};
    CHECK(tr_resolve(&c, &lin, &all, &err) == NT_OK);
    char names[512], script[512];
    snprintf(names, sizeof names, "%s/names.txt", test_tmpdir());
    snprintf(script, sizeof script, "%s/match.py", test_tmpdir());
    FILE *f = fopen(names, "w");
    write_names(f, &all);
    fclose(f);
    f = fopen(script, "w");
    fprintf(f, "import re, sys\nnames = open(sys.argv[1]).read().split()\n"
               "kind, pat = sys.argv[2], sys.argv[3:]\n"
               "for n in names:\n"
               "    hit = re.fullmatch(pat[0], n) if kind == 're' else "
               "any(n == x or n.endswith('.' + x) for x in pat)\n"
               "    if hit: print(n)\n");
    fclose(f);
    size_t np = sizeof ORACLE_PATTERNS / sizeof *ORACLE_PATTERNS;
    size_t nl = sizeof ORACLE_LISTS / sizeof *ORACLE_LISTS;
    for (size_t k = 0; k < np + nl; k++) {
        tr_spec s = {0};
        char cmd[2048];
        int len = snprintf(cmd, sizeof cmd, PY_ORACLE_PYTHON " %s %s %s", script, names,
                           k < np ? "re" : "list");
        if (k < np) {
            s.modules_regex = ORACLE_PATTERNS[k];
            len += snprintf(cmd + len, sizeof cmd - len, " '%s'", ORACLE_PATTERNS[k]);
        } else {
            const char *const *l = ORACLE_LISTS[k - np];
            s.modules = l;
            while (s.n_modules < 3 && l[s.n_modules]) {
                len += snprintf(cmd + len, sizeof cmd - len, " '%s'", l[s.n_modules]);
                s.n_modules++;
            }
        }
        nt_buf want = {0}, got = {0};
        FILE *p = popen(cmd, "r");
        char chunk[4096];
        size_t n;
        while (p && (n = fread(chunk, 1, sizeof chunk, p)) > 0) nt_buf_append(&want, chunk, n);
        if (p) pclose(p);
        tr_result r;
        nt_status st = tr_resolve(&c, &s, &r, &err);
        if (st) {
            /* tr_resolve refuses only what matches nothing ("proj") */
            CHECK_MSG(!strcmp(s.modules ? s.modules[0] : "", "proj"), "%zu: %s", k, err.msg);
        } else {
            for (size_t i = 0; i < r.n; i++) nt_buf_printf(&got, "%s\n", r.targets[i].name);
            tr_result_free(&r);
        }
        if (k == np + 1) { /* "proj" alone would fail; the Python set is gate_proj's */
            tr_spec g = {.modules = ORACLE_LISTS[1] + 1, .n_modules = 1};
            CHECK(tr_resolve(&c, &g, &r, &err) == NT_OK);
            for (size_t i = 0; i < r.n; i++) nt_buf_printf(&got, "%s\n", r.targets[i].name);
            tr_result_free(&r);
        }
        CHECK(want.len > 0);
        CHECK_MSG(got.len == want.len && !memcmp(got.data, want.data, got.len),
                  "pattern %zu: newt %zu bytes, python %zu bytes", k, got.len, want.len);
        nt_buf_free(&want);
        nt_buf_free(&got);
    }
    tr_result_free(&all);
}

TEST(spec_from_config_keys) {
    static const char yml[] =
        "base_model: x\nlearning_rate: 0.001\ndatasets: [{path: d}]\nadapter: lora\nlora_r: 8\nlora_alpha: 16\nlora_dropout: 0.0\n"
        "lora_target_modules:\n  - o_proj\n  - kv_b_proj\n"
        "lora_target_parameters: mlp.experts.down_proj\n"
        "lora_modules_to_save: [embed_tokens]\npeft_layers_to_transform: [1]\n";
    cfg *c = NULL;
    nt_err err = {0};
    CHECK_MSG(cfg_load_text(yml, strlen(yml), "t.yml", 0, NULL, &c, &err) == NT_OK, "%s", err.msg);
    if (!c) return;
    tr_spec_buf b;
    CHECK_MSG(tr_spec_from_cfg(c, &b, &err) == NT_OK, "%s", err.msg);
    CHECK(!b.spec.modules_regex);
    CHECK_EQ_INT(b.spec.n_modules, 2);
    CHECK_EQ_STR(b.spec.modules[1], "kv_b_proj");
    CHECK_EQ_INT(b.spec.n_parameters, 1);
    CHECK_EQ_STR(b.spec.parameters[0], "mlp.experts.down_proj");
    CHECK_EQ_INT(b.spec.n_modules_to_save, 1);
    CHECK_EQ_STR(b.spec.modules_to_save[0], "embed_tokens");
    CHECK_EQ_INT(b.spec.n_layers, 1);
    CHECK_EQ_INT(b.spec.layers[0], 1);
    m4_config m = small4();
    tr_result r;
    CHECK_MSG(tr_resolve(&m, &b.spec, &r, &err) == NT_OK, "%s", err.msg);
    /* layer 1: text o_proj, vision o_proj, kv_b_proj; + the layer-1 down_proj parameter
     * (parameters are not filtered by layers_to_transform) x 36 */
    CHECK_EQ_INT(r.group_count[TR_GROUP_O], 1);
    CHECK_EQ_INT(r.group_count[TR_GROUP_VISION], 1);
    CHECK_EQ_INT(r.group_count[TR_GROUP_KV_B], 1);
    CHECK_EQ_INT(r.group_count[TR_GROUP_ROUTED_EXPERTS], 36);
    CHECK_EQ_INT(r.n_saved, 1);
    tr_result_free(&r);
    tr_spec_buf_free(&b);
    cfg_free(c);
    static const char yml2[] = "base_model: x\nlearning_rate: 0.001\ndatasets: [{path: d}]\nadapter: lora\n"
                               "lora_target_modules: 'model\\.layers\\..*'\n";
    CHECK(cfg_load_text(yml2, strlen(yml2), "t2.yml", 0, NULL, &c, &err) == NT_OK);
    if (!c) return;
    CHECK(tr_spec_from_cfg(c, &b, &err) == NT_OK);
    CHECK_EQ_STR(b.spec.modules_regex, "model\\.layers\\..*");
    tr_spec_buf_free(&b);
    cfg_free(c);
}

TEST_MAIN()
