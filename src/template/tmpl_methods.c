/* Python str/dict methods the sandbox allows, and the globals transformers provides:
 * range, namespace, dict, raise_exception, strftime_now. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "template/tmpl_int.h"
#include "value/pyrepr.h"

#define FN(name) static tv *name(rstate *rs, const node *at, tv *self, tv **a, size_t na, \
                                 const char **kwn, tv **kwv, size_t nkw)

static void want_args(rstate *rs, const node *at, const char *fn, size_t na, size_t lo, size_t hi) {
    if (na < lo || na > hi)
        rs_fail(rs, at, NT_EINVAL, "%s() takes %zu to %zu arguments (%zu given)", fn, lo, hi, na);
}

static tv *want_str(rstate *rs, const node *at, tv *v, const char *what) {
    if (v->kind == TV_UNDEF) rs_undefined_fail(rs, at, v);
    if (v->kind != TV_STR)
        rs_fail(rs, at, NT_EINVAL, "%s must be str, not %s", what, tv_type_name(v));
    return v;
}

/* Python's str.isspace() for one code point. */
static bool py_space(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 28 && c <= 32) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static bool in_chars(uint32_t c, const char *chars, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t d;
        i += val_utf8_next((const unsigned char *)chars + i, n - i, &d);
        if (d == c) return true;
    }
    return false;
}

static bool strip_match(uint32_t c, const char *chars, size_t nchars) {
    return chars ? in_chars(c, chars, nchars) : py_space(c);
}

/* Byte length of the code point ending at s[end-1]. */
static size_t prev_cp(const char *s, size_t end) {
    size_t k = end - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    return k;
}

tv *tv_str_strip(rstate *rs, tv *s, const char *chars, size_t nchars, bool left, bool right) {
    const char *p = s->u.str.s;
    size_t a = 0, e = s->u.str.n;
    while (left && a < e) {
        uint32_t c;
        size_t k = val_utf8_next((const unsigned char *)p + a, e - a, &c);
        if (!strip_match(c, chars, nchars)) break;
        a += k;
    }
    while (right && e > a) {
        size_t k = prev_cp(p, e);
        uint32_t c;
        val_utf8_next((const unsigned char *)p + k, e - k, &c);
        if (!strip_match(c, chars, nchars)) break;
        e = k;
    }
    return tv_substr(rs, s, a, e);
}

static tv *strip_common(rstate *rs, const node *at, tv *self, tv **a, size_t na, bool l, bool r) {
    want_args(rs, at, "strip", na, 0, 1);
    if (na && a[0]->kind != TV_NONE) {
        want_str(rs, at, a[0], "strip arg");
        return tv_str_strip(rs, self, a[0]->u.str.s, a[0]->u.str.n, l, r);
    }
    return tv_str_strip(rs, self, NULL, 0, l, r);
}

FN(m_strip) { return strip_common(rs, at, self, a, na, true, true); }
FN(m_lstrip) { return strip_common(rs, at, self, a, na, true, false); }
FN(m_rstrip) { return strip_common(rs, at, self, a, na, false, true); }

static int64_t kw_int(rstate *rs, const node *at, const char **kwn, tv **kwv, size_t nkw,
                      const char *name, int64_t dflt) {
    for (size_t k = 0; k < nkw; k++)
        if (!strcmp(kwn[k], name)) {
            if (kwv[k]->kind != TV_INT) rs_fail(rs, at, NT_EINVAL, "%s must be an integer", name);
            return kwv[k]->u.i;
        }
    return dflt;
}

static tv *list_from(rstate *rs, tv **items, size_t n, taint t) {
    tv *l = tv_list(rs, n);
    if (n) memcpy(l->u.list.items, items, n * sizeof(tv *));
    l->t = t;
    return l;
}

typedef struct {
    tv **v;
    size_t n, cap;
} tvec;

