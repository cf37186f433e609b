/* Corrupt, truncated and inconsistent safetensors files and indexes: each must give an
 * error naming the file and (where there is one) the tensor at fault, never a crash.
 * ST_SHOW=1 prints every message, to review their wording. */
#include "st_testutil.h"

typedef struct {
    const char *header;  /* header text; NULL: no header bytes at all */
    int64_t hlen;        /* the length prefix; -1: strlen(header) */
    size_t ndata;        /* data bytes after the header */
    int64_t file_len;    /* truncate the file to this length; -1: keep */
    const char *want[2]; /* substrings the message must contain (besides the file name) */
} bad_case;

#define T(name, dt, shape, b, e) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape \
                                 ",\"data_offsets\":[" #b "," #e "]}"

static const bad_case bad_cases[] = {
    {NULL, 0, 0, 0, {"0 bytes, too short", NULL}},
    {NULL, 0, 0, 5, {"5 bytes, too short", NULL}},
    {"{}", (int64_t)1 << 40, 0, -1, {"header length 1099511627776 exceeds the limit", NULL}},
    {"{}", 200000000, 0, -1, {"exceeds the limit of 100000000", NULL}},
    {"{" T("w", "F32", "[2]", 0, 8) "}", 1000, 8, -1, {"header length 1000 runs past the end", NULL}},
    {"{" T("w", "F32", "[2]", 0, 8) "}", -1, 8, 20, {"header length", "runs past the end"}},
    {"{" T("w", "F32", "[4]", 0, 16) "}", -1, 16, -2, {"tensor 'w'", "run past the end of the data region"}},
    {"{\"w\": {\"dtype\": \"F32\", ", -1, 0, -1, {"header: ", NULL}},
    {"[1, 2]", -1, 0, -1, {"does not start with '{'", NULL}},
    {"{" T("w.weight", "F33", "[2]", 0, 8) "}", -1, 8, -1, {"tensor 'w.weight'", "unknown dtype 'F33'"}},
    {"{" T("neg", "F32", "[2,-3]", 0, 8) "}", -1, 8, -1, {"tensor 'neg'", "shape[1] is not a non-negative integer"}},
    {"{" T("flt", "F32", "[2.0]", 0, 8) "}", -1, 8, -1, {"tensor 'flt'", "shape[0] is not"}},
    {"{" T("huge", "U8", "[4611686018427387904,4611686018427387904]", 0, 8) "}", -1, 8, -1,
     {"tensor 'huge'", "shape overflows 64 bits"}},
    {"{" T("huge4", "F32", "[4611686018427387904,2]", 0, 8) "}", -1, 8, -1,
     {"tensor 'huge4'", "shape [4611686018427387904,2] × F32 overflows"}},
    {"{" T("x.weight", "F32", "[2,3]", 0, 20) "}", -1, 20, -1,
     {"tensor 'x.weight'", "shape [2,3] × F32 = 24 bytes but data_offsets span 20"}},
    {"{" T("off", "U8", "[8]", 18446744073709551608, 18446744073709551616) "}", -1, 8, -1,
     {"tensor 'off'", "not a list of two non-negative integers"}},
    {"{" T("off2", "U8", "[7]", 9223372036854775800, 9223372036854775807) "}", -1, 8, -1,
     {"tensor 'off2'", "data_offsets [9223372036854775800,9223372036854775807] run past the end"}},
    {"{" T("rev", "U8", "[0]", 8, 0) "}", -1, 8, -1, {"tensor 'rev'", "begin after end"}},
    {"{" T("a", "U8", "[8]", 0, 8) "," T("b", "U8", "[8]", 4, 12) "}", -1, 12, -1,
     {"tensor 'b': data_offsets [4,12] overlap tensor 'a' [0,8]", NULL}},
    {"{" T("a", "U8", "[4]", 0, 4) "," T("b", "U8", "[4]", 8, 12) "}", -1, 12, -1,
     {"tensor 'b'", "gap of 4 bytes"}},
    {"{" T("a", "U8", "[4]", 0, 4) "}", -1, 10, -1, {"6 bytes after the last tensor", NULL}},
    {"{" T("far", "U8", "[8]", 100, 108) "}", -1, 8, -1, {"tensor 'far'", "run past the end"}},
    {"{\"__metadata__\":{\"format\":\"pt\",\"n\":3}}", -1, 0, -1, {"__metadata__ key 'n' has type int", NULL}},
    {"{\"__metadata__\":[1]}", -1, 0, -1, {"__metadata__ has type list", NULL}},
    {"{\"w\":[1]}", -1, 0, -1, {"tensor 'w'", "entry has type list"}},
    {"{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", -1, 1, -1, {"tensor 'w'", "missing \"dtype\""}},
    {"{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", -1, 1, -1, {"tensor 'w'", "missing \"shape\""}},
    {"{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", -1, 1, -1, {"tensor 'w'", "missing \"data_offsets\""}},
    {"{" T("nine", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", -1, 1, -1, {"tensor 'nine'", "9 dimensions"}},
    {"{" T("a\\u0000b", "U8", "[1]", 0, 1) "}", -1, 1, -1, {"tensor 'a\\x00b'", "NUL byte"}},
    {"{" T("ctl\\n\\u00e9", "U8", "[1]", 0, 2) "}", -1, 2, -1, {"tensor 'ctl\\x0a\\xc3\\xa9'", NULL}},
};

TEST(corrupt_files_give_named_errors) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *c = &bad_cases[i];
        nt_buf b = {0};
        if (c->header) make_st(&b, c->header, c->hlen >= 0 ? (uint64_t)c->hlen : strlen(c->header), c->ndata);
        else make_st(&b, "", 8, 0);
        size_t len = b.len;
        if (c->file_len >= 0 && (size_t)c->file_len < len) len = (size_t)c->file_len;
        if (c->file_len == -2) len -= 1; /* one byte short of the declared data */
        char name[64];
        snprintf(name, sizeof name, "bad_%02zu.safetensors", i);
        char *path = tpath(name);
        write_bytes(path, b.data, len);
        st_file *f = NULL;
        nt_err err = {0};
        nt_status st = st_file_open(path, &f, &err);
        CHECK_MSG(st != NT_OK && f == NULL, "case %zu opened", i);
        if (getenv("ST_SHOW")) fprintf(stderr, "%s\n", err.msg);
        CHECK_MSG(strstr(err.msg, name) == err.msg + strlen(path) - strlen(name),
                  "case %zu: message does not start with the path: %s", i, err.msg);
        for (int k = 0; k < 2; k++)
            if (c->want[k]) CHECK_MSG(strstr(err.msg, c->want[k]), "case %zu: \"%s\" lacks \"%s\"",
                                      i, err.msg, c->want[k]);
        /* The same bytes in memory give the same message (under the given name). */
        nt_err err2 = {0};
        CHECK(st_file_open_memory(b.data, len, path, &f, &err2) == st && f == NULL);
        CHECK_EQ_STR(err2.msg, err.msg);
        CHECK(st_file_open(path, &f, NULL) == st && f == NULL); /* no error struct: no crash */
        free(path);
        nt_buf_free(&b);
    }
}

