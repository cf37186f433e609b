/* JSON parser and serializer, Python repr/str of values.
 * Expected strings are written by hand from Python 3's documented behaviour; the parity
 * tests compare against /usr/bin/python3 itself on a random corpus. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "formats/json.h"
#include "test.h"
#include "value/pyrepr.h"

static val *parse_ok(const char *text) {
    val *v = NULL;
    nt_err err = {0};
    nt_status st = json_parse(text, strlen(text), &v, &err);
    CHECK_MSG(st == NT_OK, "%s: %s", text, err.msg);
    return v;
}

/* Parses text (n bytes) that must fail; returns the message in a static buffer. */
static const char *parse_err(const char *text, size_t n, nt_status want) {
    static nt_err err;
    val *v = NULL;
    memset(&err, 0, sizeof err);
    nt_status st = json_parse(text, n, &v, &err);
    CHECK_MSG(st == want, "'%s' gave status %d, want %d", text, (int)st, (int)want);
    CHECK(v == NULL);
    val_unref(v);
    return err.msg;
}
#define PARSE_ERR(lit) parse_err(lit, sizeof(lit) - 1, NT_EPARSE)

static bool str_is(const val *v, const char *bytes, size_t n) {
    return val_is(v, VAL_STR) && v->u.str.n == n && memcmp(v->u.str.s, bytes, n) == 0;
}

/* ---------------------------------------------------------------- parser */

TEST(parse_nested_document) {
    val *v = parse_ok(" {\"a\": [1, 2.5, -3e-7, true, false, null],\n \"b\": {\"c\": \"d\\u00e9\"}} ");
    if (!v) return;
    val *a = val_dict_get(v, "a");
    CHECK(val_is(a, VAL_LIST) && val_list_len(a) == 6);
    CHECK(val_is(val_list_get(a, 0), VAL_INT) && val_list_get(a, 0)->u.i == 1);
    CHECK(val_is(val_list_get(a, 1), VAL_FLOAT) && val_list_get(a, 1)->u.f == 2.5);
    CHECK(val_list_get(a, 2)->u.f == -3e-7);
    CHECK(val_list_get(a, 3) == val_bool(true) && val_list_get(a, 4) == val_bool(false));
    CHECK(val_list_get(a, 5) == val_null());
    CHECK(str_is(val_dict_get(val_dict_get(v, "b"), "c"), "d\xc3\xa9", 3));
    val_unref(v);
}

TEST(parse_numbers_int64_and_float) {
    static const struct { const char *text; bool is_int; int64_t i; double f; } cases[] = {
        {"0", true, 0, 0}, {"-0", true, 0, 0}, {"42", true, 42, 0},
        {"9223372036854775807", true, INT64_MAX, 0},
        {"-9223372036854775808", true, INT64_MIN, 0},
        {"9223372036854775808", false, 0, 9223372036854775808.0},     /* beyond int64 */
        {"12345678901234567890", false, 0, 12345678901234567890.0},
        {"1E+2", false, 0, 100.0}, {"1.5", false, 0, 1.5}, {"1e400", false, 0, INFINITY},
        {"-2.5e-3", false, 0, -0.0025},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        val *v = parse_ok(cases[k].text);
        if (!v) continue;
        if (cases[k].is_int) CHECK_MSG(val_is(v, VAL_INT) && v->u.i == cases[k].i, "%s", cases[k].text);
        else CHECK_MSG(val_is(v, VAL_FLOAT) && v->u.f == cases[k].f, "%s", cases[k].text);
        val_unref(v);
    }
    val *z = parse_ok("-0.0");
    CHECK(val_is(z, VAL_FLOAT) && z->u.f == 0 && signbit(z->u.f));
    val_unref(z);
}

TEST(parse_nan_and_infinity_like_python) {
    val *v = parse_ok("[NaN, Infinity, -Infinity]");
    if (!v) return;
    CHECK(isnan(val_list_get(v, 0)->u.f));
    CHECK(val_list_get(v, 1)->u.f == INFINITY && val_list_get(v, 2)->u.f == -INFINITY);
    val_unref(v);
    CHECK_CONTAINS(PARSE_ERR("nan"), "unexpected character");
    CHECK_CONTAINS(PARSE_ERR("-NaN"), "invalid number");
}