static void tvec_push(rstate *rs, tvec *v, tv *x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 8;
        tv **nv = rs_alloc(rs, cap * sizeof *nv);
        if (v->n) memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

/* str.split(sep=None, maxsplit=-1) */
FN(m_split) {
    want_args(rs, at, "split", na, 0, 2);
    tv *sep = na > 0 ? a[0] : NULL;
    for (size_t k = 0; k < nkw; k++) if (!strcmp(kwn[k], "sep")) sep = kwv[k];
    int64_t maxsplit = na > 1 && a[1]->kind == TV_INT ? a[1]->u.i : kw_int(rs, at, kwn, kwv, nkw, "maxsplit", -1);
    const char *s = self->u.str.s;
    size_t n = self->u.str.n;
    tvec out = {0};
    if (sep && sep->kind != TV_NONE) {
        want_str(rs, at, sep, "separator");
        if (!sep->u.str.n) rs_fail(rs, at, NT_EINVAL, "empty separator");
        size_t pos = 0;
        while (maxsplit < 0 || (int64_t)out.n < maxsplit) {
            const char *hit = memmem(s + pos, n - pos, sep->u.str.s, sep->u.str.n);
            if (!hit) break;
            size_t h = (size_t)(hit - s);
            tvec_push(rs, &out, tv_substr(rs, self, pos, h));
            pos = h + sep->u.str.n;
        }
        tvec_push(rs, &out, tv_substr(rs, self, pos, n));
        return list_from(rs, out.v, out.n, self->t);
    }
    size_t i = 0;
    for (;;) {
        while (i < n) { /* skip whitespace */
            uint32_t c;
            size_t k = val_utf8_next((const unsigned char *)s + i, n - i, &c);
            if (!py_space(c)) break;
            i += k;
        }
        if (i >= n) break;
        if (maxsplit >= 0 && (int64_t)out.n >= maxsplit) {
            tv *rest = tv_str_strip(rs, tv_substr(rs, self, i, n), NULL, 0, false, true);
            tvec_push(rs, &out, rest);
            break;
        }
        size_t j = i;
        while (j < n) {
            uint32_t c;
            size_t k = val_utf8_next((const unsigned char *)s + j, n - j, &c);
            if (py_space(c)) break;
            j += k;
        }
        tvec_push(rs, &out, tv_substr(rs, self, i, j));
        i = j;
    }
    return list_from(rs, out.v, out.n, self->t);
}

/* self[start:end] for the optional start/end arguments (a[1], a[2]; code points, None for the
 * default) of find/count/startswith/endswith, adjusted as CPython does; NULL when end < start
 * (then nothing matches, not even ''). *off: start in code points. */
static tv *sub_range(rstate *rs, const node *at, tv *self, tv **a, size_t na, int64_t *off) {
    int64_t n = (int64_t)utf8_len(self->u.str.s, self->u.str.n), lim[2] = {0, n};
    for (int k = 0; k < 2; k++) {
        tv *x = (size_t)k + 1 < na ? a[k + 1] : NULL;
        if (!x || x->kind == TV_NONE) continue;
        if (x->kind != TV_INT && x->kind != TV_BOOL)
            rs_fail(rs, at, NT_EINVAL, "slice indices must be integers or None or have an __index__ method");
        int64_t v = x->kind == TV_INT ? x->u.i : x->u.b;
        if (v < 0) v = v + n < 0 ? 0 : v + n;
        else if (k == 1 && v > n) v = n;
        lim[k] = v;
    }
    *off = lim[0];
    if (lim[1] < lim[0]) return NULL;
    if (lim[0] == 0 && lim[1] == n) return self;
    size_t b0 = utf8_offset(self->u.str.s, self->u.str.n, (size_t)lim[0]);
    size_t b1 = utf8_offset(self->u.str.s, self->u.str.n, (size_t)lim[1]);
    return tv_substr(rs, self, b0, b1);
}

static bool affix(rstate *rs, const node *at, tv *self, tv *x, bool start) {
    if (x->kind == TV_LIST && x->tup) {
        for (size_t i = 0; i < x->u.list.n; i++)
            if (affix(rs, at, self, x->u.list.items[i], start)) return true;
        return false;
    }
    want_str(rs, at, x, start ? "startswith arg" : "endswith arg");
    size_t n = x->u.str.n;
    if (n > self->u.str.n) return false;
    const char *p = start ? self->u.str.s : self->u.str.s + self->u.str.n - n;
    return !memcmp(p, x->u.str.s, n);
}

FN(m_startswith) {
    want_args(rs, at, "startswith", na, 1, 3);
    int64_t off;
    tv *sub = sub_range(rs, at, self, a, na, &off);
    return tv_bool(rs, sub && affix(rs, at, sub, a[0], true), self->t);
}

FN(m_endswith) {
    want_args(rs, at, "endswith", na, 1, 3);
    int64_t off;
    tv *sub = sub_range(rs, at, self, a, na, &off);
    return tv_bool(rs, sub && affix(rs, at, sub, a[0], false), self->t);
}

tv *str_replace(rstate *rs, const node *at, tv *self, tv *old, tv *new, int64_t count) {
    want_str(rs, at, old, "replace arg 1");
    want_str(rs, at, new, "replace arg 2");
    sbuild sb = {0};
    size_t pos = 0, n = self->u.str.n;
    int64_t done = 0;
    if (!old->u.str.n) { /* Python inserts new between every code point */
        tv *chars = tv_iterable(rs, at, self);
        for (size_t i = 0; i <= chars->u.list.n; i++) {
            if (count < 0 || done < count) { sb_add(rs, &sb, new, 0, new->u.str.n); done++; }
            if (i < chars->u.list.n) sb_add(rs, &sb, chars->u.list.items[i], 0, chars->u.list.items[i]->u.str.n);
        }
        return sb_finish(rs, &sb, taint_join(self->t, new->t));
    }
    while (count < 0 || done < count) {
        const char *hit = memmem(self->u.str.s + pos, n - pos, old->u.str.s, old->u.str.n);
        if (!hit) break;
        size_t h = (size_t)(hit - self->u.str.s);
        sb_add(rs, &sb, self, pos, h);
        sb_add(rs, &sb, new, 0, new->u.str.n);
        pos = h + old->u.str.n;
        done++;
    }
    if (!done) return self;
    sb_add(rs, &sb, self, pos, n);
    return sb_finish(rs, &sb, self->t);
}

FN(m_replace) {
    want_args(rs, at, "replace", na, 2, 3);
    int64_t count = na > 2 && a[2]->kind == TV_INT ? a[2]->u.i : -1;
    return str_replace(rs, at, self, a[0], a[1], count);
}

/* Simple Unicode case mapping for the scripts chat data mostly uses (ASCII, Latin-1,
 * Latin Extended-A, Greek, Cyrillic); other code points are kept. ß upper-cases to "SS". */
static uint32_t cp_upper(uint32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c < 0x80) return c;
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
    if (c == 0xFF) return 0x178;
    if (c == 0xB5) return 0x39C;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x131) return 'I';
        if (c == 0x17F) return 'S';
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
        if (c == 0x138 || c == 0x149 || c == 0x130 || c == 0x178) return c;
        return (c & 1) ? c - 1 : c;
    }
    if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 32;
    if (c == 0x3AC) return 0x386; /* Greek letters with tonos */
    if (c >= 0x3AD && c <= 0x3AF) return c - 37;
    if (c == 0x3CC) return 0x38C;
    if (c == 0x3CD || c == 0x3CE) return c - 63;
    if (c == 0x3CA || c == 0x3CB) return c - 32;
    if (c == 0x371 || c == 0x373 || c == 0x377 || (c >= 0x3D9 && c <= 0x3EF && (c & 1))) return c - 1;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