/* The fixture cut at several points, and every prefix of a small file: all must fail
 * cleanly (only the whole file opens). */
TEST(truncated_files_fail_cleanly) {
    char *data = NULL;
    size_t len = 0;
    nt_err err = {0};
    if (nt_read_file(ST_FIXTURE, &data, &len, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (uint8_t)data[i];
    size_t cuts[] = {0, 1, 7, 8, 9, 100, (size_t)hl + 7, (size_t)hl + 8, (size_t)hl + 9,
                     (size_t)hl + 8 + 1000, len / 2, len - 4, len - 1, len};
    char *path = tpath("cut.safetensors");
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        write_bytes(path, data, cuts[i]);
        st_file *f = NULL;
        nt_status st = st_file_open(path, &f, &err);
        if (cuts[i] == len) {
            CHECK_MSG(st == NT_OK && st_file_count(f) == 33, "%s", err.msg);
        } else {
            CHECK_MSG(st != NT_OK && !f, "cut at %zu opened", cuts[i]);
            CHECK_CONTAINS(err.msg, "cut.safetensors: ");
        }
        if (cuts[i] > hl + 8 && cuts[i] < len) CHECK_CONTAINS(err.msg, "tensor '");
        st_file_close(f);
    }
    free(path);
    free(data);

    /* Every prefix of a small file written by hand. */
    static const char h[] = "{" T("a", "U8", "[3]", 0, 3) "," T("b", "I16", "[2]", 3, 7) "}";
    nt_buf b = {0};
    make_st(&b, h, strlen(h), 7);
    for (size_t n = 0; n <= b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.data, n);
        st_file *f = NULL;
        nt_status st = st_file_open_memory(copy, n, "small", &f, &err);
        CHECK_MSG((st == NT_OK) == (n == b.len), "prefix %zu: %s", n, err.msg);
        st_file_close(f);
        free(copy);
    }
    nt_buf_free(&b);
}