TEST(parse_errors_name_line_and_column) {
    /* Columns count characters (é is one), lines start at 1. */
    CHECK_EQ_STR(PARSE_ERR("{\"a\": 1,\n  \"b\" 2}"), "JSON line 2 column 7: expected ':' after object key");
    CHECK_EQ_STR(PARSE_ERR("[1, 2"), "JSON line 1 column 6: expected ',' or ']' in array");
    CHECK_EQ_STR(PARSE_ERR("[1,]"), "JSON line 1 column 4: unexpected character");
    CHECK_EQ_STR(PARSE_ERR("\"caf\xc3\xa9 \x01\""), "JSON line 1 column 7: control character in string");
    CHECK_EQ_STR(PARSE_ERR("1 2"), "JSON line 1 column 3: extra data after the JSON value");
    CHECK_EQ_STR(PARSE_ERR("01"), "JSON line 1 column 2: extra data after the JSON value");
    CHECK_EQ_STR(PARSE_ERR(""), "JSON line 1 column 1: unexpected end of input");
    CHECK_EQ_STR(PARSE_ERR("  \n\n"), "JSON line 3 column 1: unexpected end of input");
    CHECK_EQ_STR(PARSE_ERR("{\"k\": tru}"), "JSON line 1 column 7: unexpected character");
    CHECK_EQ_STR(PARSE_ERR("[\"a\\x\"]"), "JSON line 1 column 4: invalid escape");
    CHECK_EQ_STR(PARSE_ERR("\"\\u12g4\""), "JSON line 1 column 2: invalid \\u escape");
    CHECK_EQ_STR(PARSE_ERR("\"abc"), "JSON line 1 column 1: unterminated string");
    CHECK_EQ_STR(PARSE_ERR("{1: 2}"), "JSON line 1 column 2: expected a string key in object");
    CHECK_EQ_STR(PARSE_ERR("{\"a\": 1 \"b\": 2}"), "JSON line 1 column 9: expected ',' or '}' in object");
    CHECK_EQ_STR(PARSE_ERR("1."), "JSON line 1 column 1: invalid number");
    CHECK_EQ_STR(PARSE_ERR("1e+"), "JSON line 1 column 1: invalid number");
}

TEST(parse_rejects_invalid_utf8) {
    CHECK_EQ_STR(PARSE_ERR("\"ab\xff\""), "JSON line 1 column 4: invalid UTF-8 in string");
    CHECK_CONTAINS(PARSE_ERR("\"\xc0\xaf\""), "invalid UTF-8");          /* overlong '/' */
    CHECK_CONTAINS(PARSE_ERR("\"\xed\xa0\x80\""), "invalid UTF-8");      /* encoded surrogate */
    CHECK_CONTAINS(PARSE_ERR("\"\xf4\x90\x80\x80\""), "invalid UTF-8");  /* > U+10FFFF */
    CHECK_CONTAINS(PARSE_ERR("\"\xe2\x82\""), "invalid UTF-8");          /* truncated */
}

TEST(parse_surrogate_pairs_and_lone_surrogates) {
    static const struct { const char *text; const char *bytes; size_t n; } cases[] = {
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},        /* U+1F600 */
        {"\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4},        /* upper-case hex */
        {"\"\\ud800\"", "\xed\xa0\x80", 3},                   /* lone high kept, 3 bytes */
        {"\"\\udc00x\"", "\xed\xb0\x80x", 4},                 /* lone low */
        {"\"\\ud800\\u0041\"", "\xed\xa0\x80" "A", 4},        /* high + non-low */
        {"\"\\ud800\\ud83d\\ude00\"", "\xed\xa0\x80\xf0\x9f\x98\x80", 7},
        {"\"a\\u0000b\"", "a\0b", 3},                         /* NUL inside */
        {"\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"", "/\b\f\n\r\t\"\\", 8},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        val *v = parse_ok(cases[k].text);
        CHECK_MSG(str_is(v, cases[k].bytes, cases[k].n), "%s", cases[k].text);
        val_unref(v);
    }
}

static char *nested(int depth) {
    char *s = nt_xmalloc(2 * (size_t)depth + 1);
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[2 * depth] = '\0';
    return s;
}

TEST(parse_depth_limit) {
    char *ok = nested(JSON_MAX_DEPTH), *deep = nested(JSON_MAX_DEPTH + 1), *huge = nested(200000);
    val *v = parse_ok(ok);
    CHECK(val_is(v, VAL_LIST));
    val_unref(v);
    CHECK_CONTAINS(parse_err(deep, strlen(deep), NT_ELIMIT), "512");
    CHECK_CONTAINS(parse_err(huge, strlen(huge), NT_ELIMIT), "nesting deeper");
    free(ok); free(deep); free(huge);
}

