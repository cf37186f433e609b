/* Weight loading: layouts, dtypes, FP8 dequantization, validation errors, storage dtypes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "model/m4_load.h"
#include "model/m4_names.h"
#include "tensor/convert.h"
#include "test.h"

#include <unistd.h>

#define PYTHON "/usr/bin/python3"

static char *tpath_fp8(void) { return nt_path_join(test_tmpdir(), "fp8_py.bin"); }

/* Runs a Python script with args; returns its stdout, or NULL if it failed. */
static char *run_py(const char *script, const char *args) {
    char *sp = nt_path_join(test_tmpdir(), "fp8.py");
    nt_err err = {0};
    char *out = NULL;
    if (nt_write_file_atomic(sp, script, strlen(script), &err) == NT_OK) {
        char *cmd = nt_xasprintf(PYTHON " %s %s", sp, args);
        if (test_run(cmd, &out) != 0) free(out), out = NULL;
        free(cmd);
    }
    free(sp);
    return out;
}

/* A small config with one dense layer and one MoE layer (fused experts), untied head. */
static const char CFG_JSON[] =
    "{\"architectures\": [\"Mistral4ForCausalLM\"], \"model_type\": \"mistral4\","
    " \"hidden_size\": 16, \"num_hidden_layers\": 2, \"num_attention_heads\": 2,"
    " \"num_key_value_heads\": 2, \"q_lora_rank\": 8, \"kv_lora_rank\": 8,"
    " \"qk_nope_head_dim\": 4, \"qk_rope_head_dim\": 4, \"v_head_dim\": 4,"
    " \"n_routed_experts\": 4, \"n_shared_experts\": 1, \"num_experts_per_tok\": 2,"
    " \"moe_intermediate_size\": 8, \"intermediate_size\": 12, \"first_k_dense_replace\": 1,"
    " \"vocab_size\": 32, \"tie_word_embeddings\": false}";

/* Element j of tensor number k: multiples of 1/4 in [-1.75, 1.75], exact in F32, BF16, F16
 * and F8_E4M3, different per tensor. */
static float value_of(size_t k, size_t j) { return (float)((int)((j + 3 * k) % 15) - 7) * 0.25f; }

typedef struct {
    char *name;
    int ndim;
    int64_t shape[4];
    size_t numel;
    bool fp8;
} spec;

typedef struct {
    spec *v;
    size_t n;
} spec_list;

static void collect(const m4_tensor_spec *t, void *ud) {
    spec_list *l = ud;
    if (t->group == M4_GROUP_FP8_SCALE) return; /* enumerated with fp8_scales for t->fp8 */
    l->v = nt_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    spec *s = &l->v[l->n++];
    s->name = nt_xstrdup(t->name);
    s->ndim = t->ndim;
    s->numel = 1;
    for (int i = 0; i < 4; i++) s->shape[i] = t->shape[i];
    for (int i = 0; i < t->ndim; i++) s->numel *= (size_t)t->shape[i];
    s->fp8 = t->fp8;
}

static void free_specs(spec_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].name);
    free(l->v);
}

static m4_config parse_cfg(const char *json) {
    val *v = NULL;
    m4_config c;
    nt_err err = {0};
    if (json_parse(json, strlen(json), &v, &err) || m4_config_from_val(v, &c, &err)) {
        fprintf(stderr, "config: %s\n", err.msg);
        exit(2);
    }
    val_unref(v);
    return c;
}

/* Canonical name of a checkpoint name in a layout ("language_model.model.x" -> "x"). */
static const char *canon_of(const char *name) {
    static const char *pre[] = {"model.language_model.", "language_model.model.", "model."};
    if (!strcmp(name, "lm_head.weight") || !strcmp(name, "language_model.lm_head.weight"))
        return "lm_head.weight";
    for (int i = 0; i < 3; i++)
        if (!strncmp(name, pre[i], strlen(pre[i]))) return name + strlen(pre[i]);
    return name;
}

