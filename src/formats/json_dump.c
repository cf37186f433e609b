/* Values to JSON text, byte for byte as Python's json.dumps writes them (the C encoder of
 * CPython's json module: same escapes, separators, indentation and float repr). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
#include "value/pyrepr.h"

/* Nesting deeper than this (only possible for values built in code) is written as null. */
#define JSON_DUMP_MAX_DEPTH 1000

typedef struct dump_frame {
    const val *v;
    const struct dump_frame *up;
    int depth;
} dump_frame;

typedef struct {
    nt_buf *b;
    const json_opts *o;
    const char *item_sep, *key_sep;
} dumper;

static void put_u16(nt_buf *b, uint32_t u) { nt_buf_printf(b, "\\u%04x", u); }

/* Bytes that never need escaping in either mode: printable ASCII but " and \. */
static bool plain_ascii(unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }

static void dump_ascii_escape(nt_buf *b, unsigned char c) {
    switch (c) {
    case '"': nt_buf_puts(b, "\\\""); break;
    case '\\': nt_buf_puts(b, "\\\\"); break;
    case '\n': nt_buf_puts(b, "\\n"); break;
    case '\r': nt_buf_puts(b, "\\r"); break;
    case '\t': nt_buf_puts(b, "\\t"); break;
    case '\b': nt_buf_puts(b, "\\b"); break;
    case '\f': nt_buf_puts(b, "\\f"); break;
    default: put_u16(b, c); /* other C0 controls; DEL too when ensure_ascii */
    }
}

/* One non-ASCII code point. Lone surrogates are always escaped: written raw they would make
 * invalid UTF-8 (Python's str holds them, but its UTF-8 encoder refuses them too), and the
 * escape reads back as the same string. Invalid bytes were decoded as U+FFFD. */
static void dump_cp(nt_buf *b, uint32_t cp, const char *raw, size_t rawn, bool ascii) {
    bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (surrogate || (ascii && cp < 0x10000)) {
        put_u16(b, cp);
    } else if (ascii) {
        uint32_t v = cp - 0x10000;
        put_u16(b, 0xD800 | (v >> 10));
        put_u16(b, 0xDC00 | (v & 0x3FF));
    } else if (cp == 0xFFFD && rawn == 1) {
        nt_buf_puts(b, "\xEF\xBF\xBD");
    } else {
        nt_buf_append(b, raw, rawn);
    }
}

static void dump_str(nt_buf *b, const char *s, size_t n, bool ascii) {
    const unsigned char *p = (const unsigned char *)s;
    nt_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        size_t run = i;
        while (run < n && (plain_ascii(p[run]) || (!ascii && p[run] == 0x7F))) run++;
        nt_buf_append(b, s + i, run - i);
        if ((i = run) >= n) break;
        if (p[i] < 0x80) {
            dump_ascii_escape(b, p[i++]);
            continue;
        }
        uint32_t cp;
        size_t k = val_utf8_next(p + i, n - i, &cp);
        dump_cp(b, cp, s + i, k, ascii);
        i += k;
    }
    nt_buf_putc(b, '"');
}

static void dump_val(dumper *d, const val *v, const dump_frame *up);

/* Newline and indentation for nesting level `level` (pretty mode only). */
static void newline(dumper *d, int level) {
    nt_buf_putc(d->b, '\n');
    size_t n = (size_t)d->o->indent * (size_t)level;
    nt_buf_reserve(d->b, n);
    memset(d->b->data + d->b->len, ' ', n);
    d->b->len += n;
    d->b->data[d->b->len] = '\0';
}

/* Byte order of UTF-8 is code point order, which is how Python sorts str keys. */
static int key_cmp(const void *x, const void *y) {
    const val *a = (*(const val_entry *const *)x)->key, *b = (*(const val_entry *const *)y)->key;
    size_t n = a->u.str.n < b->u.str.n ? a->u.str.n : b->u.str.n;
    int c = memcmp(a->u.str.s, b->u.str.s, n);
    return c ? c : (a->u.str.n > b->u.str.n) - (a->u.str.n < b->u.str.n);
}

