/* Jinja2's built-in filters and tests (the ones chat templates use), with transformers'
 * tojson. Names and argument conventions follow jinja2/filters.py and jinja2/tests.py. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/json.h"
#include "template/tmpl_int.h"

typedef struct {
    rstate *rs;
    const node *at;
    tv *v;
    tv **a;
    size_t na;
    const char **kwn;
    tv **kwv;
    size_t nkw;
} fargs;

/* Positional argument i, or keyword `name`, or NULL. */
static tv *arg(const fargs *F, size_t i, const char *name) {
    if (i < F->na) return F->a[i];
    for (size_t k = 0; k < F->nkw; k++)
        if (name && !strcmp(F->kwn[k], name)) return F->kwv[k];
    return NULL;
}

static bool arg_bool(const fargs *F, size_t i, const char *name, bool dflt) {
    tv *x = arg(F, i, name);
    return x ? tv_truthy(x) : dflt;
}

static tv *str_of(const fargs *F, tv *v) { return tv_to_str(F->rs, F->at, v); }

static tv *lst(rstate *rs, size_t n, taint t) {
    tv *l = tv_list(rs, n);
    l->u.list.n = 0;
    l->t = t;
    return l;
}

/* ---- attribute paths ("a.b", "0") for sort/map/selectattr/... ---- */
static bool digits_only(const char *s, size_t n) {
    if (!n || n > 18) return false; /* 18 digits always fit a long */
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* Like Jinja's attribute getter: a string is split on dots and an all-digit part is an
 * index; none is the item itself; any other value (an int, a list ...) is one key. */
static tv *attr_path(rstate *rs, const node *at, tv *item, tv *path) {
    if (path->kind == TV_NONE) return item;
    if (path->kind != TV_STR) return eval_getitem(rs, at, item, path);
    const char *s = path->u.str.s;
    size_t n = path->u.str.n;
    for (size_t i = 0; i <= n;) {
        const char *dot = memchr(s + i, '.', n - i);
        size_t e = dot ? (size_t)(dot - s) : n;
        tv *key;
        if (digits_only(s + i, e - i)) key = tv_int(rs, strtol(s + i, NULL, 10), 0);
        else key = tv_strn(rs, s + i, e - i, 0);
        item = eval_getitem(rs, at, item, key);
        i = e + 1;
        if (!dot) break;
    }
    return item;
}

/* ---- sorting ---- */
typedef struct {
    rstate *rs;
    const node *at;
    bool case_sensitive;
} sortctx;

static tv *sort_key(rstate *rs, tv *v, bool cs) {
    if (cs || v->kind != TV_STR) return v;
    return str_case(rs, v, 1);
}

static void merge_sort(sortctx *c, tv **k, tv **v, tv **tk, tv **tvv, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(c, k, v, tk, tvv, h);
    merge_sort(c, k + h, v + h, tk, tvv, n - h);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n) {
        if (tv_cmp(c->rs, c->at, k[j], k[i]) < 0) { tk[o] = k[j]; tvv[o++] = v[j++]; }
        else { tk[o] = k[i]; tvv[o++] = v[i++]; }
    }
    while (i < h) { tk[o] = k[i]; tvv[o++] = v[i++]; }
    while (j < n) { tk[o] = k[j]; tvv[o++] = v[j++]; }
    memcpy(k, tk, n * sizeof *k);
    memcpy(v, tvv, n * sizeof *v);
}

/* sort's attribute "a,b.c" names several keys, compared in turn as a list (Jinja's multi
 * attribute getter; the parts are not trimmed). Returns the parts, or NULL for one key. */
static tv *attr_parts(rstate *rs, tv *attr) {
    if (!attr || attr->kind != TV_STR || !memchr(attr->u.str.s, ',', attr->u.str.n)) return NULL;
    const char *s = attr->u.str.s;
    size_t n = attr->u.str.n, np = 1;
    for (size_t i = 0; i < n; i++) np += s[i] == ',';
    tv *parts = lst(rs, np, 0);
    for (size_t i = 0; i <= n;) {
        const char *c = memchr(s + i, ',', n - i);
        size_t e = c ? (size_t)(c - s) : n;
        parts->u.list.items[parts->u.list.n++] = tv_strn(rs, s + i, e - i, 0);
        i = e + 1;
    }
    return parts;
}

static tv *item_key(rstate *rs, const node *at, tv *item, tv *attr, tv *parts, bool cs) {
    if (!parts) return sort_key(rs, attr ? attr_path(rs, at, item, attr) : item, cs);
    tv *k = lst(rs, parts->u.list.n, 0);
    for (size_t j = 0; j < parts->u.list.n; j++)
        k->u.list.items[k->u.list.n++] = sort_key(rs, attr_path(rs, at, item, parts->u.list.items[j]), cs);
    return k;
}

/* Stable sort of items by key(item) (attribute path or paths, case folding), optionally
 * reversed. multi: the attribute may list several paths (sort does, dictsort does not). */
