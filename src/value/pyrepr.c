/* Python repr()/str() of values. Float digits come from glibc's correctly rounded printf and
 * strtod: the first precision whose digits read back as the same double is the shortest. */
#include "value/pyrepr.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value/pyprintable.inc"

/* Deeper nesting is written as "..." rather than risking the C stack (Python would raise
 * RecursionError near its own limit of 1000). */
#define PYREPR_MAX_DEPTH 1000

static bool reads_back(uint64_t m, int scale, double a) {
    char s[48];
    snprintf(s, sizeof s, "%" PRIu64 "e%d", m, scale);
    return strtod(s, NULL) == a;
}

/* m * 10^scale as digits without trailing zeros; returns decpt (value = 0.DIGITS * 10^decpt). */
static int set_digits(uint64_t m, int scale, char dig[24]) {
    while (m % 10 == 0) {
        m /= 10;
        scale++;
    }
    int n = snprintf(dig, 24, "%" PRIu64, m);
    return n + scale;
}

/* Shortest digits of a (finite, > 0). Among the shortest candidates Python's dtoa (mode 0)
 * takes the nearest, which is printf's correctly rounded one when it reads back. Only at a
 * power of two is the rounding interval lopsided (the gap below is half the gap above), so
 * there the neighbour on the wide side can read back when the nearest does not. */
static int shortest_digits(double a, char dig[24]) {
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    bool pow2 = (bits & ((UINT64_C(1) << 52) - 1)) == 0;
    uint64_t pow10 = 1; /* 10^(p-1) */
    for (int p = 1; p <= 17; p++, pow10 *= 10) {
        char s[48];
        snprintf(s, sizeof s, "%.*e", p - 1, a);
        uint64_t m = 0;
        const char *q = s;
        for (; *q != 'e'; q++)
            if (*q >= '0' && *q <= '9') m = m * 10 + (uint64_t)(*q - '0'); /* any decimal point */
        int scale = atoi(q + 1) - (p - 1); /* a ~ m * 10^scale, m has p digits */
        if (strtod(s, NULL) == a) return set_digits(m, scale, dig);
        if (!pow2) continue;
        if (reads_back(m + 1, scale, a)) return set_digits(m + 1, scale, dig);
        if (m == pow10) { /* the p-digit number below 10^k is 99..9 one decade lower */
            if (reads_back(pow10 * 10 - 1, scale - 1, a)) return set_digits(pow10 * 10 - 1, scale - 1, dig);
        } else if (reads_back(m - 1, scale, a)) {
            return set_digits(m - 1, scale, dig);
        }
    }
    /* 17 significant digits always read back; not reached. */
    snprintf(dig, 24, "0");
    return 0;
}