/* Python: empty containers are "[]"/"{}"; otherwise each item goes after the item separator
 * plus, when indenting, a newline and indent*level spaces; the closer on its own line. */
static void dump_container(dumper *d, const val *v, const dump_frame *fr) {
    bool list = v->kind == VAL_LIST;
    size_t n = list ? v->u.list.n : v->u.dict.n;
    if (!n) {
        nt_buf_puts(d->b, list ? "[]" : "{}");
        return;
    }
    const val_entry **order = NULL;
    if (!list) {
        order = nt_xmalloc(n * sizeof *order);
        for (size_t i = 0; i < n; i++) order[i] = &v->u.dict.entries[i];
        if (d->o->sort_keys) qsort(order, n, sizeof *order, key_cmp);
    }
    bool pretty = d->o->indent >= 0;
    nt_buf_putc(d->b, list ? '[' : '{');
    for (size_t i = 0; i < n; i++) {
        if (i) nt_buf_puts(d->b, d->item_sep);
        if (pretty) newline(d, fr->depth);
        if (list) {
            dump_val(d, v->u.list.items[i], fr);
        } else {
            dump_str(d->b, order[i]->key->u.str.s, order[i]->key->u.str.n, d->o->ensure_ascii);
            nt_buf_puts(d->b, d->key_sep);
            dump_val(d, order[i]->value, fr);
        }
    }
    if (pretty) newline(d, fr->depth - 1);
    nt_buf_putc(d->b, list ? ']' : '}');
    free(order);
}

static void dump_float(nt_buf *b, double f) {
    if (isnan(f)) nt_buf_puts(b, "NaN");
    else if (isinf(f)) nt_buf_puts(b, f < 0 ? "-Infinity" : "Infinity");
    else {
        char num[32];
        val_float_repr(num, f);
        nt_buf_puts(b, num);
    }
}

static void dump_val(dumper *d, const val *v, const dump_frame *up) {
    switch (v ? v->kind : VAL_NULL) {
    case VAL_NULL: nt_buf_puts(d->b, "null"); return;
    case VAL_BOOL: nt_buf_puts(d->b, v->u.b ? "true" : "false"); return;
    case VAL_INT: nt_buf_printf(d->b, "%" PRId64, v->u.i); return;
    case VAL_FLOAT: dump_float(d->b, v->u.f); return;
    case VAL_STR: dump_str(d->b, v->u.str.s, v->u.str.n, d->o->ensure_ascii); return;
    case VAL_LIST:
    case VAL_DICT: break;
    }
    /* Python raises "Circular reference detected"; json_dump cannot fail, so a container
     * inside itself (or absurdly deep nesting) becomes null. */
    for (const dump_frame *f = up; f; f = f->up) {
        if (f->v == v || f->depth >= JSON_DUMP_MAX_DEPTH) {
            nt_buf_puts(d->b, "null");
            return;
        }
    }
    dump_frame fr = {v, up, up ? up->depth + 1 : 1};
    dump_container(d, v, &fr);
}

void json_dump(nt_buf *b, const val *v, const json_opts *o) {
    json_opts def = JSON_OPTS_PY;
    if (!o) o = &def;
    dumper d = {
        .b = b,
        .o = o,
        .item_sep = o->item_sep ? o->item_sep : o->indent >= 0 ? "," : ", ",
        .key_sep = o->key_sep ? o->key_sep : ": ",
    };
    dump_val(&d, v, NULL);
}

char *json_dumps(const val *v, const json_opts *o, size_t *len) {
    nt_buf b = {0};
    json_dump(&b, v, o);
    return nt_buf_take(&b, len);
}

void json_float_repr(char *buf, double f) { val_float_repr(buf, f); }