static tv *sorted(rstate *rs, const node *at, tv *items, tv *attr, bool multi, bool cs, bool rev) {
    size_t n = items->u.list.n;
    tv **k = rs_alloc(rs, (n + 1) * sizeof *k), **v = rs_alloc(rs, (n + 1) * sizeof *v);
    tv **t1 = rs_alloc(rs, (n + 1) * sizeof *k), **t2 = rs_alloc(rs, (n + 1) * sizeof *v);
    tv *parts = multi ? attr_parts(rs, attr) : NULL;
    for (size_t i = 0; i < n; i++) {
        v[i] = items->u.list.items[rev ? n - 1 - i : i];
        k[i] = item_key(rs, at, v[i], attr, parts, cs);
    }
    sortctx c = {rs, at, cs};
    merge_sort(&c, k, v, t1, t2, n);
    tv *out = lst(rs, n, items->t);
    for (size_t i = 0; i < n; i++) out->u.list.items[i] = v[rev ? n - 1 - i : i];
    out->u.list.n = n;
    return out;
}

/* ---- individual filters ---- */

static tv *f_tojson(const fargs *F) {
    tv *ind = arg(F, 1, "indent"); /* transformers: tojson(x, ensure_ascii, indent, separators, sort_keys) */
    tv *ea = arg(F, 0, "ensure_ascii");
    tv *sk = arg(F, 3, "sort_keys");
    tv *seps = arg(F, 2, "separators");
    json_opts o = JSON_OPTS_PY;
    if (ind && ind->kind == TV_INT) o.indent = (int)(ind->u.i < 0 ? 0 : ind->u.i > 64 ? 64 : ind->u.i);
    if (ea) o.ensure_ascii = tv_truthy(ea);
    if (sk) o.sort_keys = tv_truthy(sk);
    if (seps && seps->kind == TV_LIST && seps->u.list.n == 2 &&
        seps->u.list.items[0]->kind == TV_STR && seps->u.list.items[1]->kind == TV_STR) {
        o.item_sep = seps->u.list.items[0]->u.str.s;
        o.key_sep = seps->u.list.items[1]->u.str.s;
    }
    if (F->v->kind == TV_UNDEF) rs_fail(F->rs, F->at, NT_EINVAL, "Object of type Undefined is not JSON serializable");
    size_t n;
    char *s;
    if (F->v->orig) { /* conversation data as given: no conversion needed */
        s = json_dumps(F->v->orig, &o, &n);
    } else {
        val *x = tv_to_val(F->rs, F->at, F->v, 0);
        s = json_dumps(x, &o, &n);
        val_unref(x);
    }
    char *p = n + 1 <= F->rs->max_output ? tmpl_arena_alloc(&F->rs->arena, n + 1) : NULL;
    if (p) memcpy(p, s, n + 1);
    free(s); /* before failing: rs_fail does not return */
    if (!p) rs_fail(F->rs, F->at, NT_ELIMIT, "tojson output exceeds the render limits");
    tv *r = tv_new(F->rs, TV_STR);
    r->u.str.s = p;
    r->u.str.n = n;
    r->t = F->v->t;
    if (r->t) {
        tspan *sp = rs_alloc(F->rs, sizeof *sp);
        *sp = (tspan){0, r->t};
        r->u.str.sp = sp;
        r->u.str.nsp = 1;
    }
    return r; /* transformers' tojson returns a plain str */
}

static tv *f_join(const fargs *F) {
    tv *sep = arg(F, 0, "d");
    tv *attr = arg(F, 1, "attribute");
    tv *items = tv_iterable(F->rs, F->at, F->v);
    sep = sep ? str_of(F, sep) : tv_lit(F->rs, "");
    sbuild sb = {0};
    taint t = F->v->t;
    for (size_t i = 0; i < items->u.list.n; i++) {
        tv *it = items->u.list.items[i];
        if (attr) it = attr_path(F->rs, F->at, it, attr);
        it = str_of(F, it);
        if (i) sb_add(F->rs, &sb, sep, 0, sep->u.str.n);
        sb_add(F->rs, &sb, it, 0, it->u.str.n);
        t = taint_join(t, it->t);
    }
    return sb_finish(F->rs, &sb, t);
}

static tv *f_default(const fargs *F) {
    tv *d = arg(F, 0, "default_value");
    bool boolean = arg_bool(F, 1, "boolean", false);
    if (F->v->kind == TV_UNDEF || (boolean && !tv_truthy(F->v))) return d ? d : tv_lit(F->rs, "");
    return F->v;
}

static tv *f_first_last(const fargs *F, bool last) {
    tv *items = tv_iterable(F->rs, F->at, F->v);
    if (!items->u.list.n)
        return tv_undef_hint(F->rs, last ? "No last item, sequence was empty." : "No first item, sequence was empty.");
    tv *x = items->u.list.items[last ? items->u.list.n - 1 : 0];
    return x->t ? x : tv_retaint(F->rs, x, F->v->t);
}

/* Python's int(s, base) / float(s) syntax, s already stripped: a sign, digits of the base with
 * single '_' between digits (after a 0x/0o/0b prefix too), for floats '.', an exponent, inf,
 * infinity, nan. Writes the number without '_' and prefix to out (cap bytes); false if s is not
 * one. *base 0 is resolved from the prefix. */