TEST(parse_duplicate_key_last_value_first_position) {
    val *v = parse_ok("{\"a\": 1, \"b\": 2, \"a\": 3}");
    if (!v) return;
    CHECK_EQ_INT(val_dict_len(v), 2);
    CHECK_EQ_STR(val_dict_entry(v, 0)->key->u.str.s, "a");
    CHECK_EQ_INT(val_dict_entry(v, 0)->value->u.i, 3);
    CHECK_EQ_STR(val_dict_entry(v, 1)->key->u.str.s, "b");
    char *s = json_dumps(v, &JSON_OPTS_PY, NULL);
    CHECK_EQ_STR(s, "{\"a\": 3, \"b\": 2}"); /* Python: json.dumps({'a': 3, 'b': 2}) */
    free(s);
    val_unref(v);
}

TEST(parse_file_errors_name_the_path) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.json", test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) { CHECK(f != NULL); return; }
    fputs("{\"a\":\n  [1 2]}", f);
    fclose(f);
    val *v = NULL;
    nt_err err = {0};
    CHECK(json_parse_file(path, &v, &err) == NT_EPARSE);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, "line 2 column 6");
    snprintf(path, sizeof path, "%s/missing.json", test_tmpdir());
    CHECK(json_parse_file(path, &v, &err) != NT_OK);
    CHECK_CONTAINS(err.msg, "missing.json");
    CHECK(v == NULL);
}

/* ---------------------------------------------------------------- float repr */

