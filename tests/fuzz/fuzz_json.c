/* Fuzzes the JSON parser and serializer: any input must give a value or an error, never a
 * crash or leak; a parsed value, written out in each mode, must read back as the same value
 * (kinds, float bits and key order included), and Python repr/str must not crash. */
#include <math.h>

#include "formats/json.h"
#include "fuzz.h"
#include "value/pyrepr.h"

static void fuzz_seeds(fuzz_corpus *c) {
    static const char *seeds[] = {
        "{\"a\": [1, 2.5, -3e-7, true, false, null], \"b\": {\"c\": \"d\\u00e9\\ud83d\\ude00\"}}",
        "[[[[[]]]]]", "\"\\n\\t\\\\\\\"\"", "-0", "1e400", "12345678901234567890", "{}",
        "[NaN, Infinity, -Infinity]", "\"\xc3\xa9\xf0\x9f\x98\x80\"",
        "[-0.0, 5e-324, 1e16, 1e-05, 9007199254740993, -9223372036854775808]",
        "{\"k\": \"\\ud800\\udc00\\udfff\\ud800x\\u007f\\u2028\\u0000\", \"k\": {\"\": []}}",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) fuzz_add(c, seeds[i], strlen(seeds[i]));
}

static bool same_value(const val *a, const val *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case VAL_NULL: return true;
    case VAL_BOOL: return a->u.b == b->u.b;
    case VAL_INT: return a->u.i == b->u.i;
    case VAL_FLOAT: /* NaN reads back as NaN; otherwise the very same double, sign of 0 too */
        return isnan(a->u.f) ? isnan(b->u.f) : memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0;
    case VAL_STR:
        return a->u.str.n == b->u.str.n && memcmp(a->u.str.s, b->u.str.s, a->u.str.n) == 0;
    case VAL_LIST:
        if (a->u.list.n != b->u.list.n) return false;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!same_value(a->u.list.items[i], b->u.list.items[i])) return false;
        return true;
    case VAL_DICT:
        if (a->u.dict.n != b->u.dict.n) return false;
        for (size_t i = 0; i < a->u.dict.n; i++)
            if (!same_value(a->u.dict.entries[i].key, b->u.dict.entries[i].key) ||
                !same_value(a->u.dict.entries[i].value, b->u.dict.entries[i].value))
                return false;
        return true;
    }
    return false;
}

static void check_round_trip(const val *v, json_opts o, const char *mode) {
    size_t n;
    char *s = json_dumps(v, &o, &n);
    val *back = NULL;
    nt_err err = {0};
    if (json_parse(s, n, &back, &err) != NT_OK || !same_value(v, back)) {
        fprintf(stderr, "fuzz_json: %s output does not read back (%s):\n%s\n", mode, err.msg, s);
        abort();
    }
    if (o.ensure_ascii)
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] >= 0x80) {
                fprintf(stderr, "fuzz_json: non-ASCII byte with ensure_ascii:\n%s\n", s);
                abort();
            }
    val_unref(back);
    free(s);
}

static void fuzz_target(const uint8_t *data, size_t n) {
    val *v = NULL;
    nt_err err = {0};
    if (json_parse((const char *)data, n, &v, &err) != NT_OK) return;
    check_round_trip(v, JSON_OPTS_PY, "default");
    check_round_trip(v, (json_opts){.indent = -1, .ensure_ascii = true}, "ensure_ascii");
    check_round_trip(v, (json_opts){.indent = 2, .item_sep = ",", .key_sep = ":"}, "indent");
    nt_buf b = {0};
    val_py_repr(&b, v);
    val_py_str(&b, v);
    nt_buf_free(&b);
    val_unref(v);
}

FUZZ_MAIN()