static int digit_of(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

static bool py_num_text(const char *s, size_t n, bool flt, int *base, char *out, size_t cap) {
    size_t i = 0, o = 0;
    if (n + 1 > cap) return false;
    if (i < n && (s[i] == '+' || s[i] == '-')) out[o++] = s[i++];
    if (flt) {
        static const char *const words[] = {"inf", "infinity", "nan"};
        for (int k = 0; k < 3; k++)
            if (n - i == strlen(words[k]) && !strncasecmp(s + i, words[k], n - i)) {
                memcpy(out + o, s + i, n - i);
                out[o + n - i] = 0;
                return true;
            }
    }
    int b = flt ? 10 : *base;
    static const char pre[] = {'x', 16, 'o', 8, 'b', 2};
    bool prefixed = false;
    for (int k = 0; !flt && k < 6 && n - i >= 2 && s[i] == '0'; k += 2)
        if ((s[i + 1] | 0x20) == pre[k] && (b == 0 || b == pre[k + 1])) { b = pre[k + 1]; i += 2; prefixed = true; }
    if (b == 0) { /* no prefix: decimal, and a leading 0 only in 0, 00, 0_0 */
        b = 10;
        for (size_t k = i; k < n && s[i] == '0'; k++)
            if (s[k] != '0' && s[k] != '_') return false;
    }
    if (b < 2 || b > 36) return false;
    *base = b;
    bool digits = false, dot = false, exp = false;
    for (; i < n; i++) {
        char c = s[i];
        if (digit_of(c) < (exp ? 10 : b)) { out[o++] = c; digits = true; continue; }
        bool after = i > 0 && (digit_of(s[i - 1]) < b || (prefixed && i >= 2 && s[i - 2] == '0' && !digits));
        if (c == '_' && after && i + 1 < n && digit_of(s[i + 1]) < b) continue;
        if (!flt) return false;
        if (c == '.' && !dot && !exp) { dot = true; out[o++] = c; continue; }
        if ((c == 'e' || c == 'E') && digits && !exp) {
            exp = true;
            digits = false;
            out[o++] = c;
            if (i + 1 < n && (s[i + 1] == '+' || s[i + 1] == '-')) out[o++] = s[++i];
            continue;
        }
        return false;
    }
    out[o] = 0;
    return digits;
}

/* int(f) for the int filter: NULL for nan (Python's ValueError, the default); infinity is an
 * uncaught OverflowError; past 64 bits newt's documented limit. */
static tv *int_of_double(const fargs *F, double f, taint t) {
    if (isnan(f)) return NULL;
    if (isinf(f)) rs_fail(F->rs, F->at, NT_EINVAL, "cannot convert float infinity to integer");
    if (fabs(f) >= 9.2e18) rs_fail(F->rs, F->at, NT_EUNSUPPORTED, "integer result exceeds 64 bits");
    return tv_int(F->rs, (int64_t)f, t);
}

/* Jinja2's int filter on a string: int(s, base), else int(float(s)), else NULL (default). */
static tv *int_of_str(const fargs *F, tv *v, int base) {
    tv *s = tv_str_strip(F->rs, v, NULL, 0, true, true);
    char buf[128];
    if (py_num_text(s->u.str.s, s->u.str.n, false, &base, buf, sizeof buf)) {
        errno = 0;
        long long x = strtoll(buf, NULL, base);
        if (errno) rs_fail(F->rs, F->at, NT_EUNSUPPORTED, "integer result exceeds 64 bits");
        return tv_int(F->rs, x, v->t);
    }
    if (!py_num_text(s->u.str.s, s->u.str.n, true, &base, buf, sizeof buf)) return NULL;
    return int_of_double(F, strtod(buf, NULL), v->t);
}

static tv *f_int(const fargs *F) {
    tv *v = F->v, *d = arg(F, 0, "default"), *b = arg(F, 1, "base");
    /* int(Undefined) raises UndefinedError, which Jinja2's int/float filters do not catch */
    if (v->kind == TV_UNDEF) rs_undefined_fail(F->rs, F->at, v);
    switch (v->kind) {
    case TV_INT: return v;
    case TV_BOOL: return tv_int(F->rs, v->u.b, v->t);
    case TV_FLOAT: {
        tv *r = int_of_double(F, v->u.f, v->t);
        if (r) return r;
        break;
    }
    case TV_STR: {
        tv *r = int_of_str(F, v, b && b->kind == TV_INT && b->u.i >= 0 && b->u.i <= 36 ? (int)b->u.i : b ? -1 : 10);
        if (r) return r;
        break;
    }
    default: break;
    }
    return d ? d : tv_int(F->rs, 0, 0);
}

static tv *f_float(const fargs *F) {
    tv *v = F->v, *d = arg(F, 0, "default");
    if (v->kind == TV_UNDEF) rs_undefined_fail(F->rs, F->at, v);
    if (v->kind == TV_FLOAT) return v;
    if (v->kind == TV_INT || v->kind == TV_BOOL) return tv_float(F->rs, v->kind == TV_INT ? (double)v->u.i : v->u.b, v->t);
    if (v->kind == TV_STR) {
        tv *s = tv_str_strip(F->rs, v, NULL, 0, true, true);
        char buf[128];
        int base = 10;
        if (py_num_text(s->u.str.s, s->u.str.n, true, &base, buf, sizeof buf))
            return tv_float(F->rs, strtod(buf, NULL), v->t);
    }
    return d ? d : tv_float(F->rs, 0.0, 0);
}

static tv *f_list(const fargs *F) {
    tv *items = tv_iterable(F->rs, F->at, F->v);
    tv *l = lst(F->rs, items->u.list.n, F->v->t);
    if (items->u.list.n) memcpy(l->u.list.items, items->u.list.items, items->u.list.n * sizeof(tv *));
    l->u.list.n = items->u.list.n;
    return l;
}

static tv *f_items(const fargs *F) {
    if (F->v->kind == TV_UNDEF) return lst(F->rs, 0, 0);
    if (F->v->kind != TV_DICT && F->v->kind != TV_NS)
        rs_fail(F->rs, F->at, NT_EINVAL, "Can only get item pairs from a mapping.");
    tv *l = lst(F->rs, F->v->u.dict.n, F->v->t);
    for (size_t i = 0; i < F->v->u.dict.n; i++) {
        tv *p = tv_list(F->rs, 2);
        p->tup = true;
        p->u.list.items[0] = F->v->u.dict.e[i].k;
        p->u.list.items[1] = F->v->u.dict.e[i].v;
        l->u.list.items[l->u.list.n++] = p;
    }
    return l;
}

static tv *f_dictsort(const fargs *F) {
    /* Jinja2 calls value.items(): Undefined fails there (the items filter lets it through) */
    if (F->v->kind == TV_UNDEF) rs_undefined_fail(F->rs, F->at, F->v);
    tv *pairs = f_items(F);
    bool cs = arg_bool(F, 0, "case_sensitive", false);
    tv *by = arg(F, 1, "by");
    bool rev = arg_bool(F, 2, "reverse", false);
    int pos = by && by->kind == TV_STR && !strcmp(by->u.str.s, "value") ? 1 : 0;
    return sorted(F->rs, F->at, pairs, tv_int(F->rs, pos, 0), false, cs, rev);
}

static tv *f_sort(const fargs *F) {
    bool rev = arg_bool(F, 0, "reverse", false);
    bool cs = arg_bool(F, 1, "case_sensitive", false);
    tv *attr = arg(F, 2, "attribute");
    return sorted(F->rs, F->at, tv_iterable(F->rs, F->at, F->v), attr, true, cs, rev);
}

static tv *f_unique(const fargs *F) {
    bool cs = arg_bool(F, 0, "case_sensitive", false);
    tv *attr = arg(F, 1, "attribute");
    tv *items = tv_iterable(F->rs, F->at, F->v);
    tv *out = lst(F->rs, items->u.list.n, items->t);
    tv **keys = rs_alloc(F->rs, (items->u.list.n + 1) * sizeof(tv *));
    for (size_t i = 0; i < items->u.list.n; i++) {
        tv *it = items->u.list.items[i];
        tv *k = sort_key(F->rs, attr ? attr_path(F->rs, F->at, it, attr) : it, cs);
        bool seen = false;
        for (size_t j = 0; j < out->u.list.n && !seen; j++) seen = tv_eq(keys[j], k);
        if (seen) continue;
        keys[out->u.list.n] = k;
        out->u.list.items[out->u.list.n++] = it;
    }
    return out;
}

static tv *f_minmax(const fargs *F, bool max) {
    bool cs = arg_bool(F, 0, "case_sensitive", false);
    tv *attr = arg(F, 1, "attribute");
    tv *items = tv_iterable(F->rs, F->at, F->v);
    if (!items->u.list.n)
        return tv_undef_hint(F->rs, "No aggregated item, sequence was empty.");
    tv *best = items->u.list.items[0];
    tv *bk = sort_key(F->rs, attr ? attr_path(F->rs, F->at, best, attr) : best, cs);
    for (size_t i = 1; i < items->u.list.n; i++) {
        tv *it = items->u.list.items[i];
        tv *k = sort_key(F->rs, attr ? attr_path(F->rs, F->at, it, attr) : it, cs);
        int c = tv_cmp(F->rs, F->at, k, bk);
        if (max ? c > 0 : c < 0) { best = it; bk = k; }
    }
    return best;
}

static tv *f_sum(const fargs *F) {
    tv *attr = arg(F, 0, "attribute");
    tv *acc = arg(F, 1, "start");
    acc = acc ? acc : tv_int(F->rs, 0, 0);
    tv *items = tv_iterable(F->rs, F->at, F->v);
    for (size_t i = 0; i < items->u.list.n; i++) {
        tv *it = items->u.list.items[i];
        acc = binop(F->rs, F->at, OP_ADD, acc, attr ? attr_path(F->rs, F->at, it, attr) : it);
    }
    return acc;
}

/* Python's round(int, ndigits): an int, exact, ties to even (round(25, -1) is 20). */
static int64_t round_int(const fargs *F, int64_t x, int prec) {
    if (prec >= 0) return x;
    if (prec < -18) return 0;
    int64_t m = 1, out;
    for (int k = 0; k < -prec; k++) m *= 10;
    int64_t q = x / m, r = x % m;
    if (r < 0) { q--; r += m; } /* floor division */
    if (r > m - r || (r == m - r && (q & 1))) q++;
    if (__builtin_mul_overflow(q, m, &out))
        rs_fail(F->rs, F->at, NT_EUNSUPPORTED, "integer result exceeds 64 bits");
    return out;
}

static tv *f_round(const fargs *F) {
    tv *p = arg(F, 0, "precision");
    tv *m = arg(F, 1, "method");
    int prec = p && p->kind == TV_INT ? (int)p->u.i : 0;
    if (prec > 300) prec = 300;
    if (prec < -300) prec = -300;
    if (F->v->kind != TV_INT && F->v->kind != TV_FLOAT && F->v->kind != TV_BOOL)
        rs_fail(F->rs, F->at, NT_EINVAL, "type %s doesn't define __round__ method", tv_type_name(F->v));
    double x = F->v->kind == TV_FLOAT ? F->v->u.f : F->v->kind == TV_INT ? (double)F->v->u.i : F->v->u.b;
    const char *meth = m && m->kind == TV_STR ? m->u.str.s : "common";
    if ((F->v->kind == TV_INT || F->v->kind == TV_BOOL) && !strcmp(meth, "common"))
        return tv_int(F->rs, round_int(F, F->v->kind == TV_INT ? F->v->u.i : F->v->u.b, prec), F->v->t);
    double scale = pow(10.0, prec);
    if (!strcmp(meth, "floor")) return tv_float(F->rs, (floor(x * scale) + 0.0) / scale, F->v->t);
    /* Jinja2 divides math.ceil's int result: a zero is +0.0 even for a negative input */
    if (!strcmp(meth, "ceil")) return tv_float(F->rs, (ceil(x * scale) + 0.0) / scale, F->v->t);
    if (strcmp(meth, "common")) rs_fail(F->rs, F->at, NT_EINVAL, "method must be common, ceil or floor");
    if (prec >= 0 && isfinite(x)) { /* Python round(): correctly rounded, ties to even */
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", prec, x);
        return tv_float(F->rs, strtod(buf, NULL), F->v->t);
    }
    return tv_float(F->rs, isfinite(x) ? nearbyint(x * scale) / scale : x, F->v->t);
}

static tv *f_abs(const fargs *F) {
    tv *v = F->v;
    if (v->kind == TV_INT) {
        if (v->u.i == INT64_MIN) rs_fail(F->rs, F->at, NT_EUNSUPPORTED, "integer result exceeds 64 bits");
        return tv_int(F->rs, v->u.i < 0 ? -v->u.i : v->u.i, v->t);
    }
    if (v->kind == TV_BOOL) return tv_int(F->rs, v->u.b, v->t);
    if (v->kind == TV_FLOAT) return tv_float(F->rs, fabs(v->u.f), v->t);
    rs_fail(F->rs, F->at, NT_EINVAL, "bad operand type for abs(): '%s'", tv_type_name(v));
}

/* Jinja2's indent: lines after the first get the prefix (blank lines only with blank=True). */
/* Length of a str.splitlines() line break at s[i] (\n \r \r\n \v \f \x1c-\x1e U+0085 U+2028
 * U+2029), 0 if none. */
static size_t line_break_len(const char *s, size_t n, size_t i) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r') return i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
    if (c == '\n' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) return 1;
    if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0x85) return 2;
    if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))
        return 3;
    return 0;
}