static double from_bits(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

TEST(float_repr_like_python) {
    static const struct { double f; const char *want; } cases[] = {
        {1.0, "1.0"}, {0.1, "0.1"}, {0.3, "0.3"}, {-2.5, "-2.5"}, {100.0, "100.0"},
        {2.0 / 3.0, "0.6666666666666666"}, {12345.678, "12345.678"},
        {1e-4, "0.0001"}, {0.00012, "0.00012"}, {1e-5, "1e-05"}, {1.5e-7, "1.5e-07"},
        {1e15, "1000000000000000.0"}, {9999999999999998.0, "9999999999999998.0"},
        {1e16, "1e+16"}, {123456789012345678.0, "1.2345678901234568e+17"},
        {1e22, "1e+22"}, {1e23, "1e+23"}, {1.5e300, "1.5e+300"},
        {9007199254740993.0, "9007199254740992.0"}, {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {0.0, "0.0"}, {-0.0, "-0.0"}, {INFINITY, "inf"}, {-INFINITY, "-inf"}, {NAN, "nan"},
    };
    char buf[32];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        val_float_repr(buf, cases[k].f);
        CHECK_EQ_STR(buf, cases[k].want);
    }
    /* Powers of two where the nearest 16-digit decimal falls outside the narrow half of the
     * rounding interval, so the shortest string lies above (Python: repr(2.0**-1019)). */
    val_float_repr(buf, from_bits(0x0060000000000000ull));
    CHECK_EQ_STR(buf, "7.120236347223045e-307");
    val_float_repr(buf, from_bits(0x0100000000000000ull));
    CHECK_EQ_STR(buf, "7.291122019556398e-304");
    json_float_repr(buf, -from_bits(0x0420000000000000ull));
    CHECK_EQ_STR(buf, "-8.209073602596753e-289");
}

/* ---------------------------------------------------------------- json_dump */

static void check_dump(const char *json_in, json_opts o, const char *want) {
    val *v = parse_ok(json_in);
    if (!v) return;
    size_t n;
    char *s = json_dumps(v, &o, &n);
    CHECK_MSG(strlen(want) == n && memcmp(s, want, n) == 0, "%s gave\n%s\nwant\n%s", json_in, s, want);
    free(s);
    val_unref(v);
}

TEST(dump_separators_and_indent) {
    const char *doc = "{\"a\": [1, {}], \"b\": [], \"c\": {\"d\": null}}";
    check_dump(doc, JSON_OPTS_PY, "{\"a\": [1, {}], \"b\": [], \"c\": {\"d\": null}}");
    check_dump(doc, (json_opts){.indent = 2},
               "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": [],\n  \"c\": {\n    \"d\": null\n  }\n}");
    check_dump(doc, (json_opts){.indent = 0}, "{\n\"a\": [\n1,\n{}\n],\n\"b\": [],\n\"c\": {\n\"d\": null\n}\n}");
    check_dump(doc, (json_opts){.indent = -1, .item_sep = ",", .key_sep = ":"},
               "{\"a\":[1,{}],\"b\":[],\"c\":{\"d\":null}}");
    check_dump("[]", (json_opts){.indent = 4}, "[]");
    check_dump("{}", (json_opts){.indent = 4}, "{}");
    check_dump("[true, false, -7, 1e16, 0.5]", JSON_OPTS_PY, "[true, false, -7, 1e+16, 0.5]");
    check_dump("[NaN, Infinity, -Infinity, -0.0]", JSON_OPTS_PY, "[NaN, Infinity, -Infinity, -0.0]");
    check_dump("{\"k\": [1]}", (json_opts){.indent = 1, .item_sep = ", ", .key_sep = " = "},
               "{\n \"k\" = [\n  1\n ]\n}");
    val *v = parse_ok("{\"a\": \"\u00e9\"}");
    char *s = json_dumps(v, NULL, NULL); /* NULL options: json.dumps(v, ensure_ascii=False) */
    CHECK_EQ_STR(s, "{\"a\": \"\xc3\xa9\"}");
    free(s);
    val_unref(v);
}

TEST(dump_string_escapes_both_modes) {
    /* é, U+1F600, DEL, U+0001, quote, backslash, the named escapes, U+2028 */
    const char *in = "\"\xc3\xa9\xf0\x9f\x98\x80\x7f\\u0001\\\"\\\\\\b\\f\\n\\r\\t/\xe2\x80\xa8\"";
    check_dump(in, (json_opts){.indent = -1, .ensure_ascii = true},
               "\"\\u00e9\\ud83d\\ude00\\u007f\\u0001\\\"\\\\\\b\\f\\n\\r\\t/\\u2028\"");
    check_dump(in, JSON_OPTS_PY,
               "\"\xc3\xa9\xf0\x9f\x98\x80\x7f\\u0001\\\"\\\\\\b\\f\\n\\r\\t/\xe2\x80\xa8\"");
    /* Lone surrogates are escaped in both modes (raw they would be invalid UTF-8). */
    check_dump("\"\\ud800x\\udfff\"", JSON_OPTS_PY, "\"\\ud800x\\udfff\"");
    check_dump("\"\\ud800x\\udfff\"", (json_opts){.indent = -1, .ensure_ascii = true}, "\"\\ud800x\\udfff\"");
}

TEST(dump_invalid_utf8_becomes_replacement_char) {
    val *v = val_strn("a\xff" "b\xc3", 4);
    char *s = json_dumps(v, &(json_opts){.indent = -1, .ensure_ascii = true}, NULL);
    CHECK_EQ_STR(s, "\"a\\ufffdb\\ufffd\"");
    free(s);
    s = json_dumps(v, &JSON_OPTS_PY, NULL);
    CHECK_EQ_STR(s, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
    free(s);
    val_unref(v);
}

TEST(dump_sort_keys_by_code_point) {
    /* Python sorts str keys by code point; a prefix comes first ("a" < "ab" < "b"). */
    check_dump("{\"b\": 1, \"ab\": 2, \"a\": 3, \"B\": 4, \"\\u00e9\": 5, \"\\ud83d\\ude00\": 6, \"\\uffff\": 7}",
               (json_opts){.indent = -1, .ensure_ascii = true, .sort_keys = true},
               "{\"B\": 4, \"a\": 3, \"ab\": 2, \"b\": 1, \"\\u00e9\": 5, \"\\uffff\": 7, \"\\ud83d\\ude00\": 6}");
}

TEST(dump_cycle_is_null_and_repr_shows_ellipsis) {
    val *l = val_list();
    val_list_push(l, val_int(1));
    val_list_push(l, val_ref(l));
    val *d = val_dict();
    val_dict_set(d, "self", val_ref(d));
    char *s = json_dumps(l, &JSON_OPTS_PY, NULL);
    CHECK_EQ_STR(s, "[1, null]");
    free(s);
    nt_buf b = {0};
    val_py_repr(&b, l);
    nt_buf_puts(&b, " ");
    val_py_repr(&b, d);
    CHECK_EQ_STR(b.data, "[1, [...]] {'self': {...}}"); /* Python: l = [1]; l.append(l) */
    nt_buf_free(&b);
    val_list_set(l, 1, val_null()); /* break the cycles before freeing */
    val_dict_set(d, "self", val_null());
    val_unref(l);
    val_unref(d);
}

/* ---------------------------------------------------------------- repr / str */

static void check_repr(const char *json_in, const char *want_repr, const char *want_str) {
    val *v = parse_ok(json_in);
    if (!v) return;
    nt_buf b = {0};
    val_py_repr(&b, v);
    CHECK_MSG(b.len == strlen(want_repr) && memcmp(b.data, want_repr, b.len) == 0,
              "repr of %s: got %s want %s", json_in, b.data, want_repr);
    b.len = 0;
    val_py_str(&b, v);
    CHECK_MSG(b.len == strlen(want_str) && memcmp(b.data, want_str, b.len) == 0,
              "str of %s: got %s want %s", json_in, b.data, want_str);
    nt_buf_free(&b);
    val_unref(v);
}

TEST(repr_and_str_like_python) {
    check_repr("null", "None", "None");
    check_repr("[true, false, -3, 2.0, 1e-05]", "[True, False, -3, 2.0, 1e-05]", "[True, False, -3, 2.0, 1e-05]");
    check_repr("{\"k\": 1, \"l\": [null, \"a\"], \"e\": {}}", "{'k': 1, 'l': [None, 'a'], 'e': {}}",
               "{'k': 1, 'l': [None, 'a'], 'e': {}}");
    check_repr("\"plain\"", "'plain'", "plain");
    check_repr("\"it's\"", "\"it's\"", "it's");
    check_repr("\"say \\\"hi\\\"\"", "'say \"hi\"'", "say \"hi\"");
    check_repr("\"it's \\\"x\\\"\"", "'it\\'s \"x\"'", "it's \"x\"");
    check_repr("\"a\\\\b\"", "'a\\\\b'", "a\\b");
    check_repr("\"\\n\\t\\r\\u0001\\u007f\\b\"", "'\\n\\t\\r\\x01\\x7f\\x08'", "\n\t\r\x01\x7f\b");
    /* Non-ASCII: printable kept; others \xNN up to U+00FF, then \uNNNN, \UNNNNNNNN. */
    check_repr("\"\\u00e9\\u00a0\\u00ad\\u0085\"", "'\xc3\xa9\\xa0\\xad\\x85'", "\xc3\xa9\xc2\xa0\xc2\xad\xc2\x85");
    check_repr("\"\\u2028\\u200b\\ufeff\\ue000\\u0378\\u4e2d\"", "'\\u2028\\u200b\\ufeff\\ue000\\u0378\xe4\xb8\xad'",
               "\xe2\x80\xa8\xe2\x80\x8b\xef\xbb\xbf\xee\x80\x80\xcd\xb8\xe4\xb8\xad");
    check_repr("\"\\ud83d\\ude00\\udb40\\udc01\\ud800\"", "'\xf0\x9f\x98\x80\\U000e0001\\ud800'",
               "\xf0\x9f\x98\x80\xf3\xa0\x80\x81\xed\xa0\x80");
    check_repr("{\"\\u00e9'\": \"x\"}", "{\"\xc3\xa9'\": 'x'}", "{\"\xc3\xa9'\": 'x'}");
}

TEST(printable_table_spot_checks) {
    /* Values of str.isprintable() in Python 3.11. */
    CHECK(val_cp_printable(' ') && val_cp_printable('~') && !val_cp_printable(0x7F));
    CHECK(!val_cp_printable(0xA0) && val_cp_printable(0xA1) && !val_cp_printable(0xAD));
    CHECK(!val_cp_printable(0x2028) && !val_cp_printable(0x3000) && val_cp_printable(0x3001));
    CHECK(!val_cp_printable(0xD800) && !val_cp_printable(0xFFFF) && val_cp_printable(0xFFFD));
    CHECK(val_cp_printable(0x1F600) && !val_cp_printable(0x10FFFF) && !val_cp_printable(0xE0001));
}

/* ---------------------------------------------------------------- parity with Python */

#define PY "/usr/bin/python3"
#define PARITY_COUNT 2000

/* The corpus generator; it is written to a file and run by /usr/bin/python3. */
static const char parity_script[] =
    "# json_parity.py SEED COUNT UNICODE_VERSION: writes a seeded random corpus of values and,\n"
    "# per value, Python's own outputs, each field as \"<byte length>\\n<bytes>\\n\". Field 0 is the\n"
    "# value itself (json.dumps, ensure_ascii=True), then the MODES below, then repr() and str().\n"
    "# Character pools cover every Unicode code point when this Python's Unicode version is the\n"
    "# one newt's table came from, else only characters assigned since Unicode 3.2 (stable).\n"
    "import json, math, random, struct, sys, unicodedata\n"
    "\n"
    "seed, count = int(sys.argv[1]), int(sys.argv[2])\n"
    "full = sys.argv[3] == unicodedata.unidata_version\n"
    "R = random.Random(seed)\n"
    "MODES = [\n"
    "    dict(ensure_ascii=False),\n"
    "    dict(ensure_ascii=True),\n"
    "    dict(ensure_ascii=False, indent=2),\n"
    "    dict(ensure_ascii=False, sort_keys=True),\n"
    "    dict(ensure_ascii=False, separators=(\",\", \":\")),\n"
    "    dict(indent=2, sort_keys=True),\n"
    "    dict(indent=0, separators=(\";\", \"=\")),\n"
    "]\n"
    "POOLS = [(0x20, 0x7E), (0x20, 0x7E), (0x00, 0x1F), (0x7F, 0xFF), (0x100, 0x24F), (0x370, 0x4FF),\n"
    "         (0x590, 0x6FF), (0x900, 0x97F), (0x2000, 0x206F), (0x3000, 0x30FF), (0x4E00, 0x9FFF),\n"
    "         (0xAC00, 0xD7FF), (0xD800, 0xDFFF), (0xE000, 0xF8FF), (0xFE00, 0xFFFF),\n"
    "         (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF), (0xE0000, 0xE01EF), (0x0, 0x10FFFF)]\n"
    "SPECIAL = \"'\\\"\\\\/\\b\\f\\n\\r\\t\\x00\\x7f\\u2028\\u2029\\u200b\\ufeff\\xa0\\xad\"\n"
    "\n"
    "def rchar():\n"
    "    for _ in range(50):\n"
    "        if R.randrange(6) == 0:\n"
    "            return R.choice(SPECIAL)\n"
    "        lo, hi = R.choice(POOLS)\n"
    "        c = chr(R.randint(lo, hi))\n"
    "        if full or unicodedata.ucd_3_2_0.category(c) != \"Cn\":\n"
    "            return c\n"
    "    return \"a\"\n"
    "\n"
    "def rstr():\n"
    "    return \"\".join(rchar() for _ in range(R.choice([0, 1, 2, 5, 12, 30])))\n"
    "\n"
    "def rfloat():\n"
    "    k = R.randrange(9)\n"
    "    if k == 0:\n"
    "        bits = R.getrandbits(64)  # any pattern: mostly huge/tiny exponents, some NaN\n"
    "    elif k == 1:\n"
    "        bits = R.getrandbits(52) | R.getrandbits(1) << 63  # subnormal\n"
    "    elif k == 2:\n"
    "        bits = R.getrandbits(1) << 63 | R.randrange(1, 2047) << 52  # power of two\n"
    "    elif k == 3:\n"
    "        return float(R.randrange(-2**53, 2**53) >> R.randrange(54))  # integral\n"
    "    elif k == 4:\n"
    "        return R.choice([0.0, -0.0, math.inf, -math.inf, math.nan, 1e16, 1e15, 1e-4, 1e-5, 0.1,\n"
    "                         9999999999999998.0, 1e22, 1e23, 5e-324, 1.7976931348623157e308])\n"
    "    elif k == 5:\n"
    "        return R.uniform(-1, 1) * 10.0 ** R.randrange(-8, 20)  # around the notation switch\n"
    "    elif k == 6:\n"
    "        return round(R.uniform(-1000, 1000), R.randrange(0, 7))\n"
    "    elif k == 7:\n"
    "        return float(R.randrange(1, 10)) * 10.0 ** R.randrange(-7, 18)\n"
    "    else:\n"
    "        return R.random()\n"
    "    return struct.unpack(\"<d\", struct.pack(\"<Q\", bits))[0]\n"
    "\n"
    "def rint():\n"
    "    k = R.randrange(3)\n"
    "    if k == 0:\n"
    "        return R.choice([0, 1, -1, 2**63 - 1, -2**63, 2**63 - 2, -2**63 + 1, 2**31, -2**31, 2**53 + 1])\n"
    "    if k == 1:\n"
    "        return R.randrange(-2**63, 2**63)\n"
    "    return R.randrange(-10**R.randrange(1, 19), 10**R.randrange(1, 19))\n"
    "\n"
    "def rval(depth):\n"
    "    k = R.randrange(10 if depth < 4 else 7)\n"
    "    if k == 0:\n"
    "        return R.choice([None, True, False])\n"
    "    if k in (1, 2):\n"
    "        return rint()\n"
    "    if k in (3, 4):\n"
    "        return rfloat()\n"
    "    if k in (5, 6):\n"
    "        return rstr()\n"
    "    if k in (7, 8):\n"
    "        return [rval(depth + 1) for _ in range(R.randrange(6))]\n"
    "    return {rstr(): rval(depth + 1) for _ in range(R.randrange(6))}\n"
    "\n"
    "def surrogates_escaped(s):\n"
    "    # A lone surrogate cannot be written as UTF-8; newt escapes it also when ensure_ascii\n"
    "    # is off (the escape reads back as the same string).\n"
    "    return \"\".join(\"\\\\u%04x\" % ord(c) if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)\n"
    "\n"
    "out = sys.stdout.buffer\n"
    "out.write(b\"unicode %s %s\\n\" % (unicodedata.unidata_version.encode(), b\"full\" if full else b\"stable\"))\n"
    "def field(s):\n"
    "    data = s.encode(\"utf-8\", \"surrogatepass\")\n"
    "    out.write(b\"%d\\n\" % len(data) + data + b\"\\n\")\n"
    "for i in range(count):\n"
    "    v = rval(0) if i % 3 else rval(3)\n"
    "    v = json.loads(json.dumps(v))  # what JSON can carry (adjacent surrogates pair up)\n"
    "    field(json.dumps(v))\n"
    "    for m in MODES:\n"
    "        s = json.dumps(v, **m)\n"
    "        field(s if m.get(\"ensure_ascii\", True) else surrogates_escaped(s))\n"
    "    field(repr(v))\n"
    "    field(str(v))\n";

/* json.dumps keyword sets of the script's MODES, in the same order. */
static const json_opts parity_modes[] = {
    {.indent = -1, .ensure_ascii = false},
    {.indent = -1, .ensure_ascii = true},
    {.indent = 2, .ensure_ascii = false},
    {.indent = -1, .ensure_ascii = false, .sort_keys = true},
    {.indent = -1, .ensure_ascii = false, .item_sep = ",", .key_sep = ":"},
    {.indent = 2, .ensure_ascii = true, .sort_keys = true},
    {.indent = 0, .ensure_ascii = true, .item_sep = ";", .key_sep = "="},
};
#define NMODES (sizeof parity_modes / sizeof *parity_modes)
static const char *const field_names[] = {"default", "ensure_ascii", "indent=2", "sort_keys",
                                          "compact", "indent=2,sort_keys", "indent=0,seps",
                                          "repr", "str"};

/* Runs the script; returns its whole stdout (caller frees) or NULL. */
static char *run_python(unsigned long seed, int count, size_t *len) {
    char script[512], cmd[1024];
    snprintf(script, sizeof script, "%s/json_parity.py", test_tmpdir());
    FILE *f = fopen(script, "w");
    if (!f || fputs(parity_script, f) < 0 || fclose(f) != 0) return NULL;
    snprintf(cmd, sizeof cmd, PY " %s %lu %d %s", script, seed, count, val_unicode_version());
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    nt_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) nt_buf_append(&b, chunk, n);
    int status = pclose(p);
    CHECK_MSG(status == 0, "python exited with status %d", status);
    return nt_buf_take(&b, len);
}

/* Reads one "<len>\n<bytes>\n" field; false at the end or on a malformed record. */
static bool next_field(const char **p, const char *end, const char **data, size_t *n) {
    char *after;
    if (*p >= end) return false;
    errno = 0;
    unsigned long long k = strtoull(*p, &after, 10);
    if (errno || after >= end || *after != '\n' || (size_t)(end - after - 1) < k + 1) return false;
    *data = after + 1;
    *n = (size_t)k;
    *p = after + 1 + k + 1;
    return true;
}

static void show_mismatch(const char *what, const char *in, size_t in_n, const char *want,
                          size_t want_n, const char *got, size_t got_n) {
    fprintf(stderr, "  mismatch (%s) for %.*s\n    python: %.*s\n    newt:   %.*s\n", what,
            (int)in_n, in, (int)want_n, want, (int)got_n, got);
}

/* Exact equality: same kinds, floats bit for bit (NaN equals NaN); dict order is ignored
 * (sort_keys changes it; the byte comparison with Python checks order). */
static bool same_value(const val *a, const val *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case VAL_NULL: return true;
    case VAL_BOOL: return a->u.b == b->u.b;
    case VAL_INT: return a->u.i == b->u.i;
    case VAL_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0 || (isnan(a->u.f) && isnan(b->u.f));
    case VAL_STR: return str_is(b, a->u.str.s, a->u.str.n);
    case VAL_LIST:
        if (a->u.list.n != b->u.list.n) return false;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!same_value(a->u.list.items[i], b->u.list.items[i])) return false;
        return true;
    case VAL_DICT:
        if (a->u.dict.n != b->u.dict.n) return false;
        for (size_t i = 0; i < a->u.dict.n; i++) {
            const val *k = a->u.dict.entries[i].key;
            const val *bv = val_dict_getn(b, k->u.str.s, k->u.str.n);
            if (!bv || !same_value(a->u.dict.entries[i].value, bv)) return false;
        }
        return true;
    }
    return false;
}