static uint32_t cp_lower(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0x80) return c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x178) return 0xFF;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130) return 'i';
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
        if (c == 0x138 || c == 0x149 || c == 0x131 || c == 0x17F) return c;
        return (c & 1) ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
    if (c == 0x370 || c == 0x372 || c == 0x376 || (c >= 0x3D8 && c <= 0x3EE && !(c & 1))) return c + 1;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

static bool cp_cased(uint32_t c) { return cp_upper(c) != c || cp_lower(c) != c || c == 0xDF; }

static void put_cp(rstate *rs, sbuild *sb, uint32_t c, taint t) {
    char u[4];
    size_t n;
    if (c < 0x80) { u[0] = (char)c; n = 1; }
    else if (c < 0x800) { u[0] = (char)(0xC0 | c >> 6); u[1] = (char)(0x80 | (c & 63)); n = 2; }
    else if (c < 0x10000) { u[0] = (char)(0xE0 | c >> 12); u[1] = (char)(0x80 | (c >> 6 & 63)); u[2] = (char)(0x80 | (c & 63)); n = 3; }
    else { u[0] = (char)(0xF0 | c >> 18); u[1] = (char)(0x80 | (c >> 12 & 63)); u[2] = (char)(0x80 | (c >> 6 & 63)); u[3] = (char)(0x80 | (c & 63)); n = 4; }
    sb_lit(rs, sb, u, n, t);
}