static tv *f_indent(const fargs *F) {
    tv *w = arg(F, 0, "width");
    bool first = arg_bool(F, 1, "first", false), blank = arg_bool(F, 2, "blank", false);
    tv *ind = w && w->kind == TV_STR ? w : NULL;
    if (!ind) {
        int64_t n = w && w->kind == TV_INT ? w->u.i : 4;
        if (n < 0) n = 0;
        if (n > 1024) n = 1024;
        char sp[1025];
        memset(sp, ' ', (size_t)n);
        ind = tv_strn(F->rs, sp, (size_t)n, 0);
    }
    tv *v = F->v;
    /* Jinja2 first does `s += "\n"`: only strings get through */
    if (v->kind == TV_UNDEF) rs_undefined_fail(F->rs, F->at, v);
    if (v->kind == TV_LIST) rs_fail(F->rs, F->at, NT_EINVAL, "'list' object has no attribute 'splitlines'");
    if (v->kind != TV_STR)
        rs_fail(F->rs, F->at, NT_EINVAL, "unsupported operand type(s) for +=: '%s' and 'str'", tv_type_name(v));
    /* the lines of s + "\n" by str.splitlines, joined by "\n" (+ the indentation) */
    tv *s = tv_concat(F->rs, v, tv_lit(F->rs, "\n"));
    sbuild sb = {0};
    size_t i = 0, n = s->u.str.n, line = 0;
    if (first) sb_add(F->rs, &sb, ind, 0, ind->u.str.n);
    while (i < n) {
        size_t e = i, bl = 0;
        while (e < n && !(bl = line_break_len(s->u.str.s, n, e))) e++;
        if (line > 0) {
            if (s->u.str.s[i - 1] == '\n') sb_add(F->rs, &sb, s, i - 1, i); /* keeps its provenance */
            else sb_lit(F->rs, &sb, "\n", 1, 0);
            if (blank || e > i) sb_add(F->rs, &sb, ind, 0, ind->u.str.n);
        }
        sb_add(F->rs, &sb, s, i, e);
        i = e + bl;
        line++;
    }
    return sb_finish(F->rs, &sb, s->t);
}