typedef struct {
    const char *skip;        /* leave this tensor out */
    const char *extra;       /* add an unexpected F32 scalar of this name */
    const char *bad_shape;   /* write this tensor with one more row */
    const char *no_scale;    /* FP8 weight written without its scale */
    st_dtype dtype;          /* of every 2-D/3-D weight that FP8 would cover (norms etc. stay F32) */
} gen_opts;

/* Writes dir/config.json and dir/model.safetensors for CFG_JSON in a layout. Buffers are
 * owned by bufs (freed by the caller). FP8 scales: 0.1 per linear, 0.1*(e+1) per expert. */
static void gen(const char *dir, m4_naming naming, const gen_opts *o) {
    nt_err err = {0};
    CHECK(nt_mkdirs(dir, &err) == NT_OK);
    char *cp = nt_path_join(dir, "config.json");
    CHECK(nt_write_file_atomic(cp, CFG_JSON, strlen(CFG_JSON), &err) == NT_OK);
    free(cp);
    m4_config c = parse_cfg(CFG_JSON);
    spec_list l = {0};
    m4_enum_tensors(&c, naming, true, collect, &l);
    st_writer *w = st_writer_new();
    void **bufs = nt_xcalloc(3 * l.n + 1, sizeof *bufs);
    size_t nb = 0;
    for (size_t k = 0; k < l.n; k++) {
        spec *s = &l.v[k];
        if (o->skip && !strcmp(s->name, o->skip)) continue;
        int64_t shape[4];
        memcpy(shape, s->shape, sizeof shape);
        if (o->bad_shape && !strcmp(s->name, o->bad_shape)) shape[0]++;
        size_t n = s->numel / (size_t)s->shape[0] * (size_t)shape[0];
        float *f = nt_xmalloc(n * sizeof *f);
        for (size_t j = 0; j < n; j++) f[j] = value_of(k, j);
        st_dtype dt = s->fp8 ? o->dtype : ST_F32;
        void *data = f;
        if (dt == ST_BF16 || dt == ST_F16) {
            data = nt_xmalloc(2 * n);
            CHECK(tn_from_f32(dt == ST_BF16 ? TN_BF16 : TN_F16, f, data, n, &err) == NT_OK);
            free(f);
        } else if (dt == ST_F8_E4M3) {
            /* Stored value v / scale must be exact: write codes of value_of / 1 and make the
             * dequantized expectation value_of * scale (see expected()). */
            data = nt_xmalloc(n);
            CHECK(tn_from_f32(TN_F8_E4M3, f, data, n, &err) == NT_OK);
            free(f);
        }
        bufs[nb++] = data;
        CHECK(st_writer_add(w, s->name, dt, s->ndim, shape, data, &err) == NT_OK);
        if (dt != ST_F8_E4M3 || (o->no_scale && !strcmp(s->name, o->no_scale))) continue;
        size_t ns = s->ndim == 3 ? (size_t)s->shape[0] : 1;
        float *sc = nt_xmalloc(ns * sizeof *sc);
        for (size_t e = 0; e < ns; e++) sc[e] = 0.1f * (float)(e + 1);
        bufs[nb++] = sc;
        char name[256];
        snprintf(name, sizeof name, "%s_scale_inv", s->name);
        int64_t s3[3] = {(int64_t)ns, 1, 1};
        CHECK(st_writer_add(w, name, ST_F32, s->ndim == 3 ? 3 : 0, s3, sc, &err) == NT_OK);
        if (s->ndim == 3)
            snprintf(name, sizeof name, "%s_activation_scale", s->name);
        else /* "X.weight" -> "X.activation_scale" */
            snprintf(name, sizeof name, "%.*s.activation_scale", (int)strlen(s->name) - 7, s->name);
        CHECK(st_writer_add(w, name, ST_F32, s->ndim == 3 ? 1 : 0, s3, sc, &err) == NT_OK);
    }
    static const float one = 1.0f;
    if (o->extra) CHECK(st_writer_add(w, o->extra, ST_F32, 0, NULL, &one, &err) == NT_OK);
    char *mp = nt_path_join(dir, "model.safetensors");
    CHECK_MSG(st_writer_save(w, mp, &err) == NT_OK, "%s", err.msg);
    free(mp);
    st_writer_free(w);
    for (size_t i = 0; i < nb; i++) free(bufs[i]);
    free(bufs);
    free_specs(&l);
}