/* mode 0 upper, 1 lower, 2 capitalize (first upper, rest lower), 3 str.title(), 4 Jinja2's
 * title filter. */
tv *str_case(rstate *rs, tv *s, int mode) {
    sbuild sb = {0};
    const unsigned char *p = (const unsigned char *)s->u.str.s;
    size_t n = s->u.str.n, k = 0;
    bool word = false, first = true;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t len = val_utf8_next(p + i, n - i, &c);
        while (k + 1 < s->u.str.nsp && s->u.str.sp[k + 1].off <= i) k++;
        taint t = s->u.str.nsp ? s->u.str.sp[k].t : 0;
        bool up = mode == 0 || (mode == 2 && first) || ((mode == 3 || mode == 4) && !word);
        const char *special = up ? (c == 0xDF ? (mode == 0 ? "SS" : "Ss") : c == 0x149 ? "\xca\xbcN"
                                    : c == 0x390 ? "\xce\x99\xcc\x88\xcc\x81"
                                    : c == 0x3B0 ? "\xce\xa5\xcc\x88\xcc\x81" : NULL)
                                 : c == 0x130 ? "i\xcc\x87" : NULL; /* one-to-many mappings */
        if (special) sb_lit(rs, &sb, special, strlen(special), t);
        else if (c == 0xFFFD && len == 1) sb_lit(rs, &sb, (const char *)p + i, 1, t);
        else put_cp(rs, &sb, up ? cp_upper(c) : cp_lower(c), t);
        /* str.title(): a word is a run of cased letters; Jinja2's |title: anything between
         * whitespace and -({[< */
        word = mode == 4 ? !(py_space(c) || (c < 0x80 && strchr("-({[<", (int)c) && c)) : cp_cased(c);
        first = false;
        i += len;
    }
    return sb_finish(rs, &sb, s->t);
}

FN(m_upper) { return str_case(rs, self, 0); }
FN(m_lower) { return str_case(rs, self, 1); }
FN(m_capitalize) { return str_case(rs, self, 2); }
FN(m_title) { return str_case(rs, self, 3); }

FN(m_join) {
    want_args(rs, at, "join", na, 1, 1);
    tv *items = tv_iterable(rs, at, a[0]);
    sbuild sb = {0};
    taint t = self->t;
    for (size_t i = 0; i < items->u.list.n; i++) {
        tv *it = want_str(rs, at, items->u.list.items[i], "sequence item");
        if (i) sb_add(rs, &sb, self, 0, self->u.str.n);
        sb_add(rs, &sb, it, 0, it->u.str.n);
        t = taint_join(t, it->t);
    }
    return sb_finish(rs, &sb, t);
}