static tv *f_title(const fargs *F) { return str_case(F->rs, str_of(F, F->v), 4); }

static tv *f_batch(const fargs *F) {
    tv *cnt = arg(F, 0, "linecount"), *fill = arg(F, 1, "fill_with");
    if (!cnt || cnt->kind != TV_INT || cnt->u.i <= 0) rs_fail(F->rs, F->at, NT_EINVAL, "batch size must be a positive integer");
    size_t k = (size_t)cnt->u.i;
    tv *items = tv_iterable(F->rs, F->at, F->v);
    size_t n = items->u.list.n, nb = (n + k - 1) / k;
    tv *out = lst(F->rs, nb, items->t);
    for (size_t b = 0; b < nb; b++) {
        size_t m = b + 1 < nb || n % k == 0 ? k : n % k;
        tv *row = lst(F->rs, k, items->t);
        for (size_t j = 0; j < m; j++) row->u.list.items[row->u.list.n++] = items->u.list.items[b * k + j];
        if (fill) while (row->u.list.n < k) row->u.list.items[row->u.list.n++] = fill;
        out->u.list.items[out->u.list.n++] = row;
    }
    return out;
}

/* select/reject/selectattr/rejectattr/map share the test-or-filter dispatch. */
static tv *f_select(const fargs *F, bool want, bool byattr) {
    tv *items = tv_iterable(F->rs, F->at, F->v);
    size_t base = byattr ? 1 : 0;
    tv *attr = byattr ? arg(F, 0, NULL) : NULL;
    if (byattr && !attr) rs_fail(F->rs, F->at, NT_EINVAL, "Missing parameter for attribute name");
    tv *test = F->na > base ? F->a[base] : NULL;
    tv *out = lst(F->rs, items->u.list.n, items->t);
    for (size_t i = 0; i < items->u.list.n; i++) {
        tv *it = items->u.list.items[i];
        tv *x = attr ? attr_path(F->rs, F->at, it, attr) : it;
        bool ok;
        if (!test) ok = tv_truthy(x);
        else {
            if (test->kind != TV_STR) rs_fail(F->rs, F->at, NT_EINVAL, "test name must be a string");
            ok = apply_test(F->rs, F->at, test->u.str.s, x, F->a + base + 1, F->na - base - 1);
        }
        if (ok == want) out->u.list.items[out->u.list.n++] = it;
    }
    return out;
}

