/* JSON parser into values: recursive descent with an explicit depth limit. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "formats/json.h"

typedef struct {
    const char *p, *end, *start;
    int depth;
    nt_err *err;
} json_parser;

static nt_status fail(json_parser *ps, const char *at, const char *what) {
    int line = 1, col = 1;
    for (const char *q = ps->start; q < at && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            col++;
        }
    }
    return nt_err_set(ps->err, NT_EPARSE, "JSON line %d column %d: %s", line, col, what);
}

static void skip_ws(json_parser *ps) {
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

static void put_utf8(nt_buf *b, unsigned cp) {
    char o[4];
    size_t n;
    if (cp < 0x80) { o[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63));
        o[2] = (char)(0x80 | (cp & 63)); n = 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 63));
        o[2] = (char)(0x80 | ((cp >> 6) & 63)); o[3] = (char)(0x80 | (cp & 63)); n = 4;
    }
    nt_buf_append(b, o, n);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; min = 0x10000; }
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    unsigned cp = c & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Parses a string starting at the opening quote into b (raw UTF-8 bytes). Lone surrogates
 * from \u escapes are kept as 3-byte sequences, as Python keeps them in its str. */
static nt_status parse_string_into(json_parser *ps, nt_buf *b) {
    const char *p = ps->p + 1;
    for (;;) {
        const char *run = p;
        while (p < ps->end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 &&
               (unsigned char)*p < 0x80)
            p++;
        nt_buf_append(b, run, (size_t)(p - run));
        if (p >= ps->end) return fail(ps, ps->p, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c < 0x20) return fail(ps, p, "control character in string");
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)ps->end);
            if (!n) return fail(ps, p, "invalid UTF-8 in string");
            nt_buf_append(b, p, n);
            p += n;
            continue;
        }
        /* backslash escape */
        if (p + 1 >= ps->end) return fail(ps, p, "unterminated escape");
        char e = p[1];
        p += 2;
        switch (e) {
        case '"': nt_buf_putc(b, '"'); break;
        case '\\': nt_buf_putc(b, '\\'); break;
        case '/': nt_buf_putc(b, '/'); break;
        case 'b': nt_buf_putc(b, '\b'); break;
        case 'f': nt_buf_putc(b, '\f'); break;
        case 'n': nt_buf_putc(b, '\n'); break;
        case 'r': nt_buf_putc(b, '\r'); break;
        case 't': nt_buf_putc(b, '\t'); break;
        case 'u': {
            int hi = ps->end - p >= 4 ? hex4(p) : -1;
            if (hi < 0) return fail(ps, p - 2, "invalid \\u escape");
            p += 4;
            unsigned cp = (unsigned)hi;
            if (hi >= 0xD800 && hi <= 0xDBFF && ps->end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                int lo = hex4(p + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + (((unsigned)hi - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
                    p += 6;
                }
            }
            put_utf8(b, cp);
            break;
        }
        default: return fail(ps, p - 2, "invalid escape");
        }
    }
    ps->p = p + 1;
    return NT_OK;
}

static nt_status parse_number(json_parser *ps, val **out) {
    const char *s = ps->p, *p = s;
    bool is_float = false;
    if (p < ps->end && *p == '-') p++;
    if (p < ps->end && *p == '0') {
        p++;
    } else if (p < ps->end && *p >= '1' && *p <= '9') {
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    } else {
        return fail(ps, s, "invalid number");
    }
    if (p < ps->end && *p == '.') {
        is_float = true;
        p++;
        if (p >= ps->end || *p < '0' || *p > '9') return fail(ps, s, "invalid number");
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        is_float = true;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-')) p++;
        if (p >= ps->end || *p < '0' || *p > '9') return fail(ps, s, "invalid number");
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    }
    char tmp[64];
    char *heap = NULL, *txt = tmp;
    size_t n = (size_t)(p - s);
    if (n >= sizeof tmp) txt = heap = nt_xmalloc(n + 1);
    memcpy(txt, s, n);
    txt[n] = '\0';
    if (!is_float) {
        errno = 0;
        long long v = strtoll(txt, NULL, 10);
        if (errno == ERANGE) *out = val_float(strtod(txt, NULL)); /* beyond int64 */
        else *out = val_int(v);
    } else {
        *out = val_float(strtod(txt, NULL));
    }
    free(heap);
    ps->p = p;
    return NT_OK;
}

