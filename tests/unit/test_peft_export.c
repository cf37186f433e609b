/* PEFT adapter export: key names and shapes from formats.md §1.5 / §2.2 / §2.3 (derived by
 * hand for the tiny fixture: hidden 64, q_lora_rank 32, kv_lora_rank 16, 4 heads of
 * qk 8+8 / v 16, 8 experts of 32, vocab in the config); adapter_config.json compared byte
 * for byte with Python's json.dumps(indent=2, sort_keys=True) of a dict built here. */
#include <math.h>
#include <string.h>

#include "base/fileio.h"
#include "export/peft.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "model/m4_init.h"
#include "test.h"
#include "py_oracle.h"

static m4_config tiny(void) {
    m4_config c;
    val *v = NULL;
    nt_err err = {0};
    json_parse_file("tests/fixtures/mistral4-tiny/config.json", &v, &err);
    m4_config_from_val(v, &c, &err);
    val_unref(v);
    return c;
}

/* Runs a Python snippet that prints json.dumps(d, indent=2, sort_keys=True) of its `d`. */
static char *py_dumps(const char *dict_src) {
    char path[512];
    snprintf(path, sizeof path, "%s/dumps.py", test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fprintf(f, "import json, sys\nd = %s\nsys.stdout.write(json.dumps(d, indent=2, sort_keys=True))\n",
            dict_src);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, PY_ORACLE_PYTHON " %s", path);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    nt_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) nt_buf_append(&b, chunk, n);
    if (pclose(p) != 0) {
        nt_buf_free(&b);
        return NULL;
    }
    nt_buf_putc(&b, 0);
    return b.data;
}

/* The keys PEFT 0.19.1 writes with their defaults (formats.md §1.2), as Python source. */
#define PY_COMMON                                                                              \
    "'alora_invocation_tokens': None, 'alpha_pattern': {}, 'arrow_config': None, "             \
    "'auto_mapping': None, 'bias': 'none', 'corda_config': None, "                             \
    "'ensure_weight_tying': False, 'eva_config': None, 'fan_in_fan_out': False, "              \
    "'inference_mode': True, 'init_lora_weights': True, 'layer_replication': None, "           \
    "'layers_pattern': None, 'loftq_config': {}, "                                            \
    "'lora_bias': False, 'lora_ga_config': None, 'megatron_config': None, "                    \
    "'megatron_core': 'megatron.core', 'peft_type': 'LORA', 'peft_version': '0.19.1', "        \
    "'qalora_group_size': 16, 'rank_pattern': {}, 'revision': None, "                          \
    "'task_type': 'CAUSAL_LM', 'trainable_token_indices': None, 'use_bdlora': None, "          \
    "'use_dora': False, 'use_qalora': False, "

TEST(adapter_config_regex_and_parameters_byte_exact) {
    if (!py_oracle_available()) SKIP("no /usr/bin/python3");
    m4_config c = tiny();
    const char *params[] = {"mlp.experts.gate_up_proj", "mlp.experts.down_proj"};
    tr_spec s = {.parameters = params, .n_parameters = 2,
                 .modules_regex = "model\\.layers\\.\\d+\\.self_attn\\.(q_a_proj|o_proj)"};
    tr_result r;
    nt_err err = {0};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    ex_peft_config pc = {.base_model = "mistralai/Mistral-Small-4-119B-2603", .r = 16,
                         .lora_alpha = 32, .target_parameters = params, .n_target_parameters = 2};
    char *got = ex_adapter_config_json(&r, &pc);
    char *want = py_dumps("{" PY_COMMON
                          "'base_model_name_or_path': 'mistralai/Mistral-Small-4-119B-2603', "
                          "'exclude_modules': None, 'layers_to_transform': None, 'lora_alpha': 32, 'lora_dropout': 0.0, "
                          "'modules_to_save': None, 'r': 16, 'use_rslora': False, "
                          "'target_modules': r'model\\.layers\\.\\d+\\.self_attn\\.(q_a_proj|o_proj)', "
                          "'target_parameters': ['mlp.experts.gate_up_proj', 'mlp.experts.down_proj']}");
    CHECK(want != NULL);
    if (want) CHECK_EQ_STR(got, want);
    free(got);
    free(want);
    tr_result_free(&r);
}

