/* Full-model export (formats.md §9) and the LoRA merge (§10). Expected values: Python's
 * json.dumps for config files, hand-derived shard plans and bf16 bit patterns, a naive
 * per-element merge written from the §2.2 index formula. */
#include <math.h>
#include <string.h>

#include "base/fileio.h"
#include "export/hf_model.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "test.h"
#include "py_oracle.h"

static char *read_text(const char *dir, const char *file) {
    char *path = nt_path_join(dir, file), *data = NULL;
    size_t n;
    nt_err err = {0};
    if (nt_read_file(path, &data, &n, &err)) data = NULL;
    free(path);
    return data;
}

static const char CONFIG[] =
    "{\"architectures\": [\"Mistral3ForConditionalGeneration\"], \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"5.0.0\", \"text_config\": {\"hidden_size\": 8,"
    " \"bos_token_id\": 1, \"eos_token_id\": 2, \"pad_token_id\": 11, \"dtype\": \"bfloat16\"},"
    " \"vision_config\": {\"hidden_size\": 4}, \"name\": \"caf\\u00e9\"}";

TEST(config_files_match_python) {
    if (!py_oracle_available()) SKIP("no /usr/bin/python3");
    val *cfg = NULL;
    nt_err err = {0};
    CHECK(json_parse(CONFIG, strlen(CONFIG), &cfg, &err) == NT_OK);
    float w[6] = {1, 2, 3, 4, 5, 6};
    ex_tensor t = {.name = "lm_head.weight", .ndim = 2, .shape = {2, 3}, .data = w};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cfgmodel", test_tmpdir());
    ex_save_opts o = {.dtype = ST_F32};
    CHECK_MSG(ex_save_model(dir, cfg, &t, 1, &o, &err) == NT_OK, "%s", err.msg);
    char *got = read_text(dir, "config.json"), *gen = read_text(dir, "generation_config.json");
    char script[1024];
    snprintf(script, sizeof script,
             PY_ORACLE_PYTHON " -c 'import json,sys; d=json.loads(sys.argv[1]); d.pop(\"torch_dtype\");"
             " d[\"dtype\"]=\"float32\"; d[\"text_config\"][\"dtype\"]=\"float32\";"
             " sys.stdout.write(json.dumps(d, indent=2, sort_keys=True)+\"\\n\")' '%s'", CONFIG);
    FILE *p = popen(script, "r");
    char want[4096] = {0};
    size_t n = p ? fread(want, 1, sizeof want - 1, p) : 0;
    if (p) pclose(p);
    CHECK(n > 0);
    CHECK(got != NULL);
    if (got) CHECK_EQ_STR(got, want);
    CHECK(gen != NULL);
    if (gen)
        CHECK_EQ_STR(gen, "{\n  \"_from_model_config\": true,\n  \"bos_token_id\": 1,\n"
                          "  \"eos_token_id\": 2,\n  \"pad_token_id\": 11,\n"
                          "  \"transformers_version\": \"5.0.0\"\n}\n");
    char *path = nt_path_join(dir, "model.safetensors");
    CHECK(nt_path_exists(path)); /* one shard: no index */
    free(path);
    path = nt_path_join(dir, "model.safetensors.index.json");
    CHECK(!nt_path_exists(path));
    free(path);
    free(got);
    free(gen);
    val_unref(cfg);
}