static bool match_word(json_parser *ps, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) return false;
    ps->p += n;
    return true;
}

static nt_status parse_value(json_parser *ps, val **out);

static nt_status parse_array(json_parser *ps, val **out) {
    val *l = val_list();
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        *out = l;
        return NT_OK;
    }
    for (;;) {
        val *item;
        nt_status st = parse_value(ps, &item);
        if (st) {
            val_unref(l);
            return st;
        }
        val_list_push(l, item);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            *out = l;
            return NT_OK;
        }
        val_unref(l);
        return fail(ps, ps->p, "expected ',' or ']' in array");
    }
}

static nt_status parse_object(json_parser *ps, val **out) {
    val *d = val_dict();
    nt_buf key = {0};
    nt_status st = NT_OK;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        *out = d;
        return NT_OK;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            st = fail(ps, ps->p, "expected a string key in object");
            break;
        }
        key.len = 0;
        if ((st = parse_string_into(ps, &key))) break;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            st = fail(ps, ps->p, "expected ':' after object key");
            break;
        }
        ps->p++;
        val *item;
        if ((st = parse_value(ps, &item))) break;
        val_dict_setn(d, key.data ? key.data : "", key.len, item);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            break;
        }
        st = fail(ps, ps->p, "expected ',' or '}' in object");
        break;
    }
    nt_buf_free(&key);
    if (st) {
        val_unref(d);
        return st;
    }
    *out = d;
    return NT_OK;
}

static nt_status parse_value(json_parser *ps, val **out) {
    skip_ws(ps);
    if (ps->p >= ps->end) return fail(ps, ps->p, "unexpected end of input");
    if (++ps->depth > JSON_MAX_DEPTH) {
        nt_err_set(ps->err, NT_ELIMIT, "JSON nesting deeper than %d", JSON_MAX_DEPTH);
        return NT_ELIMIT;
    }
    nt_status st = NT_OK;
    switch (*ps->p) {
    case '{': st = parse_object(ps, out); break;
    case '[': st = parse_array(ps, out); break;
    case '"': {
        nt_buf b = {0};
        st = parse_string_into(ps, &b);
        if (st) nt_buf_free(&b);
        else {
            size_t n;
            char *s = nt_buf_take(&b, &n);
            *out = val_str_take(s, n);
        }
        break;
    }
    default:
        if (match_word(ps, "true")) *out = val_bool(true);
        else if (match_word(ps, "false")) *out = val_bool(false);
        else if (match_word(ps, "null")) *out = val_null();
        else if (match_word(ps, "NaN")) *out = val_float(NAN);
        else if (match_word(ps, "Infinity")) *out = val_float(INFINITY);
        else if (match_word(ps, "-Infinity")) *out = val_float(-INFINITY);
        else if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) st = parse_number(ps, out);
        else st = fail(ps, ps->p, "unexpected character");
    }
    ps->depth--;
    return st;
}

nt_status json_parse(const char *text, size_t n, val **out, nt_err *err) {
    json_parser ps = {.p = text, .end = text + n, .start = text, .err = err};
    *out = NULL;
    val *v;
    nt_status st = parse_value(&ps, &v);
    if (st) return st;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        val_unref(v);
        return fail(&ps, ps.p, "extra data after the JSON value");
    }
    *out = v;
    return NT_OK;
}

nt_status json_parse_file(const char *path, val **out, nt_err *err) {
    char *data;
    size_t n;
    *out = NULL;
    nt_status st = nt_read_file(path, &data, &n, err);
    if (st) return st;
    st = json_parse(data, n, out, err);
    free(data);
    if (st) nt_err_prefix(err, "%s: ", path);
    return st;
}
