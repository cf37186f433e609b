/* safetensors reader, model open and writer: the committed fixture checked against facts
 * from the spec and an independent Python parse; write/read round trips (single, sharded);
 * Hugging Face shard planning; atomic writes; a sparse 50 GB file. Corrupt inputs are in
 * test_safetensors_corrupt.c. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/statvfs.h>

#include "st_testutil.h"

static const char *err_msg(const nt_err *e) { return e->msg; }

TEST(fixture_matches_spec_facts) {
    st_file *f = NULL;
    nt_err err = {0};
    if (st_file_open(ST_FIXTURE, &f, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    /* config: hidden 64, q_lora 32, vocab 512, 8 experts, moe_intermediate 32, 2 layers. */
    CHECK_EQ_INT(st_file_count(f), 33);
    const st_tensor *t = st_file_find(f, "model.layers.0.self_attn.q_a_proj.weight");
    CHECK(t && t->dtype == ST_F32 && t->ndim == 2 && t->shape[0] == 32 && t->shape[1] == 64);
    CHECK(t && t->numel == 2048 && t->nbytes == 8192);
    t = st_file_find(f, "lm_head.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 512 && t->shape[1] == 64);
    t = st_file_find(f, "model.layers.1.mlp.experts.gate_up_proj");
    CHECK(t && t->ndim == 3 && t->shape[0] == 8 && t->shape[1] == 64 && t->shape[2] == 64);
    t = st_file_find(f, "model.layers.1.mlp.experts.down_proj");
    CHECK(t && t->ndim == 3 && t->shape[0] == 8 && t->shape[1] == 64 && t->shape[2] == 32);
    CHECK(st_file_find(f, "model.layers.2.input_layernorm.weight") == NULL);
    CHECK(st_file_find(f, "__metadata__") == NULL);
    const val *fmt = val_dict_get(st_file_metadata(f), "format");
    CHECK(fmt && fmt->kind == VAL_STR && strcmp(fmt->u.str.s, "pt") == 0);
    CHECK_EQ_INT(st_file_header_len(f) % 8, 0);
    /* Sorted iteration is strictly increasing; every tensor is found by name. */
    for (size_t i = 0; i < st_file_count(f); i++) {
        const st_tensor *a = st_file_tensor_sorted(f, i);
        CHECK(st_file_find(f, a->name) == a);
        if (i) CHECK(strcmp(st_file_tensor_sorted(f, i - 1)->name, a->name) < 0);
        CHECK(st_tensor_aligned(a));
    }
    st_file_close(f);
}

TEST(fixture_matches_python_parse) {
    if (!have_python()) SKIP("no " PYTHON);
    char *py = run_python(st_py_dump, ST_FIXTURE);
    CHECK(py != NULL);
    st_file *f = NULL;
    nt_err err = {0};
    CHECK_MSG(st_file_open(ST_FIXTURE, &f, &err) == NT_OK, "%s", err.msg);
    if (py && f) {
        nt_buf b = {0};
        c_dump(&b, f);
        CHECK_EQ_STR(b.data, py);
        CHECK(strstr(py, "T 6d6f64656c2e6c61796572732e302e73656c665f617474") != NULL); /* sanity */
        nt_buf_free(&b);
    }
    st_file_close(f);
    free(py);
}

/* Every safetensors file of the shared reference fixtures (written by torch/safetensors)
 * opens and reads the same as Python reads it. */
TEST(shared_fixtures_match_python_parse) {
    const char *shared = test_shared_dir();
    if (!shared) SKIP("no shared reference directory");
    if (!have_python()) SKIP("no " PYTHON);
    char *args = nt_xasprintf("--walk %s/fixtures", shared);
    char *py = run_python(st_py_dump, args);
    free(args);
    CHECK(py != NULL);
    if (!py) return;
    nt_buf b = {0};
    int files = 0;
    for (const char *line = py; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "F ", 2) != 0) continue;
        char *path = nt_xstrndup(line + 2, (size_t)(strchr(line, '\n') - line - 2));
        st_file *f = NULL;
        nt_err err = {0};
        CHECK_MSG(st_file_open(path, &f, &err) == NT_OK, "%s", err.msg);
        if (f) c_dump(&b, f);
        st_file_close(f);
        free(path);
        files++;
    }
    CHECK(files >= 10);
    CHECK_EQ_STR(b.data, py);
    nt_buf_free(&b);
    free(py);
}

