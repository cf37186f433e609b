/* `newt inspect` end to end: the tiny fixture, and a full-size Mistral Small 4 release layout
 * (real headers, FP8 weights with their scales, sharded with an index) whose data regions are
 * sparse, so no 240 GB download or disk is needed. */
#include <fcntl.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "m4_fixtures.h"
#include "model/m4_config.h"
#include "model/m4_names.h"
#include "test.h"

typedef struct {
    const char *dir;
    nt_buf header, index_map;
    uint64_t shard_bytes, total_bytes, limit;
    int shard, nshards, failed, dry_run; /* a dry run only counts the shards */
    char shard_name[64];
} sparse_writer;

static void shard_flush(sparse_writer *w) {
    if (!w->header.len) return;
    if (w->dry_run) {
        w->header.len = 0;
        w->shard_bytes = 0;
        return;
    }
    nt_buf_puts(&w->header, "}");
    while (w->header.len % 8) nt_buf_putc(&w->header, ' ');
    char *path = nt_path_join(w->dir, w->shard_name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    uint64_t hlen = w->header.len;
    if (fd < 0 || write(fd, &hlen, 8) != 8 ||
        write(fd, w->header.data, w->header.len) != (ssize_t)w->header.len ||
        ftruncate(fd, (off_t)(8 + hlen + w->shard_bytes)) != 0)
        w->failed = 1;
    if (fd >= 0) close(fd);
    free(path);
    w->header.len = 0;
    w->shard_bytes = 0;
}

static void sparse_cb(const m4_tensor_spec *t, void *ud) {
    sparse_writer *w = ud;
    const char *dtype = t->group == M4_GROUP_FP8_SCALE ? "F32" : t->fp8 ? "F8_E4M3" : "BF16";
    uint64_t esize = t->group == M4_GROUP_FP8_SCALE ? 4 : t->fp8 ? 1 : 2, numel = 1;
    for (int i = 0; i < t->ndim; i++) numel *= (uint64_t)t->shape[i];
    uint64_t nbytes = numel * esize;
    if (w->shard_bytes && w->shard_bytes + nbytes > w->limit) shard_flush(w);
    if (!w->header.len) {
        snprintf(w->shard_name, sizeof w->shard_name, "model-%05d-of-%05d.safetensors", ++w->shard,
                 w->nshards);
        nt_buf_puts(&w->header, "{\"__metadata__\":{\"format\":\"pt\"}");
    }
    nt_buf_printf(&w->header, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, dtype);
    for (int i = 0; i < t->ndim; i++) nt_buf_printf(&w->header, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    nt_buf_printf(&w->header, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)w->shard_bytes,
                  (unsigned long long)(w->shard_bytes + nbytes));
    if (!w->dry_run)
        nt_buf_printf(&w->index_map, "%s\"%s\": \"%s\"", w->index_map.len ? ", " : "", t->name,
                      w->shard_name);
    w->shard_bytes += nbytes;
    w->total_bytes += nbytes;
}

TEST(small4_release_layout_sparse) {
    char *dir = nt_path_join(test_tmpdir(), "small4");
    nt_err err = {0};
    CHECK(nt_mkdirs(dir, &err) == NT_OK);
    char *cfg_path = nt_path_join(dir, "config.json");
    CHECK(nt_write_file_atomic(cfg_path, M4_SMALL4_CONFIG_JSON, strlen(M4_SMALL4_CONFIG_JSON), &err) == NT_OK);
    val *cv = NULL;
    m4_config cfg;
    CHECK(json_parse(M4_SMALL4_CONFIG_JSON, strlen(M4_SMALL4_CONFIG_JSON), &cv, &err) == NT_OK);
    CHECK(m4_config_from_val(cv, &cfg, &err) == NT_OK);
    val_unref(cv);
    /* Shards of at most 5 GB of data, named as Hugging Face names them. */
    sparse_writer w = {.dir = dir, .limit = 5ull << 30, .dry_run = 1};
    m4_enum_tensors(&cfg, M4_NAMES_LEGACY, true, sparse_cb, &w);
    shard_flush(&w);
    nt_buf_free(&w.header);
    w = (sparse_writer){.dir = dir, .limit = 5ull << 30, .nshards = w.shard};
    m4_enum_tensors(&cfg, M4_NAMES_LEGACY, true, sparse_cb, &w);
    shard_flush(&w);
    CHECK(!w.failed);
    CHECK(w.shard > 20);
    char *idx = nt_xasprintf("{\"metadata\": {\"total_size\": %llu, \"total_parameters\": 119401317952}, "
                             "\"weight_map\": {%s}}", (unsigned long long)w.total_bytes, w.index_map.data);
    char *idx_path = nt_path_join(dir, "model.safetensors.index.json");
    CHECK(nt_write_file_atomic(idx_path, idx, strlen(idx), &err) == NT_OK);

    char *cmd = nt_xasprintf("%s inspect %s 2>&1", test_newt_bin(), dir), *out = NULL;
    int rc = test_run(cmd, &out);
    CHECK_EQ_INT(rc, 0);
    CHECK_CONTAINS(out, "architecture: Mistral3ForConditionalGeneration");
    CHECK_CONTAINS(out, "119,401,317,952");
    CHECK_CONTAINS(out, "index total_parameters: 119,401,317,952 (matches the tensors)");
    CHECK_CONTAINS(out, "config implies 119,401,298,944 parameters + 19,008 FP8 scale values");
    CHECK_CONTAINS(out, "0 missing, 0 with another shape, 0 unexpected");
    CHECK_CONTAINS(out, "release on-disk");
    CHECK_CONTAINS(out, "403,305,472"); /* vision tower */
    if (test_cur_failed_) fprintf(stderr, "%s\n", out);
    free(out);
    free(cmd);
    /* Remove the sparse shards right away. */
    for (int s = 1; s <= w.shard; s++) {
        char name[64];
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s, w.nshards);
        char *p = nt_path_join(dir, name);
        unlink(p);
        free(p);
    }
    unlink(idx_path);
    unlink(cfg_path);
    rmdir(dir);
    free(idx_path); free(idx); free(cfg_path); free(dir);
    nt_buf_free(&w.header);
    nt_buf_free(&w.index_map);
}