/* Checks every output of one value; returns the number of mismatching fields. */
static int check_value(const val *v, const char *in, size_t in_n, const char **p, const char *end,
                       int *shown) {
    int bad = 0;
    nt_buf b = {0};
    for (size_t m = 0; m < NMODES + 2; m++) {
        const char *want;
        size_t want_n;
        if (!next_field(p, end, &want, &want_n)) { bad++; break; }
        b.len = 0;
        if (m < NMODES) json_dump(&b, v, &parity_modes[m]);
        else if (m == NMODES) val_py_repr(&b, v);
        else val_py_str(&b, v);
        if (b.len != want_n || memcmp(b.data, want, want_n) != 0) {
            bad++;
            if ((*shown)++ < 5) show_mismatch(field_names[m], in, in_n, want, want_n, b.data, b.len);
        }
        const char *ks = m < NMODES ? parity_modes[m].key_sep : NULL;
        if (m < NMODES && (!ks || strcmp(ks, ":") == 0)) { /* JSON must read back as the value */
            val *back = NULL;
            nt_err err = {0};
            bool ok = json_parse(b.data, b.len, &back, &err) == NT_OK && same_value(v, back);
            if (!ok && (*shown)++ < 5)
                fprintf(stderr, "  %s output of %.*s does not read back: %s\n", field_names[m],
                        (int)in_n, in, err.msg);
            bad += !ok;
            val_unref(back);
        }
    }
    nt_buf_free(&b);
    return bad;
}