/* The f32 the loader must produce for element j of tensor k: value_of, times the scale
 * (0.1f, or 0.1f*(e+1) for expert e) rounded once to f32 for FP8. The product of an FP8 value
 * and an f32 is exact in double, so (float)(double product) is the correctly rounded f32. */
static float expected(const spec *s, size_t k, size_t j, bool fp8) {
    float v = value_of(k, j);
    if (!fp8 || !s->fp8) return v;
    size_t e = s->ndim == 3 ? j / (s->numel / (size_t)s->shape[0]) : 0;
    float scale = 0.1f * (float)(e + 1);
    return (float)((double)v * (double)scale);
}

/* Opens dir and compares every text tensor with expected(). */
static void check_all(const char *dir, m4_naming naming, bool fp8) {
    nt_err err = {0};
    m4_weights *w = NULL;
    CHECK_MSG(m4_weights_open(dir, &w, &err) == NT_OK, "%s", err.msg);
    if (!w) return;
    CHECK_EQ_INT(m4_weights_layout(w), naming);
    spec_list l = {0};
    m4_enum_tensors(m4_weights_config(w), naming, true, collect, &l);
    CHECK_EQ_INT(m4_weights_stats(w)->text, l.n);
    size_t bad = 0, nfp8 = 0;
    for (size_t k = 0; k < l.n; k++) {
        spec *s = &l.v[k];
        float *f = nt_xmalloc(s->numel * sizeof *f);
        CHECK_MSG(m4_load_f32(w, canon_of(s->name), f, s->numel, &err) == NT_OK, "%s", err.msg);
        for (size_t j = 0; j < s->numel; j++) bad += f[j] != expected(s, k, j, fp8);
        nfp8 += s->fp8;
        free(f);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(m4_weights_stats(w)->fp8, fp8 ? nfp8 : 0);
    CHECK_EQ_INT(m4_weights_stats(w)->ignored_activation_scales, fp8 ? nfp8 : 0);
    free_specs(&l);
    m4_weights_close(w);
}

TEST(layouts_f32) {
    static const m4_naming ns[] = {M4_NAMES_TEXT, M4_NAMES_V5, M4_NAMES_LEGACY};
    for (int i = 0; i < 3; i++) {
        char *dir = nt_xasprintf("%s/layout%d", test_tmpdir(), i);
        gen(dir, ns[i], &(gen_opts){.dtype = ST_F32});
        check_all(dir, ns[i], false);
        free(dir);
    }
}

TEST(dtypes_bf16_f16) {
    char *dir = nt_xasprintf("%s/bf16", test_tmpdir());
    gen(dir, M4_NAMES_TEXT, &(gen_opts){.dtype = ST_BF16});
    check_all(dir, M4_NAMES_TEXT, false);
    free(dir);
    dir = nt_xasprintf("%s/f16", test_tmpdir());
    gen(dir, M4_NAMES_LEGACY, &(gen_opts){.dtype = ST_F16});
    check_all(dir, M4_NAMES_LEGACY, false);
    free(dir);
}

TEST(fp8_scales) {
    char *dir = nt_xasprintf("%s/fp8", test_tmpdir());
    gen(dir, M4_NAMES_V5, &(gen_opts){.dtype = ST_F8_E4M3});
    check_all(dir, M4_NAMES_V5, true);
    free(dir);
}

/* Hand-made FP8 codes with a scale that is not a power of two. */
TEST(fp8_hand_values) {
    /* 0x38 = 1.0, 0x3c = 1.5, 0xb8 = -1.0, 0x01 = 2^-9 (smallest subnormal), 0x7e = 448,
     * 0x30 = 0.5, 0x00 = 0, 0x35 = 0.8125 (1.625 * 2^-1) */
    static const uint8_t codes[8] = {0x38, 0x3c, 0xb8, 0x01, 0x7e, 0x30, 0x00, 0x35};
    static const double vals[8] = {1.0, 1.5, -1.0, 0.001953125, 448.0, 0.5, 0.0, 0.8125};
    char *dir = nt_xasprintf("%s/fp8hand", test_tmpdir());
    gen(dir, M4_NAMES_TEXT, &(gen_opts){.dtype = ST_F32});
    /* Rewrite one linear as FP8 [16, 8] (q_a_proj: q_lora 8 x hidden 16 -> shape [8, 16]). */
    char *mp = nt_path_join(dir, "model.safetensors");
    st_file *f = NULL;
    nt_err err = {0};
    CHECK(st_file_open(mp, &f, &err) == NT_OK);
    st_writer *w = st_writer_new();
    uint8_t q[128];
    for (int i = 0; i < 128; i++) q[i] = codes[i % 8];
    const float scale = 0.3f;
    const char *target = "model.layers.0.self_attn.q_a_proj.weight";
    for (size_t i = 0; i < st_file_count(f); i++) {
        const st_tensor *t = st_file_tensor(f, i);
        bool is = !strcmp(t->name, target);
        CHECK(st_writer_add(w, t->name, is ? ST_F8_E4M3 : t->dtype, t->ndim, t->shape,
                            is ? (const void *)q : t->data, &err) == NT_OK);
    }
    CHECK(st_writer_add(w, "model.layers.0.self_attn.q_a_proj.weight_scale_inv", ST_F32, 0, NULL,
                        &scale, &err) == NT_OK);
    char *mp2 = nt_path_join(dir, "new.safetensors");
    CHECK(st_writer_save(w, mp2, &err) == NT_OK);
    st_writer_free(w);
    st_file_close(f);
    CHECK(rename(mp2, mp) == 0);
    m4_weights *m = NULL;
    CHECK_MSG(m4_weights_open(dir, &m, &err) == NT_OK, "%s", err.msg);
    float out[128];
    CHECK(m4_load_f32(m, "layers.0.self_attn.q_a_proj.weight", out, 128, &err) == NT_OK);
    size_t bad = 0;
    for (int i = 0; i < 128; i++) bad += out[i] != (float)(vals[i % 8] * (double)scale);
    CHECK_EQ_INT(bad, 0);
    CHECK(out[4] == 134.4000091552734375f); /* 448 * 0.3f = 134.40000534.. -> f32 */
    CHECK_EQ_INT(m4_weights_stats(m)->fp8, 1);
    m4_weights_close(m);
    free(mp);
    free(mp2);
    free(dir);
}

TEST(range_matches_full) {
    char *dir = nt_xasprintf("%s/fp8range", test_tmpdir());
    gen(dir, M4_NAMES_LEGACY, &(gen_opts){.dtype = ST_F8_E4M3});
    nt_err err = {0};
    m4_weights *w = NULL;
    CHECK_MSG(m4_weights_open(dir, &w, &err) == NT_OK, "%s", err.msg);
    const char *name = "layers.1.mlp.experts.gate_up_proj"; /* [4, 16, 16] */
    float full[4 * 16 * 16], part[300];
    CHECK(m4_load_f32(w, name, full, 1024, &err) == NT_OK);
    CHECK(m4_load_f32_range(w, name, 200, 300, part, &err) == NT_OK); /* crosses experts 0..1 */
    CHECK(memcmp(full + 200, part, sizeof part) == 0);
    CHECK(m4_load_f32_range(w, name, 1000, 25, part, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, name);
    CHECK(m4_load_f32(w, name, full, 1000, &err) == NT_EINVAL);
    m4_weights_close(w);
    free(dir);
}

static void expect_open_error(const char *tag, const gen_opts *o, const char *needle) {
    char *dir = nt_xasprintf("%s/err_%s", test_tmpdir(), tag);
    gen(dir, M4_NAMES_TEXT, o);
    nt_err err = {0};
    m4_weights *w = NULL;
    CHECK(m4_weights_open(dir, &w, &err) != NT_OK);
    CHECK(w == NULL);
    CHECK_CONTAINS(err.msg, needle);
    CHECK_CONTAINS(err.msg, dir);
    free(dir);
}

TEST(errors_name_the_tensor) {
    expect_open_error("missing", &(gen_opts){.dtype = ST_F32, .skip = "model.layers.1.mlp.gate.weight"},
                      "'model.layers.1.mlp.gate.weight' [4, 16] missing");
    expect_open_error("extra", &(gen_opts){.dtype = ST_F32, .extra = "model.layers.7.foo.weight"},
                      "unexpected tensor 'model.layers.7.foo.weight'");
    expect_open_error("shape", &(gen_opts){.dtype = ST_F32, .bad_shape = "model.norm.weight"},
                      "'model.norm.weight': shape [17], config.json implies [16]");
    expect_open_error("noscale",
                      &(gen_opts){.dtype = ST_F8_E4M3,
                                  .no_scale = "model.layers.1.mlp.experts.down_proj"},
                      "'model.layers.1.mlp.experts.down_proj_scale_inv'");
    expect_open_error("stray_scale",
                      &(gen_opts){.dtype = ST_F32, .extra = "model.norm.weight_scale_inv"},
                      "unexpected tensor 'model.norm.weight_scale_inv'");
    expect_open_error("nolayout", &(gen_opts){.dtype = ST_F32, .skip = "model.embed_tokens.weight"},
                      "no embedding tensor");
}

TEST(find_and_shape) {
    char *dir = nt_xasprintf("%s/find", test_tmpdir());
    gen(dir, M4_NAMES_LEGACY, &(gen_opts){.dtype = ST_F32});
    nt_err err = {0};
    m4_weights *w = NULL;
    CHECK(m4_weights_open(dir, &w, &err) == NT_OK);
    const st_tensor *t = m4_weights_find(w, "lm_head.weight", &err);
    CHECK(t && !strcmp(t->name, "language_model.lm_head.weight"));
    int nd;
    int64_t sh[4];
    size_t n;
    CHECK(m4_weights_shape(w, "layers.0.self_attn.kv_b_proj.weight", &nd, sh, &n, &err) == NT_OK);
    CHECK(nd == 2 && sh[0] == 2 * (4 + 4) && sh[1] == 8 && n == 128);
    CHECK(m4_weights_find(w, "layers.9.mlp.gate.weight", &err) == NULL);
    CHECK_EQ_INT(err.code, NT_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "language_model.model.layers.9.mlp.gate.weight");
    m4_weights_close(w);
    free(dir);
}

TEST(stored_dtypes) {
    char *dir = nt_xasprintf("%s/stored", test_tmpdir());
    gen(dir, M4_NAMES_TEXT, &(gen_opts){.dtype = ST_BF16});
    nt_err err = {0};
    m4_weights *w = NULL;
    CHECK(m4_weights_open(dir, &w, &err) == NT_OK);
    const char *name = "layers.1.mlp.experts.down_proj"; /* [4, 16, 8] */
    float ref[512], deq[512];
    CHECK(m4_load_f32(w, name, ref, 512, &err) == NT_OK);
    m4_stored s;
    CHECK(m4_load_stored(w, name, TN_F32, &s, &err) == NT_OK);
    CHECK(s.numel == 512 && s.ndim == 3 && s.shape[1] == 16 && memcmp(s.data, ref, sizeof ref) == 0);
    m4_stored_free(&s);
    CHECK(m4_load_stored(w, name, TN_BF16, &s, &err) == NT_OK);
    const uint16_t *b = s.data;
    size_t bad = 0;
    for (int i = 0; i < 512; i++) { /* values are exact in bf16: the high half of the f32 bits */
        uint32_t u;
        memcpy(&u, &ref[i], 4);
        bad += b[i] != (uint16_t)(u >> 16) || (u & 0xffff);
    }
    CHECK_EQ_INT(bad, 0);
    m4_stored_free(&s);
    CHECK(m4_load_stored(w, name, TN_NF4, &s, &err) == NT_OK);
    CHECK(s.data == NULL && s.nf4.n == 512 && s.nf4.nblocks == 8 && s.nf4.dtype == TN_BF16);
    tn_nf4_dequant(&s.nf4, 0, 512, deq);
    /* NF4 codes are within 0.16 * absmax (1.75) of any value in [-1, 1] * absmax; exact at
     * 0 and +-absmax */
    double maxerr = 0;
    for (int i = 0; i < 512; i++) maxerr = fmax(maxerr, fabs(deq[i] - ref[i]));
    CHECK(maxerr <= 0.16 * 1.75);
    for (int i = 0; i < 512; i++)
        if (fabsf(ref[i]) == 1.75f || ref[i] == 0) bad += deq[i] != ref[i];
    CHECK_EQ_INT(bad, 0);
    m4_stored_free(&s);
    CHECK(m4_load_stored(w, name, TN_F16, &s, &err) == NT_EUNSUPPORTED);
    m4_weights_close(w);
    free(dir);
}

/* The VLM fixture: the same text weights under v5 and legacy names, and (per the fixture's
 * README) bit-identical to the text-only tiny model. */
TEST(vlm_fixture_both_names) {
    const char *d = "tests/fixtures/mistral3-tiny-vlm";
    nt_err err = {0};
    m4_weights *v5 = NULL, *leg = NULL, *txt = NULL;
    CHECK_MSG(m4_weights_open(d, &v5, &err) == NT_OK, "%s", err.msg);
    CHECK_MSG(m4_weights_open_paths("tests/fixtures/mistral3-tiny-vlm/config.json",
                                    "tests/fixtures/mistral3-tiny-vlm/model.legacy.safetensors",
                                    &leg, &err) == NT_OK, "%s", err.msg);
    CHECK_MSG(m4_weights_open("tests/fixtures/mistral4-tiny", &txt, &err) == NT_OK, "%s", err.msg);
    if (!v5 || !leg || !txt) return;
    CHECK_EQ_INT(m4_weights_layout(v5), M4_NAMES_V5);
    CHECK_EQ_INT(m4_weights_layout(leg), M4_NAMES_LEGACY);
    CHECK_EQ_INT(m4_weights_layout(txt), M4_NAMES_TEXT);
    /* vision: patch_conv + ln_pre + 2 layers x 9; projector: norm + merger + 2 linears */
    CHECK_EQ_INT(m4_weights_stats(v5)->skipped_vision, 2 + 2 * 9 + 4);
    CHECK_EQ_INT(m4_weights_stats(leg)->skipped_vision, 2 + 2 * 9 + 4);
    CHECK_EQ_INT(m4_weights_stats(txt)->skipped_vision, 0);
    spec_list l = {0};
    m4_enum_tensors(m4_weights_config(txt), M4_NAMES_TEXT, true, collect, &l);
    CHECK_EQ_INT(m4_weights_stats(v5)->text, l.n);
    size_t diff = 0;
    for (size_t k = 0; k < l.n; k++) {
        const char *c = canon_of(l.v[k].name);
        size_t n = l.v[k].numel;
        float *a = nt_xmalloc(3 * n * sizeof *a);
        CHECK(m4_load_f32(v5, c, a, n, &err) == NT_OK);
        CHECK(m4_load_f32(leg, c, a + n, n, &err) == NT_OK);
        CHECK(m4_load_f32(txt, c, a + 2 * n, n, &err) == NT_OK);
        diff += memcmp(a, a + n, n * 4) != 0 || memcmp(a, a + 2 * n, n * 4) != 0;
        free(a);
    }
    CHECK_EQ_INT(diff, 0);
    free_specs(&l);
    m4_weights_close(v5);
    m4_weights_close(leg);
    m4_weights_close(txt);
}

/* Every oracle case opens; the FP8 one decodes with scales and ignores activation scales. */
TEST(oracle_cases_open) {
    static const char *cases[] = {"right_padding", "packed", "group_routing", "long_yarn",
                                  "bf16_weights", "fp8_weights"};
    for (int i = 0; i < 6; i++) {
        char *d = nt_xasprintf("tests/fixtures/oracle/%s", cases[i]);
        nt_err err = {0};
        m4_weights *w = NULL;
        CHECK_MSG(m4_weights_open(d, &w, &err) == NT_OK, "%s", err.msg);
        if (w && i == 5) {
            CHECK(m4_weights_stats(w)->fp8 > 0);
            CHECK_EQ_INT(m4_weights_stats(w)->ignored_activation_scales, m4_weights_stats(w)->fp8);
            const st_tensor *t = m4_weights_find(w, "layers.0.mlp.experts.gate_up_proj", &err);
            CHECK(t && t->dtype == ST_F8_E4M3);
        }
        m4_weights_close(w);
        free(d);
    }
}

/* An independent decoder (Python: E4M3 from its bit fields, numpy float32 product) gives the
 * same bits as the loader on the FP8 oracle checkpoint. */
static const char PY_FP8[] =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "path, name, out = sys.argv[1:4]\n"
    "b = open(path, 'rb').read()\n"
    "n = struct.unpack('<Q', b[:8])[0]\n"
    "h = json.loads(b[8:8 + n]); d = b[8 + n:]\n"
    "def arr(k, dt):\n"
    "    s, e = h[k]['data_offsets']\n"
    "    return np.frombuffer(d[s:e], dtype=dt)\n"
    "def e4m3(c):\n"
    "    s, e, m = c >> 7, (c >> 3) & 15, c & 7\n"
    "    v = m / 8 * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)\n"
    "    return -v if s else v\n"
    "table = np.array([e4m3(c) for c in range(256)], dtype=np.float32)\n"
    "q = arr(name, np.uint8)\n"
    "sc = arr(name + '_scale_inv', '<f4')\n"
    "w = table[q].reshape(len(sc), -1) * sc.reshape(-1, 1)\n"
    "open(out, 'wb').write(w.astype('<f4').tobytes())\n";

static void fp8_vs_python(const m4_weights *w, const char *canon, const char *full) {
    char *out = tpath_fp8();
    char *args = nt_xasprintf("%s %s %s", "tests/fixtures/oracle/fp8_weights/model.safetensors",
                              full, out);
    char *r = run_py(PY_FP8, args);
    CHECK(r != NULL);
    size_t n = 0;
    char *want = NULL;
    nt_err err = {0};
    CHECK(nt_read_file(out, &want, &n, &err) == NT_OK);
    float *got = nt_xmalloc(n + 4);
    CHECK(m4_load_f32(w, canon, got, n / 4, &err) == NT_OK);
    CHECK(n > 0 && want && memcmp(got, want, n) == 0);
    free(got), free(want), free(r), free(args), free(out);
}

TEST(fp8_oracle_matches_python) {
    if (access(PYTHON, X_OK) != 0 || system(PYTHON " -c 'import numpy' 2>/dev/null") != 0)
        SKIP("no /usr/bin/python3 with numpy");
    nt_err err = {0};
    m4_weights *w = NULL;
    CHECK(m4_weights_open("tests/fixtures/oracle/fp8_weights", &w, &err) == NT_OK);
    if (!w) return;
    fp8_vs_python(w, "layers.0.mlp.experts.gate_up_proj",
                  "model.layers.0.mlp.experts.gate_up_proj");
    fp8_vs_python(w, "layers.1.self_attn.q_b_proj.weight",
                  "model.layers.1.self_attn.q_b_proj.weight");
    m4_weights_close(w);
}

TEST_MAIN()
