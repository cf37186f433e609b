/* YAML parser: PyYAML safe_load scalar rules (expected values from PyYAML's resolver
 * regexes), errors with positions, limits, and a parity run of tests/data/yaml_corpus.txt
 * against /usr/bin/python3's yaml.safe_load, compared through JSON. */
#include "base/fileio.h"
#include "formats/json.h"
#include "formats/yaml.h"
#include "value/pyrepr.h"
#include "test.h"

static val *parse(const char *text) {
    val *v = NULL;
    nt_err err = {0};
    if (yml_parse(text, strlen(text), &v, &err)) return NULL;
    return v;
}

/* The value of key "v" in a one-key document "v: <scalar>". */
static val *scalar(const char *s) {
    char doc[256];
    snprintf(doc, sizeof doc, "v: %s\n", s);
    val *d = parse(doc);
    if (!d) return NULL;
    val *v = val_ref(val_dict_get(d, "v"));
    val_unref(d);
    return v;
}

static void check_kind(const char *s, val_kind k) {
    val *v = scalar(s);
    CHECK_MSG(v && v->kind == k, "'%s' gave %s, want %s", s, v ? val_kind_name(v->kind) : "error",
              val_kind_name(k));
    val_unref(v);
}

static void check_int(const char *s, int64_t want) {
    val *v = scalar(s);
    CHECK_MSG(v && v->kind == VAL_INT && v->u.i == want, "'%s' is not int %lld", s, (long long)want);
    val_unref(v);
}

static void check_float(const char *s, double want) {
    val *v = scalar(s);
    CHECK_MSG(v && v->kind == VAL_FLOAT && memcmp(&v->u.f, &want, sizeof want) == 0,
              "'%s' is not float %.17g", s, want);
    val_unref(v);
}

static void check_str(const char *s, const char *want) {
    val *v = scalar(s);
    CHECK_MSG(v && v->kind == VAL_STR && !strcmp(v->u.str.s, want), "'%s' is not string '%s'", s, want);
    val_unref(v);
}

static void check_error(const char *doc, nt_status code, const char *needle) {
    val *v = NULL;
    nt_err err = {0};
    nt_status st = yml_parse(doc, strlen(doc), &v, &err);
    CHECK_MSG(st == code, "status %s for %s", nt_status_name(st), doc);
    CHECK_CONTAINS(err.msg, needle);
    CHECK(v == NULL);
}