static void parity_run(unsigned long seed) {
    size_t len = 0;
    char *out = run_python(seed, PARITY_COUNT, &len);
    if (!out) { CHECK_MSG(out != NULL, "could not run " PY); return; }
    const char *p = memchr(out, '\n', len), *end = out + len;
    if (!p) { CHECK_MSG(p != NULL, "no output from " PY); free(out); return; }
    fprintf(stderr, "  parity seed %lu: python %.*s\n", seed, (int)(p - out), out);
    p++;
    int values = 0, mismatches = 0, shown = 0;
    const char *in;
    size_t in_n;
    while (next_field(&p, end, &in, &in_n)) {
        val *v = NULL;
        nt_err err = {0};
        if (json_parse(in, in_n, &v, &err) != NT_OK) {
            CHECK_MSG(0, "cannot parse corpus value %.*s: %s", (int)in_n, in, err.msg);
            break;
        }
        mismatches += check_value(v, in, in_n, &p, end, &shown);
        val_unref(v);
        values++;
    }
    fprintf(stderr, "  parity seed %lu: %d values x %zu outputs, %d mismatches\n", seed, values,
            NMODES + 2, mismatches);
    CHECK_EQ_INT(values, PARITY_COUNT);
    CHECK_EQ_INT(mismatches, 0);
    free(out);
}

TEST(parity_with_python_fixed_seed) {
    if (access(PY, X_OK) != 0) SKIP(PY " not found");
    parity_run(20251128);
}

/* A seed that changes every day (NEWT_JSON_SEED overrides it to reproduce a failure). */
TEST(parity_with_python_daily_seed) {
    if (access(PY, X_OK) != 0) SKIP(PY " not found");
    const char *env = getenv("NEWT_JSON_SEED");
    unsigned long seed = env && *env ? strtoul(env, NULL, 10) : (unsigned long)(time(NULL) / 86400);
    parity_run(seed);
}

TEST_MAIN()
