/* Config loading: the example configs, defaults, type coercion, overrides in both
 * spellings, and a table of bad configs whose errors must name the key (and line). */
#include <sys/wait.h>

#include "base/fileio.h"
#include "config/config.h"
#include "test.h"

#define MINIMAL "base_model: some/model\nlearning_rate: 0.001\ndatasets:\n  - path: data.jsonl\n"

static cfg *load(const char *text, int nov, char **ov, nt_err *err) {
    cfg *c = NULL;
    if (cfg_load_text(text, strlen(text), "config.yml", nov, ov, &c, err)) return NULL;
    return c;
}

static bool has_report(const cfg *c, const char *key, cfg_status st) {
    for (size_t i = 0; i < c->nreports; i++)
        if (!strcmp(c->reports[i].key, key) && c->reports[i].status == st) return true;
    return false;
}

TEST(examples_load_with_reports_not_errors) {
    const char *files[] = {"qlora-text", "qlora-vision", "fft-text", "fft-vision"};
    for (int i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "examples/mistral4/%s.yml", files[i]);
        cfg *c = NULL;
        nt_err err = {0};
        CHECK_MSG(cfg_load_file(path, 0, NULL, &c, &err) == NT_OK, "%s: %s", path, err.msg);
        if (!c) continue;
        CHECK_EQ_STR(cfg_get_str(c, "base_model"), "./Mistral-Small-4-119B-2603-BF16");
        /* newt's versions drop axolotl's GPU-only and empty keys: the text configs load with no
         * report at all; the vision ones report exactly their three multimodal keys */
        bool vision = strstr(files[i], "vision") != NULL;
        CHECK_EQ_INT(c->nreports, vision ? 3 : 0);
        CHECK(!vision || (has_report(c, "processor_type", CFG_NOT_YET) &&
                          has_report(c, "skip_prepare_dataset", CFG_NOT_YET) &&
                          has_report(c, "remove_unused_columns", CFG_NOT_YET)));
        CHECK(!has_report(c, "plugins", CFG_IGNORED));
        CHECK(!has_report(c, "datasets[0].path", CFG_NOT_YET)); /* local paths are supported */
        /* the Mistral 4 README's reasoning_effort, per dataset (newt honours it there) */
        const val *kw = val_dict_get(val_list_get(cfg_get(c, "datasets"), 0), "chat_template_kwargs");
        const val *re = kw ? val_dict_get(kw, "reasoning_effort") : NULL;
        CHECK(re && re->kind == VAL_STR && !strcmp(re->u.str.s, "none"));
        CHECK_EQ_INT(cfg_get_int(c, "sequence_len"), 2048);
        CHECK_EQ_STR(cfg_get_str(c, "output_dir"), "./outputs/out");
        const val *ds = cfg_get(c, "datasets");
        CHECK(ds && ds->kind == VAL_LIST && val_list_len(ds) == 1);
        cfg_free(c);
    }
}

TEST(example_values_resolve_like_axolotl) {
    cfg *c = NULL;
    nt_err err = {0};
    CHECK(cfg_load_file("examples/mistral4/fft-text.yml", 0, NULL, &c, &err) == NT_OK);
    if (!c) return;
    CHECK(cfg_get(c, "learning_rate")->kind == VAL_FLOAT);
    CHECK(cfg_get_float(c, "learning_rate") == 2e-5);   /* YAML string "2e-5" -> float */
    CHECK(!cfg_is_set(c, "fsdp_config")); /* one process: the FSDP keys are gone */
    CHECK(!cfg_is_set(c, "adapter"));
    cfg_free(c);
    CHECK(cfg_load_file("examples/mistral4/qlora-text.yml", 0, NULL, &c, &err) == NT_OK);
    if (!c) return;
    CHECK(cfg_get_float(c, "learning_rate") == 0.0002);
    CHECK(cfg_get_float(c, "lora_dropout") == 0.0); /* 0: the fused experts may be uncommented */
    CHECK_EQ_STR(cfg_get_str(c, "adapter"), "qlora");
    CHECK(cfg_get_bool(c, "load_in_4bit"));
    CHECK_EQ_INT(val_list_len(cfg_get(c, "lora_target_modules")), 8);
    cfg_free(c);
    CHECK(cfg_load_file("examples/mistral4/qlora-vision.yml", 0, NULL, &c, &err) == NT_OK);
    if (!c) return;
    CHECK_CONTAINS(c->reports[0].msg, "qlora-vision.yml:17");
    cfg_free(c);
}