TEST(bools_and_nulls) {
    const char *yes[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
    const char *no[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
    for (size_t i = 0; i < 9; i++) {
        val *a = scalar(yes[i]), *b = scalar(no[i]);
        CHECK_MSG(a == val_bool(true), "%s", yes[i]);
        CHECK_MSG(b == val_bool(false), "%s", no[i]);
    }
    const char *nulls[] = {"~", "null", "Null", "NULL", ""};
    for (size_t i = 0; i < 5; i++) check_kind(nulls[i], VAL_NULL);
    check_str("y", "y");
    check_str("yEs", "yEs");
    check_str("nULL", "nULL");
    check_str("'yes'", "yes");
    check_str("\"null\"", "null");
}

TEST(ints) {
    check_int("0", 0);
    check_int("-17", -17);
    check_int("+5", 5);
    check_int("1_000", 1000);
    check_int("0x1F", 31);
    check_int("-0x10", -16);
    check_int("017", 15);
    check_int("0b1011", 11);
    check_int("1:30", 90);
    check_int("190:20:30", 190 * 3600 + 20 * 60 + 30);
    check_int("9223372036854775807", INT64_MAX);
    check_int("-9223372036854775808", INT64_MIN);
    check_int("!!int 0o17", 15);
    check_int("!!int '12'", 12);
    check_str("0o17", "0o17");   /* not in PyYAML's int regex */
    check_str("08", "08");
    check_str("1:60", "1:60");
    check_str("0xg", "0xg");
    check_float("9223372036854775808", 9223372036854775808.0); /* as Python's big int via JSON */
}

TEST(floats_need_a_dot) {
    check_float("1.0", 1.0);
    check_float("1.", 1.0);
    check_float(".5", 0.5);
    check_float("1.0e-4", 1.0e-4);
    check_float("1.0e+4", 1.0e4);
    check_float("1_0.5", 10.5);
    check_float("-1.5", -1.5);
    check_float(".inf", INFINITY);
    check_float("-.Inf", -INFINITY);
    check_float("1:30.5", 90.5);
    check_float("!!float 1e-4", 1e-4);
    check_float("!!float 3", 3.0);
    val *n = scalar(".nan");
    CHECK(n && n->kind == VAL_FLOAT && isnan(n->u.f));
    val_unref(n);
    check_str("1e-4", "1e-4");     /* no dot: a string, as axolotl's YAML loader sees it */
    check_str("2e-5", "2e-5");
    check_str("1.0e5", "1.0e5");   /* exponent without sign */
    check_str("-.5", "-.5");       /* the dot-first form takes no sign */
    check_str("inf", "inf");
}

TEST(quoted_and_block_scalars_are_strings) {
    check_str("'1.5'", "1.5");
    check_str("\"0x1F\"", "0x1F");
    check_str("!!str 12", "12");
    check_str("\"a\\tb\"", "a\tb");
    check_str("'it''s'", "it's");
    val *d = parse("a: |\n  one\n  two\nb: >\n  x\n  y\nc: |-\n  z\n");
    CHECK(d != NULL);
    if (!d) return;
    CHECK_EQ_STR(val_dict_get(d, "a")->u.str.s, "one\ntwo\n");
    CHECK_EQ_STR(val_dict_get(d, "b")->u.str.s, "x y\n");
    CHECK_EQ_STR(val_dict_get(d, "c")->u.str.s, "z");
    val_unref(d);
}

TEST(anchors_aliases_merges) {
    val *d = parse("a: &a {x: 1, p: a}\nb: &b {x: 2, y: 3, p: b}\n"
                   "c:\n  <<: [*a, *b]\n  z: 4\nd: *a\ne:\n  p: own\n  <<: *b\n");
    CHECK(d != NULL);
    if (!d) return;
    val *c = val_dict_get(d, "c"), *e = val_dict_get(d, "e");
    CHECK_EQ_INT(val_dict_get(c, "x")->u.i, 1);   /* earlier mapping of the list wins */
    CHECK_EQ_INT(val_dict_get(c, "y")->u.i, 3);
    CHECK_EQ_STR(val_dict_get(c, "p")->u.str.s, "a");
    CHECK_EQ_INT(val_dict_get(c, "z")->u.i, 4);
    CHECK_EQ_STR(val_dict_entry(c, 0)->key->u.str.s, "x"); /* PyYAML order: merged first */
    CHECK_EQ_STR(val_dict_get(e, "p")->u.str.s, "own");    /* own key wins, wherever it is */
    CHECK(val_dict_get(d, "d") == val_dict_get(d, "a"));   /* aliases share, like Python */
    val_unref(d);
}

TEST(keys_become_json_strings) {
    val *d = parse("1: a\n0x10: b\nyes: c\n~: d\n1.5: e\n");
    CHECK(d != NULL);
    if (!d) return;
    const char *keys[] = {"1", "16", "true", "null", "1.5"};
    for (int i = 0; i < 5; i++) CHECK_EQ_STR(val_dict_entry(d, (size_t)i)->key->u.str.s, keys[i]);
    val_unref(d);
}

TEST(errors_name_line_and_column) {
    check_error("a: 1\nb: [1, 2\n", NT_EPARSE, "<string>:");
    check_error("a:\n  b: 1\n c: 2\n", NT_EPARSE, ":3:2:");
    check_error("a: *nope\n", NT_EPARSE, ":1:4: found undefined alias 'nope'");
    check_error("a: &r [1, *r]\n", NT_EPARSE, "recursive alias");
    check_error("a: &x 1\nb: &x 2\n", NT_EPARSE, "duplicate anchor");
    check_error("? [1]\n: x\n", NT_EPARSE, "unhashable key");
    check_error("a: !!int 1.5\n", NT_EPARSE, ":1:4: invalid integer");
    check_error("a: !foo x\n", NT_EPARSE, "'!foo'");
    check_error("a: 1\n---\nb: 2\n", NT_EPARSE, "single document");
    check_error("c:\n  <<: 1\n", NT_EPARSE, "for merging");
    check_error("v: =\n", NT_EPARSE, "constructor");
}

TEST(file_errors_name_the_path) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.yml", test_tmpdir());
    const char *doc = "ok: 1\nbad: [\n";
    nt_err err = {0};
    CHECK(nt_write_file_atomic(path, doc, strlen(doc), &err) == NT_OK);
    val *v = NULL;
    CHECK(yml_parse_file(path, &v, &err) == NT_EPARSE);
    CHECK_CONTAINS(err.msg, "bad.yml:3:1:");
    CHECK(yml_parse_file("/nonexistent/x.yml", &v, &err) != NT_OK);
    CHECK_CONTAINS(err.msg, "/nonexistent/x.yml");
    CHECK(v == NULL);
}

TEST(alias_bomb_and_depth_are_limited) {
    nt_buf b = {0};
    nt_buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++)
        nt_buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
                      i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    val *v = NULL;
    nt_err err = {0};
    CHECK(yml_parse(b.data, b.len, &v, &err) == NT_ELIMIT); /* 10^9 nodes expanded */
    CHECK_CONTAINS(err.msg, "too large");
    nt_buf_free(&b);
    for (int i = 0; i < 300; i++) nt_buf_putc(&b, '[');
    CHECK(yml_parse(b.data, b.len, &v, &err) == NT_ELIMIT);
    CHECK_CONTAINS(err.msg, "nesting");
    nt_buf_free(&b);
}

