#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/mem.h"
#include "data/ds_cache.h"
#include "test.h"
#include "py_oracle.h"

static void add(ds_set *s, int32_t a, int32_t b, int32_t c, uint32_t len, uint32_t ds, uint64_t row) {
    int32_t ids[3] = {a, b, c}, lab[3] = {-100, b, c};
    ds_set_add(s, ids, lab, len, ds, row);
}

static void sample_sets(ds_set *tr, ds_set *va) {
    add(tr, 1, 2, 3, 3, 0, 1);
    add(tr, 4, 5, 6, 2, 1, 7);
    add(tr, 70000, 8, 9, 1, 0, 3);
    add(va, 11, 12, 13, 3, 2, 5);
}

static void write_text(const char *path, const char *text) {
    nt_err err = {0};
    CHECK_EQ_INT(nt_write_file_atomic(path, text, strlen(text), &err), NT_OK);
}

/* Key over: a data file, a tokenizer file, a template and a config dict. */
static void key_of(const char *data, const char *tok, const char *tmpl, val *cfg, uint8_t *key) {
    ds_cache_key k;
    nt_err err = {0};
    ds_cache_key_init(&k);
    CHECK_EQ_INT(ds_cache_key_file(&k, "data", data, &err), NT_OK);
    CHECK_EQ_INT(ds_cache_key_file(&k, "tokenizer", tok, &err), NT_OK);
    ds_cache_key_str(&k, "template", tmpl);
    ds_cache_key_config(&k, cfg);
    ds_cache_key_final(&k, key);
}

static val *cfg_dict(int64_t seq_len, bool swap) {
    val *d = val_dict();
    if (swap) val_dict_set(d, "train_on_inputs", val_bool(false));
    val_dict_set(d, "sequence_len", val_int(seq_len));
    if (!swap) val_dict_set(d, "train_on_inputs", val_bool(false));
    return d;
}

TEST(key_changes_with_every_input) {
    char data[512], tok[512];
    snprintf(data, sizeof data, "%s/k.jsonl", test_tmpdir());
    snprintf(tok, sizeof tok, "%s/k.tok", test_tmpdir());
    write_text(data, "{\"messages\": []}\n");
    write_text(tok, "tokenizer v1");
    val *c1 = cfg_dict(2048, false), *c1b = cfg_dict(2048, true), *c2 = cfg_dict(4096, false);
    uint8_t base[32], again[32], k[32];
    key_of(data, tok, "T", c1, base);
    key_of(data, tok, "T", c1, again);
    CHECK(memcmp(base, again, 32) == 0);
    key_of(data, tok, "T", c1b, k);
    CHECK_MSG(memcmp(base, k, 32) == 0, "config key order must not matter (sort_keys)");
    key_of(data, tok, "T", c2, k);
    CHECK(memcmp(base, k, 32) != 0);
    key_of(data, tok, "U", c1, k);
    CHECK(memcmp(base, k, 32) != 0);
    key_of(data, tok, "", c1, k);
    uint8_t knull[32];
    key_of(data, tok, NULL, c1, knull);
    CHECK(memcmp(k, knull, 32) != 0);
    write_text(tok, "tokenizer v2");
    key_of(data, tok, "T", c1, k);
    CHECK(memcmp(base, k, 32) != 0);
    write_text(tok, "tokenizer v1");
    write_text(data, "{\"messages\": [ ]}\n");
    key_of(data, tok, "T", c1, k);
    CHECK(memcmp(base, k, 32) != 0);
    write_text(data, "{\"messages\": []}\n");
    key_of(data, tok, "T", c1, k);
    CHECK_MSG(memcmp(base, k, 32) == 0, "restoring the bytes restores the key");
    /* Framing: moving a byte between two items changes the key. */
    ds_cache_key a, b;
    uint8_t ka[32], kb[32];
    ds_cache_key_init(&a);
    ds_cache_key_str(&a, "x", "ab");
    ds_cache_key_str(&a, "x", "c");
    ds_cache_key_init(&b);
    ds_cache_key_str(&b, "x", "a");
    ds_cache_key_str(&b, "x", "bc");
    ds_cache_key_final(&a, ka);
    ds_cache_key_final(&b, kb);
    CHECK(memcmp(ka, kb, 32) != 0);
    nt_err err = {0};
    CHECK_EQ_INT(ds_cache_key_file(&a, "data", "/nonexistent/file", &err), NT_EIO);
    CHECK_CONTAINS(err.msg, "/nonexistent/file");
    val_unref(c1);
    val_unref(c1b);
    val_unref(c2);
}

static void check_same(const ds_set *a, const ds_set *b) {
    CHECK_EQ_INT(a->n, b->n);
    CHECK_EQ_INT(a->ntok, b->ntok);
    if (a->n != b->n || a->ntok != b->ntok) return;
    for (size_t i = 0; i < a->n; i++) {
        CHECK_EQ_INT(a->len[i], b->len[i]);
        CHECK_EQ_INT(a->dataset[i], b->dataset[i]);
        CHECK_EQ_INT(a->row[i], b->row[i]);
        CHECK(memcmp(ds_set_ids(a, i), ds_set_ids(b, i), a->len[i] * 4) == 0);
        CHECK(memcmp(ds_set_labels(a, i), ds_set_labels(b, i), a->len[i] * 4) == 0);
    }
}