/* ---- sharded checkpoints ---- */

static void write_shard(const char *dir, const char *file, const char *const *names, size_t n) {
    st_writer *w = st_writer_new();
    nt_err err = {0};
    static const uint8_t data[4] = {1, 2, 3, 4};
    int64_t four = 4;
    for (size_t i = 0; i < n; i++) CHECK(st_writer_add(w, names[i], ST_U8, 1, &four, data, &err) == NT_OK);
    char *p = nt_path_join(dir, file);
    CHECK_MSG(st_writer_save(w, p, &err) == NT_OK, "%s", err.msg);
    free(p);
    st_writer_free(w);
}

typedef struct {
    const char *index;     /* the index JSON */
    const char *want[2];
} bad_index;

#define WM(body) "{\"metadata\":{\"total_size\":16},\"weight_map\":{" body "}}"
#define S1 "\"model-00001-of-00002.safetensors\""
#define S2 "\"model-00002-of-00002.safetensors\""

static const bad_index bad_indexes[] = {
    {WM("\"a\":" S1 ",\"b\":" S1 ",\"c\":" S2 ",\"d\":" S2 ",\"e\":\"model-00003-of-00003.safetensors\""),
     {"shard 'model-00003-of-00003.safetensors' does not exist", "tensor 'e'"}},
    {WM("\"a\":" S1 ",\"b\":" S1 ",\"c\":" S2 ",\"d\":" S2 ",\"zz\":" S2),
     {"tensor 'zz' is listed in shard 'model-00002-of-00002.safetensors' but not present", NULL}},
    {WM("\"a\":" S1 ",\"b\":" S2 ",\"c\":" S2 ",\"d\":" S2),
     {"tensor 'b' is listed in shard 'model-00002-of-00002.safetensors' but found in ", NULL}},
    {WM("\"a\":" S1 ",\"b\":" S1 ",\"c\":" S2),
     {"tensor 'd' in ", "model-00002-of-00002.safetensors is not listed in the weight_map"}},
    {WM("\"a\":\"../model-00001-of-00002.safetensors\""), {"weight_map['a']", "not a plain file name"}},
    {WM("\"a\":\"sub/x.safetensors\""), {"weight_map['a']", "not a plain file name"}},
    {WM("\"a\":3"), {"weight_map['a'] has type int", NULL}},
    {WM(""), {"\"weight_map\" is empty", NULL}},
    {"{\"weight_map\":[]}", {"\"weight_map\" has type list", NULL}},
    {"{\"metadata\":{}}", {"no \"weight_map\"", NULL}},
    {"{\"metadata\":{\"total_size\":-1},\"weight_map\":{\"a\":" S1 "}}",
     {"metadata.total_size is not a non-negative integer", NULL}},
    {"{\"metadata\":{\"total_size\":", {"line 1", NULL}},
};

