/* newt init-model / m4_init_write: tensor set, values, statistics, determinism, sharding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "model/m4_init.h"
#include "model/m4_load.h"
#include "model/m4_names.h"
#include "test.h"

static char *init_dir(const char *tag, uint64_t seed, tn_dtype dt, uint64_t shard) {
    char *dir = nt_xasprintf("%s/%s", test_tmpdir(), tag);
    nt_err err = {0};
    m4_init_opts o = {.seed = seed, .dtype = dt, .max_shard_bytes = shard};
    CHECK_MSG(m4_init_write(m4_init_preset("tiny"), dir, &o, &err) == NT_OK, "%s", err.msg);
    return dir;
}

static void hex_of(const void *p, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", ((const unsigned char *)p)[i]);
}

/* First values of two tensors for seed 7, from an independent Python implementation of the
 * stream documented in m4_init.h (FNV-1a, splitmix64, xoshiro256**, Box-Muller in double,
 * then (float)(0.02 * z)); little-endian f32 bytes. */
TEST(documented_stream) {
    m4_rng r;
    m4_rng_seed(&r, 7, "model.embed_tokens.weight");
    CHECK(m4_rng_next(&r) == 0xe15d3c83a8b4fbf7ull);
    char *dir = init_dir("stream", 7, TN_F32, 0);
    char *mp = nt_path_join(dir, "model.safetensors");
    st_file *f = NULL;
    nt_err err = {0};
    CHECK_MSG(st_file_open(mp, &f, &err) == NT_OK, "%s", err.msg);
    char hex[41];
    const st_tensor *t = st_file_find(f, "model.embed_tokens.weight");
    CHECK(t && t->dtype == ST_F32);
    if (t) {
        hex_of(t->data, 20, hex);
        CHECK_EQ_STR(hex, "21ad213c0d6e0c3b01d1cb3c36de14bde527c73b");
    }
    t = st_file_find(f, "model.layers.1.mlp.experts.down_proj");
    if (t) {
        hex_of(t->data, 20, hex);
        CHECK_EQ_STR(hex, "83952e3c8548c93a4088dd3c20418c3c44b30fbc");
    }
    st_file_close(f);
    free(mp);
    free(dir);
}

TEST(tensor_set_and_statistics) {
    char *dir = init_dir("stats", 1, TN_F32, 0);
    nt_err err = {0};
    m4_weights *w = NULL;
    CHECK_MSG(m4_weights_open(dir, &w, &err) == NT_OK, "%s", err.msg); /* validates the set */
    if (!w) return;
    CHECK_EQ_INT(m4_weights_layout(w), M4_NAMES_TEXT);
    const st_model *m = m4_weights_model(w);
    CHECK_EQ_INT(st_model_count(m), m4_weights_stats(w)->text);
    CHECK_EQ_INT(st_model_count(m), 2 + 2 * (2 + 7 + 1 + 2 + 3) + 1); /* embed, head, layers, norm */
    double sum = 0, sq = 0, n = 0;
    size_t not_one = 0;
    for (size_t i = 0; i < st_model_count(m); i++) {
        const st_tensor *t = st_model_tensor(m, i);
        const float *v = t->data;
        bool norm = m4_group_of(t->name) == M4_GROUP_NORM;
        for (uint64_t j = 0; j < t->numel; j++) {
            if (norm) not_one += v[j] != 1.0f;
            else sum += v[j], sq += (double)v[j] * v[j], n++;
        }
    }
    CHECK_EQ_INT(not_one, 0);
    double mean = sum / n, sd = sqrt(sq / n - mean * mean);
    /* ~190k samples: the std estimate is within 0.5% of 0.02 with overwhelming probability */
    CHECK_NEAR(sd, 0.02, 0.02 * 0.01);
    CHECK_NEAR(mean, 0.0, 0.02 * 0.01);
    m4_weights_close(w);
    free(dir);
}

static char *slurp(const char *dir, const char *file, size_t *n) {
    char *p = nt_path_join(dir, file), *data = NULL;
    nt_err err = {0};
    CHECK_MSG(nt_read_file(p, &data, n, &err) == NT_OK, "%s", err.msg);
    free(p);
    return data;
}

TEST(same_seed_same_bytes) {
    char *a = init_dir("det_a", 42, TN_F32, 0), *b = init_dir("det_b", 42, TN_F32, 0);
    char *c = init_dir("det_c", 43, TN_F32, 0);
    size_t na = 0, nb = 0, nc = 0;
    char *da = slurp(a, "model.safetensors", &na), *db = slurp(b, "model.safetensors", &nb);
    char *dc = slurp(c, "model.safetensors", &nc);
    CHECK(na > 400000 && na == nb && na == nc);
    CHECK(da && db && memcmp(da, db, na) == 0);
    CHECK(da && dc && memcmp(da, dc, na) != 0);
    char *ca = slurp(a, "config.json", &na);
    CHECK(ca && !strcmp(ca, m4_init_preset("tiny")));
    free(ca);
    free(da), free(db), free(dc);
    free(a), free(b), free(c);
}