TEST(locations_of_keys) {
    const char *doc = "a: 1\nlist:\n  - x: 1\n    y: 2\n  - z\n";
    val *v = NULL, *locs = NULL;
    nt_err err = {0};
    CHECK(yml_parse_ex(doc, strlen(doc), "c.yml", &v, &locs, &err) == NT_OK);
    if (!locs) return;
    CHECK_EQ_INT(val_dict_get(locs, "a")->u.i, 1);
    CHECK_EQ_INT(val_dict_get(locs, "list[0].y")->u.i, 4);
    CHECK_EQ_INT(val_dict_get(locs, "list[1]")->u.i, 5);
    val_unref(v);
    val_unref(locs);
}

TEST(float_repr_matches_python) {
    const double f[] = {1.0, 0.1, 1e-05, 0.0001, 1e16, 1234567890123456.0, 2e-5, -0.0, 1.5e300, 0.5};
    const char *want[] = {"1.0", "0.1", "1e-05", "0.0001", "1e+16", "1234567890123456.0", "2e-05",
                          "-0.0", "1.5e+300", "0.5"};
    char buf[32];
    for (int i = 0; i < 10; i++) {
        val_float_repr(buf, f[i]);
        CHECK_EQ_STR(buf, want[i]);
    }
}

/* Equality strict enough for parity: same kinds, same key order, floats bit-equal. */
static bool same(const val *a, const val *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case VAL_FLOAT:
        return (isnan(a->u.f) && isnan(b->u.f)) || memcmp(&a->u.f, &b->u.f, sizeof(double)) == 0;
    case VAL_LIST:
        if (val_list_len(a) != val_list_len(b)) return false;
        for (size_t i = 0; i < val_list_len(a); i++)
            if (!same(val_list_get(a, i), val_list_get(b, i))) return false;
        return true;
    case VAL_DICT:
        if (val_dict_len(a) != val_dict_len(b)) return false;
        for (size_t i = 0; i < val_dict_len(a); i++)
            if (!val_equal(val_dict_entry(a, i)->key, val_dict_entry(b, i)->key) ||
                !same(val_dict_entry(a, i)->value, val_dict_entry(b, i)->value))
                return false;
        return true;
    default: return val_equal(a, b);
    }
}

static const char *after_line(const char *s, const char *end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    return nl ? nl + 1 : end;
}

/* Next document of the corpus ("=== name" line, then the text up to the next such line). */
static bool next_doc(const char **p, const char *end, char *name, size_t name_cap, const char **doc,
                     size_t *n) {
    const char *s = *p;
    while (s < end && strncmp(s, "=== ", 4)) s = after_line(s, end);
    if (s >= end) return false;
    const char *d = after_line(s, end), *q = d;
    snprintf(name, name_cap, "%.*s", (int)(d - s - 5), s + 4);
    while (q < end && strncmp(q, "=== ", 4)) q = after_line(q, end);
    *doc = d;
    *n = (size_t)(q - d);
    *p = q;
    return true;
}

static void compare_one(const char *name, const char *doc, size_t n, const char *oracle, int *checked) {
    val *mine = NULL, *theirs = NULL;
    nt_err err = {0};
    nt_status st = yml_parse(doc, n, &mine, &err);
    if (!strncmp(oracle, "ERR", 3)) {
        CHECK_MSG(st != NT_OK, "[%s] PyYAML fails (%.80s) but newt parsed it", name, oracle);
    } else {
        CHECK_MSG(st == NT_OK, "[%s] newt failed: %s", name, err.msg);
        CHECK_MSG(json_parse(oracle + 3, strlen(oracle + 3), &theirs, &err) == NT_OK, "[%s] %s", name, err.msg);
        if (mine && theirs)
            CHECK_MSG(same(mine, theirs) && (val_equal(mine, theirs) || strstr(oracle, "NaN")),
                      "[%s] differs from PyYAML: %s", name, oracle); /* NaN != NaN for val_equal */
    }
    (*checked)++;
    val_unref(mine);
    val_unref(theirs);
}

TEST(parity_with_pyyaml_safe_load) {
    const char *corpus = "tests/data/yaml_corpus.txt";
    if (access("/usr/bin/python3", X_OK) != 0) SKIP("/usr/bin/python3 not found");
    if (system("/usr/bin/python3 -c 'import yaml' 2>/dev/null") != 0) SKIP("python3-yaml missing");
    FILE *py = popen("/usr/bin/python3 tests/data/yaml_oracle.py tests/data/yaml_corpus.txt", "r");
    char *text = NULL;
    size_t len = 0;
    nt_err err = {0};
    CHECK(py != NULL && nt_read_file(corpus, &text, &len, &err) == NT_OK);
    if (!py || !text) { if (py) pclose(py); free(text); return; }
    const char *p = text, *doc;
    char name[256], *line = NULL;
    size_t n, cap = 0;
    int checked = 0;
    while (next_doc(&p, text + len, name, sizeof name, &doc, &n)) {
        ssize_t got = getline(&line, &cap, py);
        CHECK_MSG(got > 0, "oracle ended early at [%s]", name);
        if (got <= 0) break;
        if (line[got - 1] == '\n') line[got - 1] = '\0';
        compare_one(name, doc, n, line, &checked);
    }
    free(line);
    free(text);
    CHECK(pclose(py) == 0);
    CHECK_MSG(checked >= 200, "only %d documents", checked);
}

TEST_MAIN()