TEST(bad_indexes_give_named_errors) {
    char *dir = tpath("badidx");
    nt_err err = {0};
    CHECK(nt_mkdirs(dir, &err) == NT_OK);
    static const char *const s1[] = {"a", "b"}, *const s2[] = {"c", "d"};
    write_shard(dir, "model-00001-of-00002.safetensors", s1, 2);
    write_shard(dir, "model-00002-of-00002.safetensors", s2, 2);
    char *idx = nt_path_join(dir, "model.safetensors.index.json");
    write_bytes(idx, WM("\"a\":" S1 ",\"b\":" S1 ",\"c\":" S2 ",\"d\":" S2),
                strlen(WM("\"a\":" S1 ",\"b\":" S1 ",\"c\":" S2 ",\"d\":" S2)));
    st_model *m = NULL;
    CHECK_MSG(st_model_open(dir, &m, &err) == NT_OK, "%s", err.msg);
    CHECK(m && st_model_count(m) == 4 && st_model_shard_count(m) == 2);
    CHECK(m && st_model_find(m, "d") && st_model_find(m, "d")->file == st_model_shard(m, 1));
    CHECK(m && strcmp(st_model_tensor_sorted(m, 0)->name, "a") == 0);
    st_model_close(m);
    for (size_t i = 0; i < sizeof bad_indexes / sizeof *bad_indexes; i++) {
        const bad_index *c = &bad_indexes[i];
        write_bytes(idx, c->index, strlen(c->index));
        m = NULL;
        CHECK(st_model_open(dir, &m, NULL) != NT_OK && !m);
        CHECK_MSG(st_model_open(dir, &m, &err) != NT_OK && !m, "index case %zu opened", i);
        if (getenv("ST_SHOW")) fprintf(stderr, "%s\n", err.msg);
        CHECK_MSG(strstr(err.msg, "model.safetensors.index.json"), "case %zu: %s", i, err.msg);
        for (int k = 0; k < 2; k++)
            if (c->want[k]) CHECK_MSG(strstr(err.msg, c->want[k]), "index case %zu: \"%s\" lacks \"%s\"",
                                      i, err.msg, c->want[k]);
    }
    free(idx);
    free(dir);
}

TEST(duplicate_tensor_across_shards) {
    char *dir = tpath("dupidx");
    nt_err err = {0};
    CHECK(nt_mkdirs(dir, &err) == NT_OK);
    static const char *const s1[] = {"a", "b"}, *const s2[] = {"b", "c"};
    write_shard(dir, "model-00001-of-00002.safetensors", s1, 2);
    write_shard(dir, "model-00002-of-00002.safetensors", s2, 2);
    char *idx = nt_path_join(dir, "model.safetensors.index.json");
    const char *text = WM("\"a\":" S1 ",\"b\":" S1 ",\"c\":" S2);
    write_bytes(idx, text, strlen(text));
    st_model *m = NULL;
    CHECK(st_model_open(idx, &m, &err) != NT_OK && !m);
    CHECK_CONTAINS(err.msg, "model.safetensors.index.json: ");
    CHECK_CONTAINS(err.msg, "tensor 'b' is in two shards");
    CHECK_CONTAINS(err.msg, "model-00001-of-00002.safetensors and ");
    free(idx);
    free(dir);
}

TEST(folder_resolution) {
    char *dir = tpath("folders");
    nt_err err = {0};
    CHECK(nt_mkdirs(dir, &err) == NT_OK);
    st_model *m = NULL;
    CHECK(st_model_open(dir, &m, &err) == NT_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no model.safetensors");
    static const char *const one[] = {"x"}, *const two[] = {"y", "z"};
    write_shard(dir, "weights.safetensors", one, 1);
    CHECK_MSG(st_model_open(dir, &m, &err) == NT_OK, "%s", err.msg);
    CHECK(m && st_model_find(m, "x") != NULL);
    st_model_close(m);
    write_shard(dir, "other.safetensors", two, 2);
    CHECK(st_model_open(dir, &m, &err) == NT_EINVAL && !m);
    CHECK_CONTAINS(err.msg, "2 .safetensors files and no index");
    write_shard(dir, "consolidated.safetensors", two, 2);
    CHECK(st_model_open(dir, &m, &err) == NT_OK && st_model_count(m) == 2);
    CHECK(m && st_model_find(m, "y") != NULL);
    st_model_close(m);
    write_shard(dir, "model.safetensors", one, 1);
    CHECK(st_model_open(dir, &m, &err) == NT_OK && st_model_count(m) == 1);
    st_model_close(m);
    char *missing = nt_path_join(dir, "nope.safetensors");
    CHECK(st_model_open(missing, &m, &err) == NT_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "nope.safetensors");
    free(missing);
    free(dir);
}

TEST_MAIN()