TEST(model_open_folder_and_file) {
    st_model *m = NULL;
    nt_err err = {0};
    CHECK_MSG(st_model_open("tests/fixtures/mistral4-tiny", &m, &err) == NT_OK, "%s", err.msg);
    if (!m) return;
    CHECK_EQ_INT(st_model_count(m), 33);
    CHECK_EQ_INT(st_model_shard_count(m), 1);
    CHECK(st_model_index_metadata(m) == NULL);
    CHECK_CONTAINS(st_file_path(st_model_shard(m, 0)), "model.safetensors");
    const st_tensor *t = st_model_find(m, "model.embed_tokens.weight");
    CHECK(t && t->nbytes == 512 * 64 * 4);
    CHECK_EQ_INT(st_model_total_bytes(m), 803912 - 8 - 3520);
    st_model_close(m);
}

/* ---- round trips ---- */

typedef struct {
    uint8_t seed;
} fill_ctx;

static nt_status fill_pattern(void *ctx, uint64_t off, void *buf, size_t n, nt_err *err) {
    const fill_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) ((uint8_t *)buf)[i] = (uint8_t)((off + i) * 7 + c->seed);
    return NT_OK;
}

/* A writer with one tensor of every dtype, a scalar, an empty tensor, odd names and a
 * filled (callback) tensor of 5 MB, so the fill crosses a chunk boundary. */
static st_writer *sample_writer(uint8_t **bufs, fill_ctx *fc) {
    st_writer *w = st_writer_new();
    nt_err err = {0};
    static const char *names[ST_DTYPE_COUNT] = {
        "f64", "f32.weight", "f16", "bf16", "f8 e4m3", "f8_e5m2", "i64", "i32", "i16",
        "i8", "u8 \"quoted\"", "u16\\back", "u32\ttab", "u64 \xc3\xa9\xf0\x9f\x98\x80", "bool"};
    for (int d = 0; d < ST_DTYPE_COUNT; d++) {
        int64_t shape[3] = {2, 3, d + 1};
        size_t n = (size_t)(6 * (d + 1)) * st_dtype_size((st_dtype)d);
        bufs[d] = malloc(n);
        for (size_t i = 0; i < n; i++) bufs[d][i] = (uint8_t)(i * 31 + (size_t)d);
        CHECK(st_writer_add(w, names[d], (st_dtype)d, 3, shape, bufs[d], &err) == NT_OK);
    }
    static const float scalar = 1.5f;
    CHECK(st_writer_add(w, "scalar", ST_F32, 0, NULL, &scalar, &err) == NT_OK);
    int64_t empty[2] = {0, 5};
    CHECK(st_writer_add(w, "empty", ST_BF16, 2, empty, NULL, &err) == NT_OK);
    int64_t big[2] = {1280, 1024};
    CHECK(st_writer_add_fill(w, "filled", ST_F32, 2, big, fill_pattern, fc, &err) == NT_OK);
    st_writer_set_metadata(w, "note", "r\xc3\xa9sum\xc3\xa9 \"x\"");
    return w;
}

static void free_bufs(uint8_t **bufs) {
    for (int d = 0; d < ST_DTYPE_COUNT; d++) free(bufs[d]);
}