TEST(tiny_fixture) {
    char *cmd = nt_xasprintf("%s inspect tests/fixtures/mistral4-tiny --tensors 2>&1", test_newt_bin()), *out = NULL;
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    CHECK_CONTAINS(out, "text (mistral4): 2 layers, hidden 64, 4 heads, vocab 512");
    CHECK_CONTAINS(out, "0 missing, 0 with another shape, 0 unexpected");
    CHECK_CONTAINS(out, "model.layers.0.self_attn.q_a_proj.weight");
    CHECK_CONTAINS(out, "text-only");
    free(out);
    free(cmd);
}

TEST(bad_inputs_are_errors_not_crashes) {
    char *out = NULL;
    char *cmd = nt_xasprintf("%s inspect /nonexistent/path 2>&1", test_newt_bin());
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    CHECK_CONTAINS(out, "/nonexistent/path");
    free(out); free(cmd);
    char *bad = nt_path_join(test_tmpdir(), "bad.safetensors");
    nt_err err = {0};
    CHECK(nt_write_file_atomic(bad, "\x10\0\0\0\0\0\0\0{not json}      ", 24, &err) == NT_OK);
    cmd = nt_xasprintf("%s inspect %s 2>&1", test_newt_bin(), bad);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    CHECK_CONTAINS(out, "bad.safetensors");
    free(out); free(cmd); free(bad);
    cmd = nt_xasprintf("%s inspect 2>&1", test_newt_bin());
    CHECK_EQ_INT(test_run(cmd, &out), 2);
    free(out); free(cmd);
}

TEST_MAIN()