TEST(write_read_roundtrip_and_alignment) {
    ds_set tr = {0}, va = {0};
    sample_sets(&tr, &va);
    uint8_t key[32];
    nt_hash_buf("k", 1, key, 32);
    char *path = ds_cache_path(test_tmpdir(), key);
    nt_err err = {0};
    CHECK_EQ_INT(ds_cache_write(path, key, &tr, &va, &err), NT_OK);
    ds_cache c;
    CHECK_EQ_INT(ds_cache_read(path, key, &c, &err), NT_OK);
    check_same(&tr, &c.train);
    check_same(&va, &c.val);
    CHECK(c.train.borrowed && c.val.borrowed);
    const void *cols[] = {c.train.ids, c.train.labels, c.train.start, c.train.len, c.train.dataset,
                          c.train.row, c.val.ids, c.val.row};
    for (size_t i = 0; i < 8; i++)
        CHECK_EQ_INT(((const uint8_t *)cols[i] - c.map.data) % 64, 0);
    uint8_t other[32];
    nt_hash_buf("j", 1, other, 32);
    ds_cache c2;
    CHECK_EQ_INT(ds_cache_read(path, other, &c2, &err), NT_EPARSE);
    CHECK_CONTAINS(err.msg, "different key");
    ds_cache_close(&c);
    /* An empty validation set (val_set_size 0) and an empty training set round-trip too. */
    ds_set none = {0};
    CHECK_EQ_INT(ds_cache_write(path, key, &tr, &none, &err), NT_OK);
    CHECK_EQ_INT(ds_cache_read(path, key, &c, &err), NT_OK);
    check_same(&tr, &c.train);
    CHECK_EQ_INT(c.val.n, 0);
    ds_cache_close(&c);
    CHECK_EQ_INT(ds_cache_write(path, key, &none, &none, &err), NT_OK);
    CHECK_EQ_INT(ds_cache_read(path, key, &c, &err), NT_OK);
    CHECK_EQ_INT(c.train.n + c.val.n, 0);
    CHECK_EQ_INT(c.map.len, 128);
    ds_cache_close(&c);
    /* No temp file is left next to the result. */
    char *dir = nt_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; d && (e = readdir(d));) files += e->d_name[0] != '.';
    if (d) closedir(d);
    CHECK_EQ_INT(files, 1);
    free(dir);
    free(path);
    ds_set_free(&tr);
    ds_set_free(&va);
}

/* The documented format, read by an independent Python reader (checksum via hashlib). */
TEST(format_matches_python_reader) {
    if (!py_oracle_available()) SKIP("no /usr/bin/python3");
    ds_set tr = {0}, va = {0};
    sample_sets(&tr, &va);
    uint8_t key[32] = {0};
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/fmt/prepared.bin", test_tmpdir());
    nt_err err = {0};
    CHECK_EQ_INT(ds_cache_write(path, key, &tr, &va, &err), NT_OK);
    char args[600];
    snprintf(args, sizeof args, "cache %s", path);
    FILE *f = py_oracle_open("ds_ref.py", args);
    CHECK(f != NULL);
    if (!f) return;
    const char *want[] = {"ok 3 6 1 3\n", "0 0 1 | 1 2 3 | -100 2 3\n", "0 1 7 | 4 5 | -100 5\n",
                          "0 0 3 | 70000 | -100\n", "1 2 5 | 11 12 13 | -100 12 13\n"};
    for (size_t i = 0; i < 5; i++) {
        if (!fgets(line, sizeof line, f)) line[0] = '\0';
        CHECK_EQ_STR(line, want[i]);
    }
    pclose(f);
    ds_set_free(&tr);
    ds_set_free(&va);
}

typedef struct {
    int calls;
    int32_t first;
} build_ctx;

static nt_status build(void *ctx, ds_set *train, ds_set *valid, nt_err *err) {
    build_ctx *b = ctx;
    b->calls++;
    add(train, b->first, 2, 3, 3, 0, 1);
    add(valid, 9, 9, 9, 2, 0, 2);
    return NT_OK;
}

static nt_status build_fails(void *ctx, ds_set *train, ds_set *valid, nt_err *err) {
    return nt_err_set(err, NT_EPARSE, "data.jsonl:3: broken");
}