TEST(roundtrip_single_file) {
    uint8_t *bufs[ST_DTYPE_COUNT];
    fill_ctx fc = {.seed = 3};
    st_writer *w = sample_writer(bufs, &fc);
    char *path = tpath("round.safetensors");
    nt_err err = {0};
    CHECK_MSG(st_writer_save(w, path, &err) == NT_OK, "%s", err.msg);
    st_file *f = NULL;
    CHECK_MSG(st_file_open(path, &f, &err) == NT_OK, "%s", err.msg);
    if (f) {
        CHECK_EQ_INT(st_file_count(f), ST_DTYPE_COUNT + 3);
        CHECK_EQ_INT((8 + st_file_header_len(f)) % 8, 0);
        for (int d = 0; d < ST_DTYPE_COUNT; d++) {
            const st_tensor *t = st_file_tensor(f, (size_t)d); /* header order = order given */
            CHECK(t->dtype == (st_dtype)d && t->ndim == 3 && t->shape[2] == d + 1);
            CHECK(t->nbytes == (uint64_t)(6 * (d + 1)) * st_dtype_size((st_dtype)d));
            CHECK(memcmp(t->data, bufs[d], t->nbytes) == 0);
        }
        for (size_t i = 0; i < st_file_count(f); i++) CHECK(st_tensor_aligned(st_file_tensor(f, i)));
        const st_tensor *s = st_file_find(f, "scalar");
        CHECK(s && s->ndim == 0 && s->numel == 1 && *(const float *)s->data == 1.5f);
        const st_tensor *e = st_file_find(f, "empty");
        CHECK(e && e->numel == 0 && e->nbytes == 0 && e->data == NULL);
        const st_tensor *fl = st_file_find(f, "filled");
        int ok = fl && fl->nbytes == 1280u * 1024u * 4u;
        for (uint64_t i = 0; ok && i < fl->nbytes; i++)
            ok = ((const uint8_t *)fl->data)[i] == (uint8_t)(i * 7 + 3);
        CHECK(ok);
        const val *md = st_file_metadata(f);
        CHECK_EQ_INT(val_dict_len(md), 2);
        CHECK_EQ_STR(val_dict_entry(md, 0)->key->u.str.s, "format");
        CHECK_EQ_STR(val_dict_entry(md, 0)->value->u.str.s, "pt");
        CHECK_EQ_STR(val_dict_get(md, "note")->u.str.s, "r\xc3\xa9sum\xc3\xa9 \"x\"");
    }
    if (f && have_python()) { /* an independent reader sees the same file */
        char *py = run_python(st_py_dump, path);
        nt_buf b = {0};
        c_dump(&b, f);
        CHECK(py && strcmp(py, b.data) == 0);
        nt_buf_free(&b);
        free(py);
    }
    st_file_close(f);
    st_writer_free(w);
    free_bufs(bufs);
    free(path);
}

/* Expected splits from huggingface_hub's own splitter tests (byte sizes 6,10,30,2,2 with a
 * limit of 10 give [1], [3], [2], [4,5]; a limit of 100 gives one shard). */
TEST(shard_plan_matches_huggingface) {
    st_writer *w = st_writer_new();
    nt_err err = {0};
    static const int64_t sizes[5] = {6, 10, 30, 2, 2};
    static uint8_t zeros[30];
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer_%d", i + 1);
        CHECK(st_writer_add(w, name, ST_U8, 1, &sizes[i], zeros, &err) == NT_OK);
    }
    size_t of[5];
    CHECK_EQ_INT(st_writer_plan_shards(w, 10, of), 4);
    CHECK(of[0] == 0 && of[1] == 2 && of[2] == 1 && of[3] == 3 && of[4] == 3);
    CHECK_EQ_INT(st_writer_plan_shards(w, 100, of), 1);
    CHECK_EQ_INT(st_writer_plan_shards(w, 0, of), 1);
    st_writer_free(w);
}

static const char py_index_check[] =
    "import json, sys\n"
    "raw = open(sys.argv[1], encoding='utf-8').read()\n"
    "idx = json.loads(raw)\n"
    "assert raw == json.dumps(idx, indent=2, sort_keys=True) + '\\n', 'bytes differ'\n"
    "print(idx['metadata']['total_size'], idx['metadata']['total_parameters'],\n"
    "      len(idx['weight_map']), len(set(idx['weight_map'].values())))\n";