TEST(defaults_are_filled) {
    nt_err err = {0};
    cfg *c = load(MINIMAL, 0, NULL, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (!c) return;
    CHECK_EQ_INT(cfg_get_int(c, "micro_batch_size"), 1);
    CHECK_EQ_INT(cfg_get_int(c, "gradient_accumulation_steps"), 1);
    CHECK_EQ_INT(cfg_get_int(c, "sequence_len"), 512);
    CHECK_EQ_STR(cfg_get_str(c, "output_dir"), "./model-out");
    CHECK_EQ_STR(cfg_get_str(c, "lr_scheduler"), "cosine");
    CHECK_EQ_STR(cfg_get_str(c, "optimizer"), "adamw_torch_fused");
    CHECK(cfg_get(c, "num_epochs")->kind == VAL_FLOAT && cfg_get_float(c, "num_epochs") == 1.0);
    CHECK(cfg_get_float(c, "val_set_size") == 0.0);
    CHECK_EQ_STR(cfg_get_str(c, "bf16"), "auto");
    CHECK(!cfg_get_bool(c, "train_on_inputs"));
    CHECK(!cfg_is_set(c, "seed"));
    CHECK(cfg_get(c, "no_such_key") == NULL);
    const val *d = val_list_get(cfg_get(c, "datasets"), 0);
    CHECK_EQ_STR(val_dict_get(d, "split")->u.str.s, "train");
    CHECK_EQ_STR(val_dict_get(d, "field_messages")->u.str.s, "messages");
    CHECK_EQ_STR(val_dict_get(d, "train_on_eos")->u.str.s, "turn");
    const val *roles = val_dict_get(d, "roles_to_train");
    CHECK(roles->kind == VAL_LIST && val_list_len(roles) == 1 &&
          !strcmp(val_list_get(roles, 0)->u.str.s, "assistant"));
    cfg_free(c);
}

TEST(numbers_coerce_like_pydantic) {
    nt_err err = {0};
    cfg *c = load("base_model: m\nlearning_rate: 1e-4\nnum_epochs: 3\nmicro_batch_size: '4'\n"
                  "weight_decay: 1\nval_set_size: 200\nseed: 42.0\ndatasets: [{path: d}]\n", 0, NULL, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (!c) return;
    CHECK(cfg_get_float(c, "learning_rate") == 1e-4);
    CHECK(cfg_get(c, "num_epochs")->kind == VAL_FLOAT && cfg_get_float(c, "num_epochs") == 3.0);
    CHECK_EQ_INT(cfg_get_int(c, "micro_batch_size"), 4);
    CHECK(cfg_get_float(c, "weight_decay") == 1.0);
    CHECK_EQ_INT(cfg_get_int(c, "val_set_size"), 200);  /* a row count stays an int */
    CHECK_EQ_INT(cfg_get_int(c, "seed"), 42);
    cfg_free(c);
}

TEST(overrides_in_axolotl_spelling) {
    char *ov[] = {"--learning-rate", "1e-4", "--micro_batch_size=2", "--gradient-checkpointing",
                  "--sample-packing", "false", "--seed", "7", "--bf16", "--lr-scheduler=linear",
                  "--loss-watchdog-threshold", "5"};
    nt_err err = {0};
    cfg *c = load(MINIMAL, 12, ov, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (!c) return;
    CHECK(cfg_get_float(c, "learning_rate") == 1e-4);
    CHECK_EQ_INT(cfg_get_int(c, "micro_batch_size"), 2);
    CHECK(cfg_get_bool(c, "gradient_checkpointing"));
    CHECK(cfg_get(c, "sample_packing")->kind == VAL_BOOL && !cfg_get_bool(c, "sample_packing"));
    CHECK_EQ_INT(cfg_get_int(c, "seed"), 7);
    CHECK(cfg_get_bool(c, "bf16"));
    CHECK_EQ_STR(cfg_get_str(c, "lr_scheduler"), "linear");
    CHECK(has_report(c, "loss_watchdog_threshold", CFG_NOT_YET));
    for (size_t i = 0; i < c->nreports; i++)
        if (!strcmp(c->reports[i].key, "loss_watchdog_threshold")) CHECK_CONTAINS(c->reports[i].msg, "command line");
    cfg_free(c);
}

typedef struct {
    const char *text;   /* NULL: MINIMAL */
    const char *ov[3];  /* overrides */
    const char *want[3];
} bad_case;

static const bad_case bad[] = {
    {"base_model: m\nlearning_rate: fast\ndatasets: [{path: d}]\n", {0},
     {"learning_rate: expected a number, got 'fast'", "config.yml:2"}},
    {MINIMAL "learnig_rate: 0.1\n", {0}, {"unknown key 'learnig_rate'", "did you mean 'learning_rate'?", "config.yml:5"}},
    {MINIMAL "    feild_messages: conv\n", {0}, {"unknown key 'datasets[0].feild_messages'", "'field_messages'", "config.yml:5"}},
    {MINIMAL "    type: chat_template\n  - path: x\n    splt: test\n", {0}, {"datasets[1].splt", "'split'"}},
    {MINIMAL "micro_batch_size: 1.5\n", {0}, {"micro_batch_size: expected an integer, got 1.5", "config.yml:5"}},
    {MINIMAL "micro_batch_size: 0\n", {0}, {"micro_batch_size: must be >= 1, got 0"}},
    {MINIMAL "sample_packing: 'yes'\n", {0}, {"sample_packing: expected true or false, got 'yes'"}},
    {MINIMAL "adapter: lorax\n", {0}, {"adapter: expected one of lora|qlora, got 'lorax'", "did you mean 'lora'?"}},
    {MINIMAL "lr_scheduler: cosin\n", {0}, {"lr_scheduler", "'cosin'", "did you mean 'cosine'?"}},
    {MINIMAL "lora_dropout: 1.5\n", {0}, {"lora_dropout: must be in [0, 1), got 1.5"}},
    {MINIMAL "val_set_size: 2.5\n", {0}, {"val_set_size", "fraction", "2.5"}},
    {MINIMAL "base_model: [a, b]\n", {0}, {"base_model: expected a string, got a list"}},
    {MINIMAL "    train_on_eos: sometimes\n", {0}, {"datasets[0].train_on_eos", "turn|all|last|none"}},
    {MINIMAL "datasets_extra: 1\n", {0}, {"unknown key 'datasets_extra'"}},
    {"base_model: m\nlearning_rate: 0.1\n", {0}, {"missing required key 'datasets'"}},
    {"learning_rate: 0.1\ndatasets: [{path: d}]\n", {0}, {"missing required key 'base_model'"}},
    {"base_model: m\nlearning_rate: 0.1\ndatasets: [{type: chat_template}]\n", {0}, {"'datasets[0].path'"}},
    {"base_model: m\nlearning_rate: 0.1\ndatasets: [just-a-string]\n", {0}, {"datasets[0]: expected a dataset entry"}},
    {"- a\n- b\n", {0}, {"a config is a mapping"}},
    {MINIMAL "lr: [\n", {0}, {"config.yml:6:1:"}},
    {NULL, {"--learnig-rate", "1e-4"}, {"unknown key 'learnig_rate'", "did you mean 'learning_rate'?", "command line"}},
    {NULL, {"--micro-batch-size", "many"}, {"micro_batch_size: expected an integer, got 'many'", "command line"}},
    {NULL, {"--learning-rate"}, {"--learning-rate needs a value"}},
    {NULL, {"learning_rate=1"}, {"unexpected argument 'learning_rate=1'"}},
    {NULL, {"--adapter=qlora"}, {"qlora needs load_in_4bit"}},
    {MINIMAL "load_in_4bit: true\n", {0}, {"load_in_4bit: quantized loading needs an adapter"}},
    {MINIMAL "warmup_steps: 10\nwarmup_ratio: 0.1\n", {0}, {"warmup_steps and warmup_ratio"}},
    {MINIMAL "adapter: lora\nlora_dropout: 0.05\nlora_target_parameters: [mlp.experts.down_proj]\n", {0},
     {"lora_dropout: must be 0 when lora_target_parameters"}},
    {MINIMAL "chat_template: jinja\n", {0}, {"chat_template_jinja"}},
};

TEST(bad_configs_name_the_key) {
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *ov[3];
        int nov = 0;
        while (nov < 3 && bad[i].ov[nov]) { ov[nov] = (char *)bad[i].ov[nov]; nov++; }
        nt_err err = {0};
        cfg *c = load(bad[i].text ? bad[i].text : MINIMAL, nov, ov, &err);
        CHECK_MSG(c == NULL, "case %zu loaded", i);
        cfg_free(c);
        for (int j = 0; j < 3 && bad[i].want[j]; j++)
            CHECK_MSG(strstr(err.msg, bad[i].want[j]), "case %zu: '%s' lacks '%s'", i, err.msg, bad[i].want[j]);
    }
}

TEST(edit_distance) {
    CHECK_EQ_INT(cfg_edit_distance("learnig_rate", "learning_rate"), 1);
    CHECK_EQ_INT(cfg_edit_distance("feild_messages", "field_messages"), 1); /* swap */
    CHECK_EQ_INT(cfg_edit_distance("abc", ""), 3);
    CHECK_EQ_INT(cfg_edit_distance("kitten", "sitting"), 3);
    CHECK(cfg_schema_suggest(cfg_schema, "zzzzzzzzzz") == NULL);
}

static void check_table(const cfg_key *table) {
    for (const cfg_key *k = table; k->name; k++) {
        CHECK_MSG(k->doc && *k->doc, "%s has no doc", k->name);
        CHECK_MSG((k->type == CFG_ENUM || k->type == CFG_BOOL_ENUM) == (k->choices != NULL), "%s choices", k->name);
        CHECK_MSG(!(k->required && k->dflt), "%s is required and has a default", k->name);
        for (const cfg_key *o = k + 1; o->name; o++) CHECK_MSG(strcmp(k->name, o->name), "%s twice", k->name);
    }
}

TEST(schema_tables_are_consistent) {
    check_table(cfg_schema);
    check_table(cfg_dataset_schema);
    size_t n = 0;
    for (const cfg_key *k = cfg_schema; k->name; k++) n++;
    CHECK(n >= 120);
}

TEST(docs_config_md_is_up_to_date) {
    char *doc = NULL;
    size_t len = 0;
    nt_err err = {0};
    CHECK_MSG(nt_read_file("docs/config.md", &doc, &len, &err) == NT_OK, "%s", err.msg);
    nt_buf b = {0};
    cfg_schema_markdown(&b);
    CHECK_MSG(doc && len == b.len && !memcmp(doc, b.data, len), "docs/config.md is stale: run make docs");
    nt_buf_free(&b);
    free(doc);
}

/* The newt binary next to this test binary (build/X/tests/test_config -> build/X/newt). */
static bool newt_binary(char *out, size_t cap) {
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return false;
    self[n] = '\0';
    char *slash = strstr(self, "/tests/");
    if (!slash) return false;
    *slash = '\0';
    snprintf(out, cap, "%s/newt", self);
    return access(out, X_OK) == 0;
}

/* Runs a command; returns its exit status and its stdout in *text. */
static int run(const char *cmd, nt_buf *text) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) nt_buf_append(text, chunk, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cli_markdown_matches_docs_and_examples_check) {
    char bin[600], cmd[1024];
    if (!newt_binary(bin, sizeof bin)) SKIP("newt binary not built next to the tests");
    nt_buf out = {0};
    snprintf(cmd, sizeof cmd, "%s config-schema --markdown", bin);
    CHECK_EQ_INT(run(cmd, &out), 0);
    char *doc = NULL;
    size_t len = 0;
    nt_err err = {0};
    CHECK(nt_read_file("docs/config.md", &doc, &len, &err) == NT_OK);
    CHECK_MSG(doc && out.len == len && !memcmp(out.data, doc, len), "docs/config.md differs from the binary's output");
    free(doc);
    const char *files[] = {"qlora-text", "qlora-vision", "fft-text", "fft-vision"};
    for (int i = 0; i < 4; i++) {
        nt_buf_free(&out);
        snprintf(cmd, sizeof cmd, "%s config-check examples/mistral4/%s.yml 2>&1", bin, files[i]);
        CHECK_EQ_INT(run(cmd, &out), 0);
        CHECK_CONTAINS(out.data, strstr(files[i], "vision") ? "3 key(s) not supported yet or ignored"
                                                            : "valid; 0 key(s) not supported yet or ignored");
        CHECK_MSG(out.data && !strstr(out.data, "unknown"), "%s", files[i]);
    }
    nt_buf_free(&out);
    snprintf(cmd, sizeof cmd, "%s config-check examples/mistral4/fft-text.yml --learnig-rate 1 2>&1", bin);
    CHECK_EQ_INT(run(cmd, &out), 1);
    CHECK_CONTAINS(out.data, "did you mean 'learning_rate'?");
    nt_buf_free(&out);
}

TEST_MAIN()