/* bf16 output = round-to-nearest-even of the f32 output (bits computed here by hand). */
TEST(bf16_is_rounded_f32) {
    char *a = init_dir("f32", 5, TN_F32, 0), *b = init_dir("bf16", 5, TN_BF16, 0);
    st_model *ma = NULL, *mb = NULL;
    nt_err err = {0};
    CHECK(st_model_open(a, &ma, &err) == NT_OK && st_model_open(b, &mb, &err) == NT_OK);
    size_t bad = 0;
    for (size_t i = 0; ma && mb && i < st_model_count(ma); i++) {
        const st_tensor *ta = st_model_tensor(ma, i), *tb = st_model_find(mb, ta->name);
        CHECK(tb && tb->dtype == ST_BF16 && tb->numel == ta->numel);
        if (!tb) continue;
        const uint32_t *fa = ta->data;
        const uint16_t *hb = tb->data;
        for (uint64_t j = 0; j < ta->numel; j++) {
            uint32_t u = fa[j];
            uint16_t want = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
            bad += hb[j] != want;
        }
    }
    CHECK_EQ_INT(bad, 0);
    st_model_close(ma);
    st_model_close(mb);
    free(a), free(b);
}

TEST(sharded_equals_single) {
    char *a = init_dir("single", 9, TN_F32, 0), *b = init_dir("sharded", 9, TN_F32, 150000);
    char *idx = nt_path_join(b, "model.safetensors.index.json");
    CHECK(nt_path_exists(idx));
    st_model *ma = NULL, *mb = NULL;
    nt_err err = {0};
    CHECK(st_model_open(a, &ma, &err) == NT_OK);
    CHECK_MSG(st_model_open(b, &mb, &err) == NT_OK, "%s", err.msg);
    CHECK(mb && st_model_shard_count(mb) >= 3);
    size_t bad = 0;
    for (size_t i = 0; ma && mb && i < st_model_count(ma); i++) {
        const st_tensor *ta = st_model_tensor(ma, i), *tb = st_model_find(mb, ta->name);
        bad += !tb || tb->nbytes != ta->nbytes || memcmp(ta->data, tb->data, ta->nbytes);
    }
    CHECK_EQ_INT(bad, 0);
    st_model_close(ma);
    st_model_close(mb);
    free(idx), free(a), free(b);
}

TEST(bench_preset_parameters) {
    /* shared/bench/README.md: 62.3M parameters */
    val *v = NULL;
    m4_config c;
    nt_err err = {0};
    const char *j = m4_init_preset("bench");
    CHECK(json_parse(j, strlen(j), &v, &err) == NT_OK && m4_config_from_val(v, &c, &err) == NT_OK);
    val_unref(v);
    m4_param_counts pc;
    m4_count_params(&c, &pc);
    CHECK(pc.text_total == 62297344);
    CHECK(c.text.rope.type == M4_ROPE_DEFAULT && c.text.rope.llama_4_scaling_beta == 0);
    CHECK(m4_init_preset("huge") == NULL);
}

TEST(cli) {
    char *out = NULL;
    char *dir = nt_xasprintf("%s/cli", test_tmpdir());
    char *cmd = nt_xasprintf("%s init-model --preset tiny --out %s --seed 3 --dtype bf16 2>&1",
                             test_newt_bin(), dir);
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    free(out), free(cmd);
    char *cp = nt_path_join(dir, "config.json");
    CHECK(nt_path_exists(cp));
    cmd = nt_xasprintf("%s init-model --preset tiny 2>&1", test_newt_bin());
    CHECK_EQ_INT(test_run(cmd, &out), 2);
    free(out), free(cmd);
    cmd = nt_xasprintf("%s init-model --config tests/fixtures/mistral3-tiny-vlm/config.json "
                       "--out %s/vlm 2>&1", test_newt_bin(), test_tmpdir());
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    CHECK_CONTAINS(out, "vision_config");
    free(out), free(cmd);
    cmd = nt_xasprintf("%s init-model --preset tiny --out %s --dtype f16 2>&1", test_newt_bin(), dir);
    CHECK_EQ_INT(test_run(cmd, &out), 2);
    CHECK_CONTAINS(out, "f16");
    free(out), free(cmd), free(cp), free(dir);
}

TEST_MAIN()