static void check_same_tensors(const st_model *m, uint8_t **bufs) {
    CHECK_EQ_INT(st_model_count(m), ST_DTYPE_COUNT + 3);
    for (int d = 0; d < ST_DTYPE_COUNT; d++) {
        const st_tensor *t = st_model_tensor_sorted(m, 0);
        CHECK(t != NULL);
        /* find by name via the writer's sample names is done through data comparison */
        int found = 0;
        for (size_t i = 0; i < st_model_count(m); i++) {
            t = st_model_tensor(m, i);
            if (t->dtype == (st_dtype)d && t->ndim == 3 && t->shape[2] == d + 1)
                found += memcmp(t->data, bufs[d], t->nbytes) == 0;
        }
        CHECK_EQ_INT(found, 1);
    }
}

TEST(roundtrip_sharded) {
    uint8_t *bufs[ST_DTYPE_COUNT];
    fill_ctx fc = {.seed = 9};
    st_writer *w = sample_writer(bufs, &fc);
    char *dir = tpath("sharded");
    nt_err err = {0};
    /* 5 MB "filled" is over the limit (own shard); the ~1.6 kB rest splits in 3. */
    CHECK_MSG(st_writer_save_sharded(w, dir, 600, &err) == NT_OK, "%s", err.msg);
    size_t of[ST_DTYPE_COUNT + 3];
    size_t ns = st_writer_plan_shards(w, 600, of);
    CHECK(ns >= 4);
    char *idx = nt_path_join(dir, "model.safetensors.index.json");
    CHECK(nt_path_exists(idx));
    char *single = nt_path_join(dir, "model.safetensors");
    CHECK(!nt_path_exists(single));
    st_model *m = NULL;
    CHECK_MSG(st_model_open(dir, &m, &err) == NT_OK, "%s", err.msg);
    if (m) {
        CHECK_EQ_INT(st_model_shard_count(m), ns);
        CHECK_CONTAINS(st_file_path(st_model_shard(m, 0)), "model-00001-of-0000");
        check_same_tensors(m, bufs);
        const st_tensor *fl = st_model_find(m, "filled");
        CHECK(fl && fl->nbytes == 1280u * 1024u * 4u && ((const uint8_t *)fl->data)[1] == 16);
        const val *md = st_model_index_metadata(m);
        const val *ts = md ? val_dict_get(md, "total_size") : NULL;
        CHECK(ts && ts->kind == VAL_INT && (uint64_t)ts->u.i == st_model_total_bytes(m));
        for (size_t s = 0; s < st_model_shard_count(m); s++) {
            const val *fmt = val_dict_get(st_file_metadata(st_model_shard(m, s)), "format");
            CHECK(fmt && strcmp(fmt->u.str.s, "pt") == 0);
            CHECK_EQ_INT(st_file_header_len(st_model_shard(m, s)) % 8, 0);
        }
    }
    if (m && have_python()) {
        char *py = run_python(py_index_check, idx);
        uint64_t total = 0, params = 0;
        for (int d = 0; d < ST_DTYPE_COUNT; d++) {
            total += (uint64_t)(6 * (d + 1)) * st_dtype_size((st_dtype)d);
            params += (uint64_t)(6 * (d + 1));
        }
        total += 4 + 1280 * 1024 * 4;
        params += 1 + 1280 * 1024;
        char *want = nt_xasprintf("%llu %llu %d %zu\n", (unsigned long long)total,
                                  (unsigned long long)params, ST_DTYPE_COUNT + 3, ns);
        CHECK_EQ_STR(py, want);
        free(want);
        free(py);
    }
    st_model_close(m);
    /* Saving again without a limit leaves one file and removes the shards and the index. */
    CHECK(st_writer_save_sharded(w, dir, 0, &err) == NT_OK);
    CHECK(nt_path_exists(single) && !nt_path_exists(idx));
    char *shard1 = nt_path_join(dir, "model-00001-of-00004.safetensors");
    CHECK(!nt_path_exists(shard1));
    CHECK(st_model_open(dir, &m, &err) == NT_OK && st_model_shard_count(m) == 1);
    if (m) check_same_tensors(m, bufs);
    st_model_close(m);
    free(shard1);
    free(single);
    free(idx);
    free(dir);
    st_writer_free(w);
    free_bufs(bufs);
}