TEST(get_reuses_rebuilds_and_recovers) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/prepared", test_tmpdir());
    uint8_t key[32], key2[32];
    nt_hash_buf("a", 1, key, 32);
    nt_hash_buf("b", 1, key2, 32);
    build_ctx b = {0, 5};
    ds_cache c;
    bool reused = true;
    nt_err err = {0};
    CHECK_EQ_INT(ds_cache_get(dir, key, build, &b, &c, &reused, &err), NT_OK);
    CHECK(!reused);
    CHECK_EQ_INT(b.calls, 1);
    CHECK_EQ_INT(c.train.ids[0], 5);
    ds_cache_close(&c);
    b.first = 6; /* a rebuild would show 6 */
    CHECK_EQ_INT(ds_cache_get(dir, key, build, &b, &c, &reused, &err), NT_OK);
    CHECK(reused);
    CHECK_EQ_INT(b.calls, 1);
    CHECK_EQ_INT(c.train.ids[0], 5);
    CHECK_EQ_INT(c.val.n, 1);
    ds_cache_close(&c);
    CHECK_EQ_INT(ds_cache_get(dir, key2, build, &b, &c, &reused, &err), NT_OK);
    CHECK(!reused);
    CHECK_EQ_INT(b.calls, 2);
    CHECK_EQ_INT(c.train.ids[0], 6);
    ds_cache_close(&c);

    /* Flip one byte of the body: detected (checksum), then rebuilt. */
    char *path = ds_cache_path(dir, key);
    char *bytes;
    size_t n;
    CHECK_EQ_INT(nt_read_file(path, &bytes, &n, &err), NT_OK);
    bytes[128] ^= 1;
    CHECK_EQ_INT(nt_write_file_atomic(path, bytes, n, &err), NT_OK);
    CHECK_EQ_INT(ds_cache_read(path, key, &c, &err), NT_EPARSE);
    CHECK_CONTAINS(err.msg, "checksum");
    CHECK_CONTAINS(err.msg, path);
    nt_log_set_level(NT_LOG_ERROR); /* the rebuild warning is expected */
    CHECK_EQ_INT(ds_cache_get(dir, key, build, &b, &c, &reused, &err), NT_OK);
    CHECK(!reused);
    CHECK_EQ_INT(b.calls, 3);
    ds_cache_close(&c);
    /* Truncated. */
    CHECK_EQ_INT(nt_write_file_atomic(path, bytes, n - 8, &err), NT_OK);
    CHECK_EQ_INT(ds_cache_read(path, key, &c, &err), NT_EPARSE);
    CHECK_CONTAINS(err.msg, "truncated");
    CHECK_EQ_INT(ds_cache_get(dir, key, build, &b, &c, &reused, &err), NT_OK);
    CHECK_EQ_INT(b.calls, 4);
    ds_cache_close(&c);
    /* Empty file. */
    CHECK_EQ_INT(nt_write_file_atomic(path, "", 0, &err), NT_OK);
    CHECK_EQ_INT(ds_cache_read(path, key, &c, &err), NT_EPARSE);
    /* A failing build is returned, and nothing is written. */
    CHECK_EQ_INT(ds_cache_get(dir, key, build_fails, &b, &c, &reused, &err), NT_EPARSE);
    CHECK_CONTAINS(err.msg, "data.jsonl:3");
    nt_log_set_level(NT_LOG_INFO);
    free(bytes);
    free(path);
    CHECK_EQ_INT(ds_cache_read("/nonexistent/prepared.bin", NULL, &c, &err), NT_ENOTFOUND);
}

/* Seeded random mutations of a valid file: every read is OK or a clean NT_EPARSE. */
TEST(mutated_files_never_crash) {
    ds_set tr = {0}, va = {0};
    sample_sets(&tr, &va);
    char path[512];
    snprintf(path, sizeof path, "%s/mut.bin", test_tmpdir());
    nt_err err = {0};
    CHECK_EQ_INT(ds_cache_write(path, (const uint8_t *)"0123456789abcdef0123456789abcdef",
                                &tr, &va, &err), NT_OK);
    char *orig;
    size_t n;
    CHECK_EQ_INT(nt_read_file(path, &orig, &n, &err), NT_OK);
    uint64_t seed = 12345;
    int parse_errors = 0;
    for (int it = 0; it < 300; it++) {
        char *m = nt_xmalloc(n);
        memcpy(m, orig, n);
        size_t len = n;
        int kind = (int)(py_oracle_rand(&seed) % 3);
        if (kind == 0) m[py_oracle_rand(&seed) % n] ^= (char)(1 + py_oracle_rand(&seed) % 255);
        else if (kind == 1) len = py_oracle_rand(&seed) % n;
        else memset(m + 48 + py_oracle_rand(&seed) % 40, 0xff, 8); /* counts / size fields */
        CHECK_EQ_INT(nt_write_file_atomic(path, m, len, &err), NT_OK);
        ds_cache c;
        nt_status st = ds_cache_read(path, NULL, &c, &err);
        CHECK(st == NT_EPARSE);
        parse_errors += st == NT_EPARSE;
        if (!st) ds_cache_close(&c);
        free(m);
    }
    CHECK_EQ_INT(parse_errors, 300);
    free(orig);
    ds_set_free(&tr);
    ds_set_free(&va);
}

TEST_MAIN()