static tv *f_map(const fargs *F) {
    tv *items = tv_iterable(F->rs, F->at, F->v);
    tv *out = lst(F->rs, items->u.list.n, items->t);
    tv *attr = arg(F, F->na, "attribute"), *dflt = arg(F, F->na, "default");
    for (size_t i = 0; i < items->u.list.n; i++) {
        tv *it = items->u.list.items[i], *r;
        if (attr) {
            r = attr_path(F->rs, F->at, it, attr);
            if (r->kind == TV_UNDEF && dflt) r = dflt;
        } else {
            if (!F->na || F->a[0]->kind != TV_STR) rs_fail(F->rs, F->at, NT_EINVAL, "map requires a filter argument");
            r = apply_filter(F->rs, F->at, F->a[0]->u.str.s, it, F->a + 1, F->na - 1, NULL, NULL, 0);
        }
        out->u.list.items[out->u.list.n++] = r;
    }
    return out;
}

static tv *f_replace(const fargs *F) {
    tv *old = arg(F, 0, "old"), *new = arg(F, 1, "new"), *cnt = arg(F, 2, "count");
    if (!old || !new) rs_fail(F->rs, F->at, NT_EINVAL, "replace needs old and new");
    return str_replace(F->rs, F->at, str_of(F, F->v), str_of(F, old), str_of(F, new),
                       cnt && cnt->kind == TV_INT ? cnt->u.i : -1);
}

static tv *f_reverse(const fargs *F) {
    if (F->v->kind == TV_STR) {
        tv *chars = tv_iterable(F->rs, F->at, F->v);
        sbuild sb = {0};
        for (size_t i = chars->u.list.n; i-- > 0;) sb_add(F->rs, &sb, chars->u.list.items[i], 0, chars->u.list.items[i]->u.str.n);
        return sb_finish(F->rs, &sb, F->v->t);
    }
    tv *items = tv_iterable(F->rs, F->at, F->v);
    tv *out = lst(F->rs, items->u.list.n, items->t);
    for (size_t i = items->u.list.n; i-- > 0;) out->u.list.items[out->u.list.n++] = items->u.list.items[i];
    return out;
}

static tv *f_center(const fargs *F) {
    tv *w = arg(F, 0, "width");
    tv *s = str_of(F, F->v);
    int64_t width = w && w->kind == TV_INT ? w->u.i : 80, len = (int64_t)utf8_len(s->u.str.s, s->u.str.n);
    if (width <= len) return s;
    if (width > 100000) width = 100000;
    int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
    sbuild sb = {0};
    for (int64_t i = 0; i < left; i++) sb_lit(F->rs, &sb, " ", 1, 0);
    sb_add(F->rs, &sb, s, 0, s->u.str.n);
    for (int64_t i = 0; i < pad - left; i++) sb_lit(F->rs, &sb, " ", 1, 0);
    return sb_finish(F->rs, &sb, s->t);
}