TEST(index_escapes_like_python) {
    if (!have_python()) SKIP("no " PYTHON);
    st_writer *w = st_writer_new();
    nt_err err = {0};
    static const char *names[] = {"b\xc3\xa9", "a\x7f", "c\xf0\x9f\x98\x80", "q\"\\\n",
                                  "Z", "\xe2\x82\xac"};
    static uint8_t data[8];
    int64_t one = 8;
    for (size_t i = 0; i < 6; i++)
        CHECK(st_writer_add(w, names[i], ST_U8, 1, &one, data, &err) == NT_OK);
    char *dir = tpath("escapes");
    CHECK(st_writer_save_sharded(w, dir, 16, &err) == NT_OK);
    char *idx = nt_path_join(dir, "model.safetensors.index.json");
    char *py = run_python(py_index_check, idx);
    CHECK_EQ_STR(py, "48 48 6 3\n");
    st_model *m = NULL;
    CHECK_MSG(st_model_open(idx, &m, &err) == NT_OK, "%s", err.msg);
    for (size_t i = 0; m && i < 6; i++) CHECK(st_model_find(m, names[i]) != NULL);
    st_model_close(m);
    free(py);
    free(idx);
    free(dir);
    st_writer_free(w);
}

TEST(writer_rejects_bad_tensors) {
    st_writer *w = st_writer_new();
    nt_err err = {0};
    static uint8_t data[64];
    int64_t shape[9] = {2, 2, 2, 2, 2, 2, 2, 2, 2}, neg[2] = {2, -1};
    CHECK(st_writer_add(w, "x", ST_U8, 1, shape, data, &err) == NT_OK);
    CHECK(st_writer_add(w, "x", ST_U8, 1, shape, data, &err) == NT_EINVAL);
    CHECK_CONTAINS(err_msg(&err), "tensor 'x': tensor added twice");
    CHECK(st_writer_add(w, "neg", ST_U8, 2, neg, data, &err) == NT_EINVAL);
    CHECK_CONTAINS(err_msg(&err), "tensor 'neg': shape[1] is negative");
    CHECK(st_writer_add(w, "nine", ST_U8, 9, shape, data, &err) == NT_EINVAL);
    CHECK_CONTAINS(err_msg(&err), "tensor 'nine'");
    CHECK(st_writer_add(w, "bad\xff", ST_U8, 1, shape, data, &err) == NT_EINVAL);
    CHECK_CONTAINS(err_msg(&err), "tensor 'bad\\xff'");
    CHECK(st_writer_add(w, "", ST_U8, 1, shape, data, &err) == NT_EINVAL);
    CHECK(st_writer_add(w, "__metadata__", ST_U8, 1, shape, data, &err) == NT_EINVAL);
    CHECK(st_writer_add(w, "nodata", ST_U8, 1, shape, NULL, &err) == NT_EINVAL);
    int64_t huge[2] = {INT64_MAX, 4};
    CHECK(st_writer_add(w, "huge", ST_F32, 2, huge, data, &err) == NT_EINVAL);
    CHECK_CONTAINS(err_msg(&err), "overflows");
    CHECK_EQ_INT(st_writer_count(w), 1);
    st_writer_free(w);
}

/* ---- atomicity ---- */

static nt_status fill_fails(void *ctx, uint64_t off, void *buf, size_t n, nt_err *err) {
    memset(buf, 0xab, n);
    if (off >= ((size_t)4 << 20)) return nt_err_set(err, NT_EIO, "disk on fire");
    return NT_OK;
}

static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