FN(m_find) {
    want_args(rs, at, "find", na, 1, 3);
    want_str(rs, at, a[0], "find arg");
    int64_t off;
    tv *sub = sub_range(rs, at, self, a, na, &off);
    const char *hit = sub ? memmem(sub->u.str.s, sub->u.str.n, a[0]->u.str.s, a[0]->u.str.n) : NULL;
    return tv_int(rs, hit ? off + (int64_t)utf8_len(sub->u.str.s, (size_t)(hit - sub->u.str.s)) : -1, self->t);
}

FN(m_count) {
    want_args(rs, at, "count", na, 1, 3);
    want_str(rs, at, a[0], "count arg");
    int64_t k = 0, off;
    tv *sub = sub_range(rs, at, self, a, na, &off);
    if (!sub) return tv_int(rs, 0, self->t);
    size_t n = a[0]->u.str.n, pos = 0;
    if (!n) return tv_int(rs, (int64_t)utf8_len(sub->u.str.s, sub->u.str.n) + 1, sub->t);
    const char *hit;
    while ((hit = memmem(sub->u.str.s + pos, sub->u.str.n - pos, a[0]->u.str.s, n))) {
        k++;
        pos = (size_t)(hit - sub->u.str.s) + n;
    }
    return tv_int(rs, k, sub->t);
}

/* str.format with {} / {0} / {name} fields (no format specs). */
FN(m_format) {
    sbuild sb = {0};
    const char *s = self->u.str.s;
    size_t n = self->u.str.n, auto_i = 0;
    taint t = self->t;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] == '{' || s[i] == '}') && i + 1 < n && s[i + 1] == s[i]) {
            sb_add(rs, &sb, self, i, i + 1);
            i++;
            continue;
        }
        if (s[i] != '{') { sb_add(rs, &sb, self, i, i + 1); continue; }
        const char *close = memchr(s + i, '}', n - i);
        if (!close) rs_fail(rs, at, NT_EINVAL, "Single '{' encountered in format string");
        size_t fl = (size_t)(close - s) - i - 1;
        const char *f = s + i + 1;
        tv *v = NULL;
        if (!fl) {
            if (auto_i >= na) rs_fail(rs, at, NT_EINVAL, "Replacement index %zu out of range for positional args tuple", auto_i);
            v = a[auto_i++];
        } else if (isdigit((unsigned char)f[0])) {
            size_t idx = strtoul(f, NULL, 10);
            if (idx >= na) rs_fail(rs, at, NT_EINVAL, "Replacement index %zu out of range for positional args tuple", idx);
            v = a[idx];
        } else {
            for (size_t k = 0; k < nkw; k++)
                if (strlen(kwn[k]) == fl && !memcmp(kwn[k], f, fl)) v = kwv[k];
            if (!v) rs_fail(rs, at, NT_EINVAL, "format key '%.*s' not given", (int)fl, f);
        }
        tv *str = tv_to_str(rs, at, v);
        sb_add(rs, &sb, str, 0, str->u.str.n);
        t = taint_join(t, v->t);
        i = (size_t)(close - s);
    }
    return sb_finish(rs, &sb, t);
}

static tv *dict_list(rstate *rs, tv *d, int what) {
    tv *l = tv_list(rs, d->u.dict.n);
    l->t = d->t;
    for (size_t i = 0; i < d->u.dict.n; i++) {
        tkv *e = &d->u.dict.e[i];
        if (what == 0) {
            l->u.list.items[i] = e->k;
        } else if (what == 1) {
            l->u.list.items[i] = e->v;
        } else {
            tv *p = tv_list(rs, 2);
            p->tup = true;
            p->u.list.items[0] = e->k;
            p->u.list.items[1] = e->v;
            p->t = taint_join(e->k->t, e->v->t);
            l->u.list.items[i] = p;
        }
    }
    return l;
}

FN(m_items) { want_args(rs, at, "items", na, 0, 0); return dict_list(rs, self, 2); }
FN(m_keys) { want_args(rs, at, "keys", na, 0, 0); return dict_list(rs, self, 0); }
FN(m_values) { want_args(rs, at, "values", na, 0, 0); return dict_list(rs, self, 1); }