void val_float_repr(char buf[32], double f) {
    if (isnan(f)) { strcpy(buf, "nan"); return; }
    if (isinf(f)) { strcpy(buf, f < 0 ? "-inf" : "inf"); return; }
    if (f == 0) { strcpy(buf, signbit(f) ? "-0.0" : "0.0"); return; }
    char dig[24];
    int decpt = shortest_digits(fabs(f), dig), n = (int)strlen(dig);
    const char *sign = f < 0 ? "-" : "";
    char out[64];
    if (decpt <= -4 || decpt > 16) { /* exponent notation: 1e-05, 1.5e+300 */
        snprintf(out, sizeof out, "%s%c%s%s" "e%c%02d", sign, dig[0], n > 1 ? "." : "", dig + 1,
                 decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
    } else if (decpt <= 0) { /* 0.000ddd */
        snprintf(out, sizeof out, "%s0.%.*s%s", sign, -decpt, "0000", dig);
    } else if (decpt >= n) { /* ddd000.0 */
        snprintf(out, sizeof out, "%s%s%.*s.0", sign, dig, decpt - n, "0000000000000000");
    } else {
        snprintf(out, sizeof out, "%s%.*s.%s", sign, decpt, dig, dig + decpt);
    }
    size_t len = strlen(out); /* at most 24 */
    memcpy(buf, out, len < 31 ? len + 1 : 31);
    buf[31] = '\0';
}

size_t val_utf8_next(const unsigned char *p, size_t n, uint32_t *cp) {
    unsigned c = p[0];
    size_t len;
    uint32_t min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
    else goto invalid;
    if (n < len) goto invalid;
    uint32_t v = c & (0x3Fu >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) goto invalid;
        v = v << 6 | (p[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF) goto invalid;
    *cp = v;
    return len;
invalid:
    *cp = 0xFFFD;
    return 1;
}

bool val_cp_printable(uint32_t cp) {
    size_t lo = 0, hi = sizeof pyrepr_nonprintable / sizeof *pyrepr_nonprintable;
    while (lo < hi) { /* first range whose end >= cp */
        size_t mid = (lo + hi) / 2;
        if (pyrepr_nonprintable[mid][1] < cp) lo = mid + 1;
        else hi = mid;
    }
    return !(lo < sizeof pyrepr_nonprintable / sizeof *pyrepr_nonprintable &&
             pyrepr_nonprintable[lo][0] <= cp);
}

const char *val_unicode_version(void) { return PYREPR_UNICODE_VERSION; }

/* One code point of a repr'd string, by the rules of Python's unicode_repr. */
static void repr_cp(nt_buf *b, uint32_t cp, const char *raw, size_t rawn, char quote) {
    if (cp == (uint32_t)quote || cp == '\\') {
        nt_buf_putc(b, '\\');
        nt_buf_putc(b, (char)cp);
    } else if (cp == '\t') nt_buf_puts(b, "\\t");
    else if (cp == '\n') nt_buf_puts(b, "\\n");
    else if (cp == '\r') nt_buf_puts(b, "\\r");
    else if (cp < 0x20 || cp == 0x7F) nt_buf_printf(b, "\\x%02x", cp);
    else if (cp < 0x7F) nt_buf_putc(b, (char)cp);
    else if (val_cp_printable(cp)) {
        if (cp == 0xFFFD && rawn == 1) nt_buf_puts(b, "\xEF\xBF\xBD"); /* invalid byte */
        else nt_buf_append(b, raw, rawn);
    } else if (cp <= 0xFF) nt_buf_printf(b, "\\x%02x", cp);
    else if (cp <= 0xFFFF) nt_buf_printf(b, "\\u%04x", cp);
    else nt_buf_printf(b, "\\U%08x", cp);
}

static void repr_str(nt_buf *b, const char *s, size_t n) {
    /* Python quotes with ' unless the text holds ' and no ". */
    char quote = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    nt_buf_putc(b, quote);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = val_utf8_next((const unsigned char *)s + i, n - i, &cp);
        repr_cp(b, cp, s + i, k, quote);
        i += k;
    }
    nt_buf_putc(b, quote);
}

typedef struct repr_frame {
    const val *v;
    const struct repr_frame *up;
    int depth;
} repr_frame;

static void repr_val(nt_buf *b, const val *v, const repr_frame *up);

/* Containers: a value already open above us is a cycle, written [...] / {...}. */
static bool repr_cycle(nt_buf *b, const val *v, const repr_frame *up) {
    for (const repr_frame *f = up; f; f = f->up) {
        if (f->v == v || f->depth >= PYREPR_MAX_DEPTH) {
            nt_buf_puts(b, f->v == v ? (v->kind == VAL_LIST ? "[...]" : "{...}") : "...");
            return true;
        }
    }
    return false;
}

static void repr_container(nt_buf *b, const val *v, const repr_frame *up) {
    if (repr_cycle(b, v, up)) return;
    repr_frame fr = {v, up, up ? up->depth + 1 : 1};
    if (v->kind == VAL_LIST) {
        nt_buf_putc(b, '[');
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i) nt_buf_puts(b, ", ");
            repr_val(b, v->u.list.items[i], &fr);
        }
        nt_buf_putc(b, ']');
        return;
    }
    nt_buf_putc(b, '{');
    for (size_t i = 0; i < v->u.dict.n; i++) {
        const val_entry *e = &v->u.dict.entries[i];
        if (i) nt_buf_puts(b, ", ");
        repr_str(b, e->key->u.str.s, e->key->u.str.n);
        nt_buf_puts(b, ": ");
        repr_val(b, e->value, &fr);
    }
    nt_buf_putc(b, '}');
}

static void repr_val(nt_buf *b, const val *v, const repr_frame *up) {
    char num[32];
    if (!v) {
        nt_buf_puts(b, "None");
        return;
    }
    switch (v->kind) {
    case VAL_NULL: nt_buf_puts(b, "None"); break;
    case VAL_BOOL: nt_buf_puts(b, v->u.b ? "True" : "False"); break;
    case VAL_INT: nt_buf_printf(b, "%" PRId64, v->u.i); break;
    case VAL_FLOAT:
        val_float_repr(num, v->u.f);
        nt_buf_puts(b, num);
        break;
    case VAL_STR: repr_str(b, v->u.str.s, v->u.str.n); break;
    case VAL_LIST:
    case VAL_DICT: repr_container(b, v, up); break;
    }
}

void val_py_repr(nt_buf *b, const val *v) { repr_val(b, v, NULL); }

void val_py_str(nt_buf *b, const val *v) {
    if (val_is(v, VAL_STR)) nt_buf_append(b, v->u.str.s, v->u.str.n);
    else repr_val(b, v, NULL);
}