TEST(aborted_write_leaves_no_file) {
    char *dir = tpath("atomic");
    nt_err err = {0};
    CHECK(nt_mkdirs(dir, &err) == NT_OK);
    char *path = nt_path_join(dir, "w.safetensors"), *old = nt_path_join(dir, "old.safetensors");
    st_writer *w = st_writer_new();
    static const uint8_t small[4] = {1, 2, 3, 4};
    int64_t four = 4, big = (int64_t)3 << 20;
    CHECK(st_writer_add(w, "a", ST_U8, 1, &four, small, &err) == NT_OK);
    CHECK(st_writer_add_fill(w, "boom", ST_F32, 1, &big, fill_fails, NULL, &err) == NT_OK);
    CHECK(st_writer_save(w, path, &err) == NT_EIO);
    CHECK_CONTAINS(err_msg(&err), "w.safetensors: tensor 'boom': disk on fire");
    CHECK(!nt_path_exists(path));
    /* An existing file under the name survives a failed save untouched. */
    write_bytes(old, "previous", 8);
    CHECK(st_writer_save(w, old, &err) == NT_EIO);
    char *content = NULL;
    size_t len = 0;
    CHECK(nt_read_file(old, &content, &len, &err) == NT_OK && len == 8 &&
          memcmp(content, "previous", 8) == 0);
    free(content);
    /* Sharded: a failing shard leaves no index (the folder is never half a checkpoint). */
    char *sdir = nt_path_join(dir, "sh");
    CHECK(st_writer_save_sharded(w, sdir, 16, &err) == NT_EIO);
    char *idx = nt_path_join(sdir, "model.safetensors.index.json");
    CHECK(!nt_path_exists(idx));
    CHECK_EQ_INT(count_tmp_files(dir), 0);
    CHECK_EQ_INT(count_tmp_files(sdir), 0);
    free(idx);
    free(sdir);
    st_writer_free(w);
    free(old);
    free(path);
    free(dir);
}

/* ---- large files ---- */

/* A header declaring 50 GB of data over a sparse file: opening must neither read nor
 * allocate the data (the mapping is lazy), and all sizes must be exact in 64 bits. */
TEST(sparse_50gb_file_opens_lazily) {
    const uint64_t big = 50ull * 1000 * 1000 * 1000;
    char header[256];
    int hl = snprintf(header, sizeof header,
                      "{\"big\":{\"dtype\":\"BF16\",\"shape\":[5,5000000000],"
                      "\"data_offsets\":[0,%llu]},\"tail\":{\"dtype\":\"F32\",\"shape\":[2],"
                      "\"data_offsets\":[%llu,%llu]}}",
                      (unsigned long long)big, (unsigned long long)big,
                      (unsigned long long)big + 8);
    nt_buf b = {0};
    make_st(&b, header, (uint64_t)hl, 0);
    char *path = tpath("sparse.safetensors");
    write_bytes(path, b.data, b.len);
    nt_buf_free(&b);
    struct statvfs before, after;
    CHECK(statvfs(test_tmpdir(), &before) == 0);
    if (truncate(path, (off_t)(8 + (uint64_t)hl + big + 8)) != 0) {
        unlink(path);
        free(path);
        SKIP("the temp filesystem cannot hold a sparse 50 GB file");
    }
    st_file *f = NULL;
    nt_err err = {0};
    CHECK_MSG(st_file_open(path, &f, &err) == NT_OK, "%s", err.msg);
    if (f) {
        const st_tensor *t = st_file_find(f, "big"), *tail = st_file_find(f, "tail");
        CHECK(t && t->numel == 25000000000ull && t->nbytes == big);
        CHECK(tail && tail->offset == big && st_file_data_len(f) == big + 8);
        /* Touching the last page of a hole reads zeros without allocating blocks. */
        CHECK(tail && ((const uint8_t *)tail->data)[7] == 0);
        CHECK(t && ((const uint8_t *)t->data)[big - 1] == 0);
    }
    CHECK(statvfs(test_tmpdir(), &after) == 0);
    double used = ((double)before.f_bavail - (double)after.f_bavail) * (double)before.f_frsize;
    CHECK_MSG(used < 64e6, "free space dropped by %.0f bytes", used);
    st_file_close(f);
    CHECK(unlink(path) == 0);
    free(path);
}

TEST_MAIN()