FN(m_get) {
    want_args(rs, at, "get", na, 1, 2);
    tv *v = tv_dict_getv(self, a[0]);
    if (v) return eval_getitem(rs, at, self, a[0]);
    const char *key = a[0]->kind == TV_STR ? a[0]->u.str.s : NULL;
    return tv_inherit(rs, na > 1 ? a[1] : tv_none(rs, 0), self, key);
}

FN(m_cycle) {
    if (!na) rs_fail(rs, at, NT_EINVAL, "no items for cycling given");
    return a[self->u.loop->i % na];
}

typedef struct {
    const char *name;
    tfunc fn;
} method;

static const method STR_METHODS[] = {
    {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"split", m_split},
    {"startswith", m_startswith}, {"endswith", m_endswith}, {"replace", m_replace},
    {"upper", m_upper}, {"lower", m_lower}, {"title", m_title}, {"capitalize", m_capitalize},
    {"join", m_join}, {"find", m_find}, {"count", m_count}, {"format", m_format},
};
static const method DICT_METHODS[] = {
    {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"get", m_get},
};

static tv *bound(rstate *rs, tv *self, const method *m) {
    tv *f = tv_new(rs, TV_FUNC);
    f->u.func.fn = m->fn;
    f->u.func.self = self;
    f->u.func.name = m->name;
    f->t = self->t;
    return f;
}