TEST(adapter_config_list_form_byte_exact) {
    if (!py_oracle_available()) SKIP("no /usr/bin/python3");
    m4_config c = tiny();
    const char *mods[] = {"o_proj", "q_a_proj"};
    const char *ex[] = {"model.layers.0.self_attn.o_proj"};
    const char *save[] = {"lm_head"};
    const int64_t layers[] = {1};
    tr_spec s = {.modules = mods, .n_modules = 2, .exclude = ex, .n_exclude = 1,
                 .modules_to_save = save, .n_modules_to_save = 1, .lora_dropout = 0.05,
                 .layers = layers, .n_layers = 1};
    tr_result r;
    nt_err err = {0};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(r.n, 2);
    ex_peft_config pc = {.r = 8, .lora_alpha = 16, .lora_dropout = 0.05, .use_rslora = true,
                         .exclude = ex, .n_exclude = 1, .modules_to_save = save,
                         .n_modules_to_save = 1, .layers_to_transform = layers,
                         .n_layers_to_transform = 1};
    char *got = ex_adapter_config_json(&r, &pc);
    char *want = py_dumps("{" PY_COMMON
                          "'base_model_name_or_path': None, "
                          "'exclude_modules': ['model.layers.0.self_attn.o_proj'], "
                          "'layers_to_transform': [1], "
                          "'lora_alpha': 16, 'lora_dropout': 0.05, 'modules_to_save': ['lm_head'], "
                          "'r': 8, 'use_rslora': True, 'target_modules': ['o_proj', 'q_a_proj'], "
                          "'target_parameters': None}");
    CHECK(want != NULL);
    if (want) CHECK_EQ_STR(got, want);
    CHECK(got[strlen(got) - 1] == '}'); /* no trailing newline */
    free(got);
    free(want);
    tr_result_free(&r);
}

typedef struct {
    float **bufs;
    size_t n;
    ex_lora_tensors *lora;
} lora_bufs;

/* Initialized as PEFT does, then B filled with a ramp so the file holds non-zero B. */
static void make_bufs(const tr_result *r, int64_t rank, lora_bufs *b) {
    b->lora = nt_xcalloc(r->n, sizeof *b->lora);
    b->bufs = nt_xcalloc(2 * r->n, sizeof *b->bufs);
    b->n = 2 * r->n;
    for (size_t i = 0; i < r->n; i++) {
        const tr_target *t = &r->targets[i];
        int64_t re = rank * t->experts;
        float *A = nt_xmalloc((size_t)(re * t->in) * sizeof *A);
        float *B = nt_xmalloc((size_t)(re * t->out) * sizeof *B);
        ex_lora_init(t, rank, 42, A, B);
        for (int64_t k = 0; k < re * t->out; k++) B[k] = (float)(k % 7) * 0.25f;
        b->bufs[2 * i] = A;
        b->bufs[2 * i + 1] = B;
        b->lora[i] = (ex_lora_tensors){A, B};
    }
}

static void free_bufs(lora_bufs *b) {
    for (size_t i = 0; i < b->n; i++) free(b->bufs[i]);
    free(b->bufs);
    free(b->lora);
}

static void check_shape(const st_file *f, const char *name, st_dtype dt, int64_t d0, int64_t d1) {
    const st_tensor *t = st_file_find(f, name);
    CHECK_MSG(t != NULL, "missing %s", name);
    if (!t) return;
    CHECK(t->dtype == dt);
    CHECK_EQ_INT(t->ndim, 2);
    CHECK_EQ_INT(t->shape[0], d0);
    CHECK_EQ_INT(t->shape[1], d1);
}