TEST(sharded_bf16_model) {
    val *cfg = NULL;
    nt_err err = {0};
    CHECK(json_parse("{\"bos_token_id\": 1}", 19, &cfg, &err) == NT_OK);
    /* three tensors of 200 bf16 = 400 bytes; limit 500: a shard is closed when the next
     * tensor would exceed it, so 3 shards (HF's rule, §9). */
    float a[200], b[200], c[200];
    for (int i = 0; i < 200; i++) a[i] = b[i] = c[i] = 1.0f;
    a[0] = 1.00390625f;   /* 1 + 2^-8: tie between bf16 1.0 and 1+2^-7 → even: 0x3F80 */
    a[1] = 1.005859375f;  /* 1 + 3·2^-9: nearer 1+2^-7 → 0x3F81 */
    a[2] = -2.0f;         /* 0xC000 */
    ex_tensor t[3] = {{"a.weight", 2, {10, 20}, a}, {"b.weight", 1, {200}, b},
                      {"c.weight", 2, {20, 10}, c}};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sharded", test_tmpdir());
    ex_save_opts o = {.dtype = ST_BF16, .max_shard_bytes = 500};
    CHECK_MSG(ex_save_model(dir, cfg, t, 3, &o, &err) == NT_OK, "%s", err.msg);
    char *idx_text = read_text(dir, "model.safetensors.index.json");
    CHECK(idx_text != NULL);
    val *idx = NULL;
    if (idx_text) CHECK(json_parse(idx_text, strlen(idx_text), &idx, &err) == NT_OK);
    if (idx) {
        const val *md = val_dict_get(idx, "metadata"), *wm = val_dict_get(idx, "weight_map");
        CHECK_EQ_INT(val_dict_get(md, "total_size")->u.i, 1200);
        CHECK_EQ_INT(val_dict_get(md, "total_parameters")->u.i, 600);
        CHECK_EQ_STR(val_dict_get(wm, "a.weight")->u.str.s, "model-00001-of-00003.safetensors");
        CHECK_EQ_STR(val_dict_get(wm, "b.weight")->u.str.s, "model-00002-of-00003.safetensors");
        CHECK_EQ_STR(val_dict_get(wm, "c.weight")->u.str.s, "model-00003-of-00003.safetensors");
        val_unref(idx);
    }
    free(idx_text);
    st_model *m = NULL;
    CHECK_MSG(st_model_open(dir, &m, &err) == NT_OK, "%s", err.msg);
    if (m) {
        CHECK_EQ_INT(st_model_shard_count(m), 3);
        const st_tensor *ta = st_model_find(m, "a.weight");
        CHECK(ta && ta->dtype == ST_BF16 && ta->shape[0] == 10 && ta->shape[1] == 20);
        if (ta) {
            const uint16_t *h = ta->data;
            CHECK_EQ_INT(h[0], 0x3F80);
            CHECK_EQ_INT(h[1], 0x3F81);
            CHECK_EQ_INT(h[2], 0xC000);
            CHECK_EQ_INT(h[3], 0x3F80);
        }
        const val *fmt = val_dict_get(st_file_metadata(st_model_shard(m, 0)), "format");
        CHECK(fmt && !strcmp(fmt->u.str.s, "pt"));
        st_model_close(m);
    }
    char *conf = read_text(dir, "config.json");
    if (conf) CHECK_EQ_STR(conf, "{\n  \"bos_token_id\": 1,\n  \"dtype\": \"bfloat16\"\n}\n");
    free(conf);
    val_unref(cfg);
}

TEST(save_model_errors) {
    val *cfg = val_dict();
    nt_err err = {0};
    ex_tensor t = {.name = "x", .ndim = 1, .shape = {4}, .data = NULL};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bad", test_tmpdir());
    ex_save_opts o = {.dtype = ST_F32};
    CHECK(ex_save_model(dir, cfg, &t, 1, &o, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "'x'");
    o.dtype = ST_F16;
    CHECK(ex_save_model(dir, cfg, &t, 1, &o, &err) == NT_EINVAL);
    val_unref(cfg);
}

TEST(lora_scale) {
    CHECK_NEAR(ex_lora_scale(16, 4, false), 4.0, 0);
    CHECK_NEAR(ex_lora_scale(16, 4, true), 8.0, 0);
    CHECK_NEAR(ex_lora_scale(32, 16, true), 8.0, 0);
}

static float frand(uint64_t *s) { return (float)(py_oracle_uniform(s) * 2 - 1); }

/* ΔW[e][o][i] = s · Σ_k B[o, k·E + e] · A[e·r + k, i]  (formats.md §2.2) */
static void merge_case(int64_t E, int64_t out, int64_t in, int64_t r, double s) {
    uint64_t seed = 12345 + (uint64_t)E;
    int64_t nw = E * out * in;
    float *W = malloc(nw * sizeof *W), *W0 = malloc(nw * sizeof *W0);
    float *A = malloc(r * E * in * sizeof *A), *B = malloc(out * r * E * sizeof *B);
    for (int64_t i = 0; i < nw; i++) W[i] = W0[i] = frand(&seed);
    for (int64_t i = 0; i < r * E * in; i++) A[i] = frand(&seed);
    for (int64_t i = 0; i < out * r * E; i++) B[i] = frand(&seed);
    ex_merge_lora(W, E, out, in, A, B, r, s);
    double worst = 0;
    for (int64_t e = 0; e < E; e++)
        for (int64_t o = 0; o < out; o++)
            for (int64_t i = 0; i < in; i++) {
                double d = 0;
                for (int64_t k = 0; k < r; k++)
                    d += (double)B[o * (r * E) + k * E + e] * A[(e * r + k) * in + i];
                double want = W0[(e * out + o) * in + i] + s * d;
                double err = fabs(W[(e * out + o) * in + i] - want);
                if (err > worst) worst = err;
            }
    CHECK_MSG(worst < 1e-5, "E=%lld: max error %g", (long long)E, worst);
    free(W);
    free(W0);
    free(A);
    free(B);
}

TEST(merge_matches_naive) {
    merge_case(1, 7, 5, 3, 2.0);
    merge_case(4, 6, 5, 2, 0.5);
    /* A non-square expert case where swapping the B index order would differ. */
    merge_case(3, 4, 9, 2, ex_lora_scale(8, 2, true));
    /* B = 0 (fresh PEFT init) leaves W unchanged bit for bit */
    float W[6] = {1, 2, 3, 4, 5, 6}, A[6] = {1, 1, 1, 1, 1, 1}, B[4] = {0};
    ex_merge_lora(W, 1, 2, 3, A, B, 2, 4.0);
    CHECK(W[0] == 1 && W[5] == 6);
}

TEST_MAIN()