/* What the immutable sandbox refuses: methods that would modify a list or dict. */
static tv *unsafe_attr(rstate *rs, tv *obj, const char *name, size_t n) {
    static const char *const list_m[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
    static const char *const dict_m[] = {"pop", "popitem", "setdefault", "update", "clear"};
    const char *const *tab = obj->kind == TV_LIST ? list_m : dict_m;
    size_t cnt = obj->kind == TV_LIST ? 8 : 5;
    for (size_t i = 0; i < cnt; i++)
        if (strlen(tab[i]) == n && !memcmp(tab[i], name, n)) {
            char *hint = rs_alloc(rs, 96);
            snprintf(hint, 96, "access to attribute '%s' of '%s' object is unsafe.", tab[i],
                     obj->kind == TV_LIST ? "list" : "dict");
            return tv_undef_hint(rs, hint);
        }
    return NULL;
}

tv *method_lookup(rstate *rs, tv *obj, const char *name, size_t n) {
    if ((obj->kind == TV_LIST && !obj->tup) || obj->kind == TV_DICT) {
        tv *u = unsafe_attr(rs, obj, name, n);
        if (u) return u;
    }
    /* dicts have four methods: reject other names (most lookups are message keys) cheaply */
    if (obj->kind == TV_DICT && !((n == 3 && name[0] == 'g') || (n == 4 && name[0] == 'k') ||
                                  (n == 5 && name[0] == 'i') || (n == 6 && name[0] == 'v')))
        return NULL;
    const method *tab = NULL;
    size_t cnt = 0;
    if (obj->kind == TV_STR) { tab = STR_METHODS; cnt = sizeof STR_METHODS / sizeof *STR_METHODS; }
    else if (obj->kind == TV_DICT) { tab = DICT_METHODS; cnt = sizeof DICT_METHODS / sizeof *DICT_METHODS; }
    else if (obj->kind == TV_LOOP && n == 5 && !memcmp(name, "cycle", 5)) {
        static const method cyc = {"cycle", m_cycle};
        return bound(rs, obj, &cyc);
    }
    for (size_t i = 0; i < cnt; i++)
        if (strlen(tab[i].name) == n && !memcmp(tab[i].name, name, n)) return bound(rs, obj, &tab[i]);
    return NULL;
}

/* ---- globals ---- */

FN(g_raise) {
    (void)self;
    tv *m = na ? tv_to_str(rs, at, a[0]) : tv_lit(rs, "");
    rs_fail(rs, at, NT_ERAISE, "%.*s", (int)(m->u.str.n > 1000 ? 1000 : m->u.str.n), m->u.str.s);
}

FN(g_range) {
    (void)self;
    want_args(rs, at, "range", na, 1, 3);
    int64_t v[3] = {0, 0, 1};
    for (size_t i = 0; i < na; i++) {
        if (a[i]->kind != TV_INT && a[i]->kind != TV_BOOL)
            rs_fail(rs, at, NT_EINVAL, "'%s' object cannot be interpreted as an integer", tv_type_name(a[i]));
        v[na == 1 ? 1 : i] = a[i]->kind == TV_INT ? a[i]->u.i : a[i]->u.b;
    }
    if (!v[2]) rs_fail(rs, at, NT_EINVAL, "range() arg 3 must not be zero");
    double cnt = v[2] > 0 ? ((double)v[1] - v[0]) / v[2] : ((double)v[0] - v[1]) / -v[2];
    if (cnt > (double)rs->max_steps) rs_fail(rs, at, NT_ELIMIT, "range() too large");
    tvec out = {0};
    for (int64_t x = v[0]; v[2] > 0 ? x < v[1] : x > v[1]; x += v[2]) tvec_push(rs, &out, tv_int(rs, x, 0));
    return list_from(rs, out.v, out.n, 0);
}

FN(g_namespace) {
    (void)self;
    tv *ns = tv_dict(rs, nkw + 4);
    ns->kind = TV_NS;
    for (size_t i = 0; i < na; i++) {
        if (a[i]->kind != TV_DICT) rs_fail(rs, at, NT_EINVAL, "namespace() takes keyword arguments or a dict");
        for (size_t k = 0; k < a[i]->u.dict.n; k++) tv_dict_put(rs, ns, a[i]->u.dict.e[k].k, a[i]->u.dict.e[k].v);
    }
    for (size_t k = 0; k < nkw; k++) tv_dict_put(rs, ns, tv_lit(rs, kwn[k]), kwv[k]);
    return ns;
}

FN(g_dict) {
    (void)self;
    tv *d = tv_dict(rs, nkw + 4);
    for (size_t i = 0; i < na; i++)
        if (a[i]->kind == TV_DICT)
            for (size_t k = 0; k < a[i]->u.dict.n; k++) tv_dict_put(rs, d, a[i]->u.dict.e[k].k, a[i]->u.dict.e[k].v);
    for (size_t k = 0; k < nkw; k++) tv_dict_put(rs, d, tv_lit(rs, kwn[k]), kwv[k]);
    return d;
}

static bool parse_now(const char *s, struct tm *tm) {
    memset(tm, 0, sizeof *tm);
    int Y, M, D, h = 0, m = 0, sec = 0;
    if (sscanf(s, "%d-%d-%dT%d:%d:%d", &Y, &M, &D, &h, &m, &sec) < 3) return false;
    tm->tm_year = Y - 1900;
    tm->tm_mon = M - 1;
    tm->tm_mday = D;
    tm->tm_hour = h;
    tm->tm_min = m;
    tm->tm_sec = sec;
    timegm(tm); /* fills in weekday and day of year */
    return true;
}

FN(g_strftime) {
    (void)self;
    want_args(rs, at, "strftime_now", na, 1, 1);
    want_str(rs, at, a[0], "format");
    struct tm tm;
    if (!rs->now || !parse_now(rs->now, &tm)) {
        time_t now = time(NULL);
        localtime_r(&now, &tm);
    }
    char buf[512];
    size_t n = strftime(buf, sizeof buf, a[0]->u.str.s, &tm);
    return tv_strn(rs, buf, n, 0);
}

tv *global_lookup(rstate *rs, const char *name) {
    static const method G[] = {
        {"raise_exception", g_raise}, {"range", g_range}, {"namespace", g_namespace},
        {"dict", g_dict}, {"strftime_now", g_strftime},
    };
    for (size_t i = 0; i < sizeof G / sizeof *G; i++)
        if (!strcmp(G[i].name, name)) {
            tv *f = tv_new(rs, TV_FUNC);
            f->u.func.fn = G[i].fn;
            f->u.func.name = G[i].name;
            return f;
        }
    return NULL;
}