static tv *f_trim(const fargs *F) {
    tv *c = arg(F, 0, "chars");
    tv *s = str_of(F, F->v);
    return c && c->kind == TV_STR ? tv_str_strip(F->rs, s, c->u.str.s, c->u.str.n, true, true)
                                  : tv_str_strip(F->rs, s, NULL, 0, true, true);
}
static tv *f_length(const fargs *F) { return tv_int(F->rs, tv_len(F->rs, F->at, F->v), F->v->t); }
static tv *f_first(const fargs *F) { return f_first_last(F, false); }
static tv *f_last(const fargs *F) { return f_first_last(F, true); }
static tv *f_upper(const fargs *F) { return str_case(F->rs, str_of(F, F->v), 0); }
static tv *f_lower(const fargs *F) { return str_case(F->rs, str_of(F, F->v), 1); }
static tv *f_capitalize(const fargs *F) { return str_case(F->rs, str_of(F, F->v), 2); }
static tv *f_string(const fargs *F) { return str_of(F, F->v); }
static tv *f_safe(const fargs *F) {
    /* Markup(value): any value becomes its str() (a list too, so `[] | safe` is truthy) */
    tv *s = str_of(F, F->v);
    if (s->safe) return s;
    tv *m = tv_new(F->rs, TV_STR);
    *m = *s;
    m->safe = true;
    return m;
}
static tv *f_sel(const fargs *F) { return f_select(F, true, false); }
static tv *f_rej(const fargs *F) { return f_select(F, false, false); }
static tv *f_selattr(const fargs *F) { return f_select(F, true, true); }
static tv *f_rejattr(const fargs *F) { return f_select(F, false, true); }
static tv *f_min(const fargs *F) { return f_minmax(F, false); }
static tv *f_max(const fargs *F) { return f_minmax(F, true); }
static tv *f_attr(const fargs *F) {
    tv *a = arg(F, 0, "name");
    if (!a || a->kind != TV_STR) rs_fail(F->rs, F->at, NT_EINVAL, "attr needs a name");
    if (F->v->kind == TV_DICT) { /* attributes only: a dict's keys are not attributes */
        tv *m = method_lookup(F->rs, F->v, a->u.str.s, a->u.str.n);
        return m ? m : tv_undef(F->rs, a->u.str.s, F->v, F->v->t);
    }
    return eval_getattr(F->rs, F->at, F->v, a->u.str.s, a->u.str.n);
}

typedef struct {
    const char *name;
    tv *(*fn)(const fargs *F);
    bool gen; /* Jinja2's filter returns a generator or iterator (when it gives a list here) */
} filter_def;

static const filter_def FILTERS[] = {
    {"tojson", f_tojson, false}, {"trim", f_trim, false}, {"length", f_length, false},
    {"count", f_length, false}, {"first", f_first, false}, {"last", f_last, false},
    {"join", f_join, false}, {"default", f_default, false}, {"d", f_default, false},
    {"upper", f_upper, false}, {"lower", f_lower, false}, {"capitalize", f_capitalize, false},
    {"title", f_title, false}, {"replace", f_replace, false}, {"string", f_string, false},
    {"safe", f_safe, false}, {"int", f_int, false}, {"float", f_float, false},
    {"list", f_list, false}, {"items", f_items, true}, {"dictsort", f_dictsort, false},
    {"map", f_map, true}, {"select", f_sel, true}, {"reject", f_rej, true},
    {"selectattr", f_selattr, true}, {"rejectattr", f_rejattr, true}, {"unique", f_unique, true},
    {"indent", f_indent, false}, {"abs", f_abs, false}, {"round", f_round, false},
    {"batch", f_batch, true}, {"sum", f_sum, false}, {"min", f_min, false}, {"max", f_max, false},
    {"sort", f_sort, false}, {"reverse", f_reverse, true}, {"center", f_center, false},
    {"attr", f_attr, false},
};

int tmpl_filter_id(const char *name) {
    for (size_t i = 0; i < sizeof FILTERS / sizeof *FILTERS; i++)
        if (!strcmp(FILTERS[i].name, name)) return (int)i;
    return -1;
}

tv *apply_filter_id(rstate *rs, const node *at, int id, const char *name, tv *v, tv **args,
                    size_t nargs, const char **kwn, tv **kwv, size_t nkw) {
    fargs F = {rs, at, v, args, nargs, kwn, kwv, nkw};
    rs_step(rs, at);
    if (id >= 0 && (size_t)id < sizeof FILTERS / sizeof *FILTERS) {
        tv *r = FILTERS[id].fn(&F);
        if (!FILTERS[id].gen || r->kind != TV_LIST) return r;
        tv *g = tv_new(rs, TV_LIST);
        *g = *r;
        g->gen = true;
        return g;
    }
    if (!strcmp(name, "e") || !strcmp(name, "escape") || !strcmp(name, "forceescape"))
        rs_fail(rs, at, NT_EUNSUPPORTED, "filter '%s' is not supported", name);
    rs_fail(rs, at, NT_EINVAL, "No filter named '%s'.", name);
}

tv *apply_filter(rstate *rs, const node *at, const char *name, tv *v, tv **args, size_t nargs,
                 const char **kwn, tv **kwv, size_t nkw) {
    return apply_filter_id(rs, at, tmpl_filter_id(name), name, v, args, nargs, kwn, kwv, nkw);
}

/* ---- tests ---- */

static bool number_kind(const tv *v) { return v->kind == TV_INT || v->kind == TV_FLOAT || v->kind == TV_BOOL; }

/* Tests of a value's type choose between renderings of the same field, not whether text is
 * written for it: their result counts as the message's structure (see docs/templates.md). */
bool tmpl_test_is_shape(const char *name) {
    static const char *const shape[] = {"string", "mapping", "iterable", "sequence", "number",
                                        "integer", "float", "boolean", "callable"};
    for (size_t i = 0; i < sizeof shape / sizeof *shape; i++)
        if (!strcmp(name, shape[i])) return true;
    return false;
}

/* The tests chat templates use on every message get ids (no string compares per call). */
enum { T_DEFINED, T_UNDEFINED, T_NONE, T_STRING, T_MAPPING, T_NUMBER, T_FALSE, T_TRUE, T_COUNT };
static const char *const FAST_TESTS[T_COUNT] = {"defined", "undefined", "none", "string", "mapping",
                                                "number", "false", "true"};