static void save_and_check(st_dtype dt) {
    m4_config c = tiny();
    const char *params[] = {"mlp.experts.gate_up_proj", "mlp.experts.down_proj", "mlp.gate.weight"};
    const char *save[] = {"lm_head"};
    tr_spec s = {.parameters = params, .n_parameters = 3, .modules_to_save = save,
                 .n_modules_to_save = 1, .modules_regex = "model\\.layers\\.\\d+\\."
                 "(self_attn\\.(q_a_proj|q_b_proj|kv_a_proj_with_mqa|kv_b_proj|o_proj)|"
                 "mlp\\.shared_experts\\.(gate|up|down)_proj)"};
    tr_result r;
    nt_err err = {0};
    CHECK_MSG(tr_resolve(&c, &s, &r, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(r.n, 2 * 8 + 2 * 3);
    const int64_t rank = 2, E = 8, V = c.text.vocab_size;
    lora_bufs b;
    make_bufs(&r, rank, &b);
    float *head = nt_xmalloc((size_t)(V * 64) * sizeof *head);
    for (int64_t i = 0; i < V * 64; i++) head[i] = (float)i * 1e-3f;
    const float *saved[] = {head};
    ex_metric m[] = {{"train_loss", 1.25}, {"eval_loss", 1.5}};
    ex_adapter_data d = {.lora = b.lora, .saved = saved, .dtype = dt, .metrics = m, .n_metrics = 2};
    ex_peft_config pc = {.base_model = "tiny/m4", .r = rank, .lora_alpha = 4,
                         .target_parameters = params, .n_target_parameters = 3,
                         .modules_to_save = save, .n_modules_to_save = 1};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/adapter_%s", test_tmpdir(), st_dtype_name(dt));
    CHECK_MSG(ex_save_adapter(dir, &r, &pc, &d, &err) == NT_OK, "%s", err.msg);

    char *path = nt_path_join(dir, "adapter_model.safetensors");
    st_file *f = NULL;
    CHECK_MSG(st_file_open(path, &f, &err) == NT_OK, "%s", err.msg);
    free(path);
    if (f) {
        CHECK_EQ_INT(st_file_count(f), 2 * r.n + 1);
        const val *fmt = val_dict_get(st_file_metadata(f), "format");
        CHECK(fmt && !strcmp(fmt->u.str.s, "pt"));
        const char *P = "base_model.model.model.layers.";
        char k[256];
#define K(fmt_, ...) (snprintf(k, sizeof k, "%s" fmt_, P, __VA_ARGS__), k)
        check_shape(f, K("%d.self_attn.q_a_proj.lora_A.weight", 0), dt, rank, 64);
        check_shape(f, K("%d.self_attn.q_a_proj.lora_B.weight", 0), dt, 32, rank);
        check_shape(f, K("%d.self_attn.q_b_proj.lora_B.weight", 1), dt, 4 * 16, rank);
        check_shape(f, K("%d.self_attn.kv_a_proj_with_mqa.lora_B.weight", 1), dt, 16 + 8, rank);
        check_shape(f, K("%d.self_attn.kv_b_proj.lora_A.weight", 1), dt, rank, 16);
        check_shape(f, K("%d.self_attn.kv_b_proj.lora_B.weight", 1), dt, 4 * (8 + 16), rank);
        check_shape(f, K("%d.self_attn.o_proj.lora_A.weight", 1), dt, rank, 4 * 16);
        check_shape(f, K("%d.mlp.shared_experts.gate_proj.lora_B.weight", 0), dt, 32, rank);
        check_shape(f, K("%d.mlp.shared_experts.down_proj.lora_A.weight", 0), dt, rank, 32);
        /* fused experts: gate_up_proj [E, 2F=64, H=64] nested under base_layer */
        check_shape(f, K("%d.mlp.experts.base_layer.lora_A.weight", 1), dt, rank * E, 64);
        check_shape(f, K("%d.mlp.experts.base_layer.lora_B.weight", 1), dt, 64, rank * E);
        /* down_proj [E, H=64, F=32]: in = 32, out = 64 */
        check_shape(f, K("%d.mlp.experts.lora_A.weight", 1), dt, rank * E, 32);
        check_shape(f, K("%d.mlp.experts.lora_B.weight", 1), dt, 64, rank * E);
        check_shape(f, K("%d.mlp.gate.lora_A.weight", 0), dt, rank, 64);
        check_shape(f, K("%d.mlp.gate.lora_B.weight", 0), dt, E, rank);
        check_shape(f, "base_model.model.lm_head.weight", dt, V, 64);
        const st_tensor *t = st_file_find(f, "base_model.model.lm_head.weight");
        if (t && dt == ST_F32) CHECK(!memcmp(t->data, head, (size_t)t->nbytes));
        if (t && dt == ST_BF16) {
            const uint16_t *h = t->data;
            CHECK_EQ_INT(h[0], 0);
            CHECK_EQ_INT(h[1000], 0x3F80); /* 1000 · 1e-3f rounds to bf16 1.0 */
        }
        st_file_close(f);
    }
    char *cfg = NULL, *card = NULL;
    size_t n;
    path = nt_path_join(dir, "adapter_config.json");
    CHECK(nt_read_file(path, &cfg, &n, &err) == NT_OK);
    free(path);
    path = nt_path_join(dir, "README.md");
    CHECK(nt_read_file(path, &card, &n, &err) == NT_OK);
    free(path);
    if (cfg) CHECK_CONTAINS(cfg, "\"target_parameters\": [\n    \"mlp.experts.gate_up_proj\"");
    if (card) {
        CHECK(!strncmp(card, "---\nbase_model: tiny/m4\nlibrary_name: peft\n", 42));
        CHECK_CONTAINS(card, "tags:\n- base_model:adapter:tiny/m4\n- lora\n- transformers\n---\n");
        CHECK_CONTAINS(card, "- train_loss: 1.25\n");
        CHECK_CONTAINS(card, "routed experts");
        CHECK_CONTAINS(card, "- PEFT 0.19.1\n");
    }
    free(cfg);
    free(card);
    free(head);
    free_bufs(&b);
    tr_result_free(&r);
}

TEST(adapter_files_f32) { save_and_check(ST_F32); }
TEST(adapter_files_bf16) { save_and_check(ST_BF16); }

TEST(adapter_save_errors) {
    m4_config c = tiny();
    tr_spec s = {0};
    tr_result r;
    nt_err err = {0};
    CHECK(tr_resolve(&c, &s, &r, &err) == NT_OK);
    ex_lora_tensors *none = nt_xcalloc(r.n, sizeof *none);
    ex_adapter_data d = {.lora = none, .dtype = ST_F32};
    ex_peft_config pc = {.r = 2, .lora_alpha = 4};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/adapter_bad", test_tmpdir());
    CHECK(ex_save_adapter(dir, &r, &pc, &d, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "model.layers.0.self_attn.q_a_proj.lora_A.weight");
    char *p = nt_path_join(dir, "adapter_model.safetensors");
    CHECK(!nt_path_exists(p)); /* nothing half-written */
    free(p);
    d.dtype = ST_F16;
    CHECK(ex_save_adapter(dir, &r, &pc, &d, &err) == NT_EINVAL);
    free(none);
    tr_result_free(&r);
}

TEST(lora_init_is_peft_kaiming_uniform) {
    tr_target t = {.kind = TR_MODULE, .in = 256, .out = 48, .experts = 1};
    snprintf(t.name, sizeof t.name, "model.layers.0.self_attn.o_proj");
    snprintf(t.module, sizeof t.module, "%s", t.name);
    const int64_t r = 8, na = r * 256, nb = 48 * r;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *A2 = malloc(na * sizeof *A2);
    for (int64_t i = 0; i < nb; i++) B[i] = 1.0f;
    ex_lora_init(&t, r, 7, A, B);
    double bound = 1.0 / 16.0, sum = 0, sq = 0, mx = 0; /* 1/√256 */
    for (int64_t i = 0; i < na; i++) {
        CHECK(fabs(A[i]) <= bound);
        sum += A[i];
        sq += (double)A[i] * A[i];
        if (fabs(A[i]) > mx) mx = fabs(A[i]);
    }
    for (int64_t i = 0; i < nb; i++) CHECK(B[i] == 0.0f);
    /* U(-b, b): mean 0 (sd b/√(3n) ≈ 0.0008), variance b²/3 */
    CHECK_NEAR(sum / na, 0.0, 0.004);
    CHECK_NEAR(sq / na, bound * bound / 3, bound * bound / 3 * 0.1);
    CHECK(mx > 0.95 * bound);
    ex_lora_init(&t, r, 7, A2, B);
    CHECK(!memcmp(A, A2, na * sizeof *A));
    ex_lora_init(&t, r, 8, A2, B);
    CHECK(memcmp(A, A2, na * sizeof *A) != 0);
    /* The documented stream: m4_rng keyed by (seed, lora_A key), (float)(b·(2u−1)). */
    m4_rng g;
    m4_rng_seed(&g, 7, "base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight");
    double u = (double)(m4_rng_next(&g) >> 11) * 0x1p-53;
    CHECK(A[0] == (float)(bound * (2 * u - 1)));
    free(A);
    free(A2);
    free(B);
}

TEST_MAIN()