int tmpl_test_id(const char *name) {
    for (int i = 0; i < T_COUNT; i++)
        if (!strcmp(FAST_TESTS[i], name)) return i;
    return -1;
}

bool apply_test_id(rstate *rs, const node *at, int id, const char *name, tv *v, tv **a, size_t na) {
    switch (id) {
    case T_DEFINED: rs_step(rs, at); return v->kind != TV_UNDEF;
    case T_UNDEFINED: rs_step(rs, at); return v->kind == TV_UNDEF;
    case T_NONE: rs_step(rs, at); return v->kind == TV_NONE;
    case T_STRING: rs_step(rs, at); return v->kind == TV_STR;
    case T_MAPPING: rs_step(rs, at); return v->kind == TV_DICT;
    case T_NUMBER: rs_step(rs, at); return number_kind(v);
    case T_FALSE: rs_step(rs, at); return v->kind == TV_BOOL && !v->u.b;
    case T_TRUE: rs_step(rs, at); return v->kind == TV_BOOL && v->u.b;
    default: return apply_test(rs, at, name, v, a, na);
    }
}

static bool same_str(const tv *a, const tv *b) {
    return a->u.str.n == b->u.str.n && !memcmp(a->u.str.s, b->u.str.s, a->u.str.n);
}

/* Python's str(v).islower() / .isupper(): no character of the other case and at least one
 * cased character (one the opposite mapping changes). */
static bool test_case(rstate *rs, const node *at, tv *v, bool lower) {
    tv *s = v->kind == TV_STR ? v : tv_to_str(rs, at, v);
    return same_str(str_case(rs, s, lower ? 1 : 0), s) && !same_str(str_case(rs, s, lower ? 0 : 1), s);
}

bool apply_test(rstate *rs, const node *at, const char *name, tv *v, tv **a, size_t na) {
    rs_step(rs, at);
    if (!strcmp(name, "defined")) return v->kind != TV_UNDEF;
    if (!strcmp(name, "undefined")) return v->kind == TV_UNDEF;
    if (!strcmp(name, "none")) return v->kind == TV_NONE;
    if (!strcmp(name, "string")) return v->kind == TV_STR;
    if (!strcmp(name, "number")) return number_kind(v);
    if (!strcmp(name, "integer")) return v->kind == TV_INT;
    if (!strcmp(name, "float")) return v->kind == TV_FLOAT;
    if (!strcmp(name, "boolean")) return v->kind == TV_BOOL;
    if (!strcmp(name, "true")) return v->kind == TV_BOOL && v->u.b;
    if (!strcmp(name, "false")) return v->kind == TV_BOOL && !v->u.b;
    if (!strcmp(name, "mapping")) return v->kind == TV_DICT;
    if (!strcmp(name, "iterable"))
        return v->kind == TV_STR || v->kind == TV_LIST || v->kind == TV_DICT || v->kind == TV_UNDEF;
    /* Jinja2: a sequence has len() and __getitem__, a callable __call__; Undefined has all
     * three, the loop object is callable */
    if (!strcmp(name, "sequence"))
        return v->kind == TV_STR || (v->kind == TV_LIST && !v->gen) || v->kind == TV_DICT || v->kind == TV_UNDEF;
    if (!strcmp(name, "callable"))
        return v->kind == TV_FUNC || v->kind == TV_MACRO || v->kind == TV_UNDEF || v->kind == TV_LOOP;
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) return test_case(rs, at, v, name[0] == 'l');
    if (!strcmp(name, "odd") || !strcmp(name, "even") || !strcmp(name, "divisibleby")) {
        if (v->kind == TV_UNDEF) rs_undefined_fail(rs, at, v);
        /* Jinja2: value % 2 == 1, value % 2 == 0, value % num == 0, with Python's % (floats too) */
        if (name[0] == 'd' && !na) rs_fail(rs, at, NT_EINVAL, "test '%s' needs an argument", name);
        tv *r = binop(rs, at, OP_MOD, v, name[0] == 'd' ? a[0] : tv_int(rs, 2, 0));
        return tv_eq(r, tv_int(rs, name[0] == 'o', 0));
    }
    if (!na) rs_fail(rs, at, NT_EINVAL, "test '%s' needs an argument", name);
    tv *b = a[0];
    if (!strcmp(name, "equalto") || !strcmp(name, "eq") || !strcmp(name, "==")) return tv_eq(v, b);
    if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !tv_eq(v, b);
    if (!strcmp(name, "in")) return tv_in(rs, at, v, b);
    if (!strcmp(name, "sameas")) return v == b || (v->kind == b->kind && v->kind <= TV_BOOL && tv_eq(v, b));
    if (!strcmp(name, "lt") || !strcmp(name, "<")) return tv_cmp(rs, at, v, b) < 0;
    if (!strcmp(name, "le") || !strcmp(name, "<=")) return tv_cmp(rs, at, v, b) <= 0;
    if (!strcmp(name, "gt") || !strcmp(name, ">")) return tv_cmp(rs, at, v, b) > 0;
    if (!strcmp(name, "ge") || !strcmp(name, ">=")) return tv_cmp(rs, at, v, b) >= 0;
    rs_fail(rs, at, NT_EINVAL, "No test named '%s'.", name);
}
