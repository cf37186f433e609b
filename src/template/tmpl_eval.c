/* Expression evaluation with Python/Jinja2 semantics; every result carries the provenance of
 * the operands it was computed from. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "template/tmpl_int.h"
#include "value/pyrepr.h"

_Noreturn void rs_fail(rstate *rs, const node *at, nt_status code, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (code == NT_ERAISE)
        nt_err_set(rs->err, code, "%s", msg);
    else if (at)
        nt_err_set(rs->err, code, "%s:%d:%d: %s", rs->t->name, at->line, at->col, msg);
    else
        nt_err_set(rs->err, code, "%s: %s", rs->t->name, msg);
    rs->status = code;
    longjmp(rs->jb, 1);
}

/* Jinja2's object_type_repr. */
static const char *obj_type(const tv *o) {
    switch (o->kind) {
    case TV_NONE: return "None";
    case TV_NS: return "jinja2.utils.Namespace object";
    case TV_LOOP: return "jinja2.runtime.LoopContext object";
    case TV_MACRO: return "jinja2.runtime.Macro object";
    case TV_FUNC: return "builtin_function_or_method object";
    case TV_BOOL: return "bool object";
    case TV_INT: return "int object";
    case TV_FLOAT: return "float object";
    case TV_STR: return "str object";
    case TV_LIST: return o->tup ? "tuple object" : "list object";
    case TV_DICT: return "dict object";
    default: return "object";
    }
}

static void py_repr_cstr(nt_buf *b, const char *s) {
    val *v = val_str(s);
    val_py_repr(b, v);
    val_unref(v);
}

/* Jinja2's Undefined._undefined_message. */
_Noreturn void rs_undefined_fail(rstate *rs, const node *at, const tv *u) {
    nt_buf b = {0}, r = {0};
    if (u->u.undef.hint) {
        nt_buf_puts(&b, u->u.undef.hint);
    } else if (!u->u.undef.obj) {
        py_repr_cstr(&r, u->u.undef.name ? u->u.undef.name : "");
        nt_buf_printf(&b, "%s is undefined", r.data);
    } else if (!u->u.undef.name) {
        nt_buf_printf(&b, "%s has no element %" PRId64, obj_type(u->u.undef.obj), u->u.undef.idx);
    } else {
        py_repr_cstr(&r, obj_type(u->u.undef.obj));
        nt_buf_printf(&b, "%s has no attribute ", r.data);
        r.len = 0;
        py_repr_cstr(&r, u->u.undef.name);
        nt_buf_append(&b, r.data, r.len);
    }
    char msg[900];
    snprintf(msg, sizeof msg, "%s", b.data);
    nt_buf_free(&b);
    nt_buf_free(&r);
    rs_fail(rs, at, NT_EINVAL, "%s", msg);
}

void rs_step(rstate *rs, const node *at) {
    if (++rs->steps > rs->max_steps)
        rs_fail(rs, at, NT_ELIMIT, "template exceeds %" PRIu64 " loop iterations and calls",
                rs->max_steps);
}

/* ---- variables ---- */

tv *frame_get(rstate *rs, frame *f, int sym) {
    (void)rs;
    for (; f; f = f->up) {
        if (f->direct) {
            if (f->direct[sym]) return f->direct[sym];
            continue;
        }
        for (size_t i = f->n; i-- > 0;)
            if (f->vars[i].sym == sym) return f->vars[i].v;
    }
    return NULL;
}

void frame_set(rstate *rs, frame *f, int sym, tv *v) {
    if (f->direct) {
        f->direct[sym] = v;
        return;
    }
    for (size_t i = 0; i < f->n; i++)
        if (f->vars[i].sym == sym) {
            f->vars[i].v = v;
            return;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        fvar *nv = rs_alloc(rs, cap * sizeof *nv);
        if (f->n) memcpy(nv, f->vars, f->n * sizeof *nv);
        f->vars = nv;
        f->cap = cap;
    }
    f->vars[f->n++] = (fvar){sym, v};
}

static tv *eval_name(rstate *rs, const node *n) {
    tv *v = frame_get(rs, rs->cur, n->sym);
    if (v) return v;
    v = global_lookup(rs, n->name);
    return v ? v : tv_undef(rs, n->name, NULL, 0);
}

/* ---- attribute and item access ---- */

/* Provenance of a value read out of a container: its own, else the container's (a key of a
 * message names the field). */
tv *tv_inherit(rstate *rs, tv *v, const tv *c, const char *key) {
    if (v->t || !c->t) return v;
    taint t = c->t;
    if (TAINT_FIELD(t) == TMPL_F_MESSAGE && key) t = TAINT(TAINT_MSG(t), tmpl_field_of_key(key, strlen(key)));
    return tv_retaint(rs, v, t);
}

static tv *loop_attr(rstate *rs, const node *at, tv *lv, const char *name) {
    tloop *L = lv->u.loop;
    int64_t i = (int64_t)L->i, n = (int64_t)L->n;
    switch (name[0]) {
    case 'i':
        if (!strcmp(name, "index")) return tv_int(rs, i + 1, 0);
        if (!strcmp(name, "index0")) return tv_int(rs, i, 0);
        break;
    case 'r':
        if (!strcmp(name, "revindex")) return tv_int(rs, n - i, 0);
        if (!strcmp(name, "revindex0")) return tv_int(rs, n - i - 1, 0);
        break;
    case 'f': if (!strcmp(name, "first")) return tv_bool(rs, i == 0, 0); break;
    case 'l':
        if (!strcmp(name, "last")) return tv_bool(rs, i == n - 1, 0);
        if (!strcmp(name, "length")) return tv_int(rs, n, 0);
        break;
    case 'd':
        if (!strcmp(name, "depth")) return tv_int(rs, L->depth, 0);
        if (!strcmp(name, "depth0")) return tv_int(rs, L->depth - 1, 0);
        break;
    case 'p':
        if (!strcmp(name, "previtem"))
            return i > 0 ? L->items[i - 1] : tv_undef_hint(rs, "there is no previous item");
        break;
    case 'n':
        if (!strcmp(name, "nextitem"))
            return i + 1 < n ? L->items[i + 1] : tv_undef_hint(rs, "there is no next item");
        break;
    }
    tv *m = method_lookup(rs, lv, name, strlen(name));
    if (m) return m;
    (void)at;
    return tv_undef(rs, name, lv, 0);
}

tv *eval_getattr(rstate *rs, const node *at, tv *obj, const char *name, size_t nlen) {
    switch (obj->kind) {
    case TV_UNDEF: rs_undefined_fail(rs, at, obj);
    case TV_LOOP: return loop_attr(rs, at, obj, name);
    case TV_NS: {
        tv *v = tv_dict_get(obj, name, nlen);
        return v ? v : tv_undef(rs, name, obj, 0);
    }
    case TV_DICT: {
        tv *m = method_lookup(rs, obj, name, nlen);
        if (m) return m;
        tv *v = tv_dict_get(obj, name, nlen);
        if (v) return tv_inherit(rs, v, obj, name);
        return tv_inherit(rs, tv_undef(rs, name, obj, 0), obj, name);
    }
    default: {
        tv *m = method_lookup(rs, obj, name, nlen);
        return m ? m : tv_undef(rs, name, obj, obj->t);
    }
    }
}

static int64_t index_of(rstate *rs, const node *at, tv *k) {
    if (k->kind == TV_BOOL) return k->u.b;
    if (k->kind != TV_INT)
        rs_fail(rs, at, NT_EINVAL, "indices must be integers, not %s", tv_type_name(k));
    return k->u.i;
}

/* obj[key] that Jinja2's getitem turns into Undefined(obj=obj, name=key): the message names
 * the key by its repr ("list object has no element 0.5"). */
static tv *undef_item(rstate *rs, const node *at, tv *obj, tv *key) {
    tv *u = tv_undef(rs, NULL, obj, obj->t);
    if (key->kind == TV_INT) {
        u->u.undef.idx = key->u.i;
        return u;
    }
    sbuild sb = {0};
    sb_lit(rs, &sb, obj_type(obj), strlen(obj_type(obj)), 0);
    sb_lit(rs, &sb, " has no element ", 16, 0);
    tv_repr(rs, at, &sb, key);
    u->u.undef.hint = sb_finish(rs, &sb, 0)->u.str.s;
    return u;
}

tv *eval_getitem(rstate *rs, const node *at, tv *obj, tv *key) {
    if (obj->kind == TV_UNDEF) rs_undefined_fail(rs, at, obj);
    if (key->kind == TV_UNDEF && obj->kind != TV_DICT) rs_undefined_fail(rs, at, key);
    switch (obj->kind) {
    case TV_DICT: case TV_NS: {
        tv *v = tv_dict_getv(obj, key);
        const char *ks = key->kind == TV_STR ? key->u.str.s : NULL;
        if (v) return obj->kind == TV_DICT ? tv_inherit(rs, v, obj, ks) : v;
        if (ks) return eval_getattr(rs, at, obj, ks, key->u.str.n);
        return undef_item(rs, at, obj, key);
    }
    case TV_LIST: case TV_STR: {
        if (key->kind == TV_STR) return eval_getattr(rs, at, obj, key->u.str.s, key->u.str.n);
        /* a TypeError inside Jinja2's getitem: the item is Undefined */
        if ((key->kind != TV_INT && key->kind != TV_BOOL) || obj->gen) return undef_item(rs, at, obj, key);
        int64_t i = index_of(rs, at, key), n = tv_len(rs, at, obj);
        int64_t j = i < 0 ? i + n : i;
        if (j < 0 || j >= n) {
            tv *u = tv_undef(rs, NULL, obj, obj->t);
            u->u.undef.idx = i;
            return u;
        }
        if (obj->kind == TV_LIST) return tv_inherit(rs, obj->u.list.items[j], obj, NULL);
        size_t a = utf8_offset(obj->u.str.s, obj->u.str.n, (size_t)j);
        size_t b = utf8_offset(obj->u.str.s, obj->u.str.n, (size_t)j + 1);
        return tv_substr(rs, obj, a, b);
    }
    case TV_LOOP:
        if (key->kind == TV_STR) return loop_attr(rs, at, obj, key->u.str.s);
        /* fallthrough */
    default:
        if (key->kind == TV_STR) return eval_getattr(rs, at, obj, key->u.str.s, key->u.str.n);
        return undef_item(rs, at, obj, key);
    }
}

/* Python slice indices for length n. */
static void slice_range(rstate *rs, const node *at, tv *lo, tv *hi, tv *st, int64_t n,
                        int64_t *start, int64_t *stop, int64_t *step) {
    *step = st && st->kind != TV_NONE ? index_of(rs, at, st) : 1;
    if (*step == 0) rs_fail(rs, at, NT_EINVAL, "slice step cannot be zero");
    int64_t dflt_lo = *step > 0 ? 0 : n - 1, dflt_hi = *step > 0 ? n : -1;
    int64_t bounds_lo = *step > 0 ? 0 : -1, bounds_hi = *step > 0 ? n : n - 1;
    tv *pts[2] = {lo, hi};
    int64_t *outs[2] = {start, stop};
    for (int k = 0; k < 2; k++) {
        if (!pts[k] || pts[k]->kind == TV_NONE) {
            *outs[k] = k ? dflt_hi : dflt_lo;
            continue;
        }
        int64_t v = index_of(rs, at, pts[k]);
        if (v < 0) v += n;
        if (v < bounds_lo) v = bounds_lo;
        if (v > bounds_hi) v = bounds_hi;
        *outs[k] = v;
    }
}

static tv *eval_slice(rstate *rs, const node *n) {
    tv *obj = eval(rs, n->a);
    tv *lo = n->b ? eval(rs, n->b) : NULL, *hi = n->c ? eval(rs, n->c) : NULL;
    tv *st = n->d ? eval(rs, n->d) : NULL;
    if (obj->kind == TV_UNDEF) rs_undefined_fail(rs, n, obj);
    if (obj->kind != TV_LIST && obj->kind != TV_STR)
        rs_fail(rs, n, NT_EINVAL, "'%s' object is not subscriptable", tv_type_name(obj));
    int64_t len = tv_len(rs, n, obj), a, b, s;
    slice_range(rs, n, lo, hi, st, len, &a, &b, &s);
    if (obj->kind == TV_LIST) {
        tv *l = tv_list(rs, (size_t)len);
        size_t k = 0;
        for (int64_t i = a; s > 0 ? i < b : i > b; i += s) l->u.list.items[k++] = obj->u.list.items[i];
        l->u.list.n = k;
        l->t = obj->t;
        l->tup = obj->tup;
        return l;
    }
    bool ascii = utf8_len(obj->u.str.s, obj->u.str.n) == obj->u.str.n;
    if (s == 1 && a <= b) {
        size_t x = ascii ? (size_t)a : utf8_offset(obj->u.str.s, obj->u.str.n, (size_t)a);
        size_t y = ascii ? (size_t)b : utf8_offset(obj->u.str.s, obj->u.str.n, (size_t)b);
        return tv_substr(rs, obj, x, y);
    }
    sbuild sb = {0};
    for (int64_t i = a; s > 0 ? i < b : i > b; i += s) {
        size_t x = utf8_offset(obj->u.str.s, obj->u.str.n, (size_t)i);
        size_t y = utf8_offset(obj->u.str.s, obj->u.str.n, (size_t)i + 1);
        sb_add(rs, &sb, obj, x, y);
    }
    return sb_finish(rs, &sb, obj->t);
}

/* ---- operators ---- */

static bool num(const tv *v) { return v->kind == TV_INT || v->kind == TV_FLOAT || v->kind == TV_BOOL; }
static double dval(const tv *v) {
    return v->kind == TV_FLOAT ? v->u.f : v->kind == TV_INT ? (double)v->u.i : (double)v->u.b;
}
static int64_t ival(const tv *v) { return v->kind == TV_INT ? v->u.i : (int64_t)v->u.b; }

static const char *op_sym(int op) {
    static const char *const s[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
    return op <= OP_CAT ? s[op] : "?";
}

_Noreturn static void bad_operands(rstate *rs, const node *at, int op, tv *a, tv *b) {
    if (a->kind == TV_UNDEF) rs_undefined_fail(rs, at, a);
    if (b->kind == TV_UNDEF) rs_undefined_fail(rs, at, b);
    if (op == OP_ADD && a->kind == TV_STR)
        rs_fail(rs, at, NT_EINVAL, "can only concatenate str (not \"%s\") to str", tv_type_name(b));
    if (op == OP_ADD && a->kind == TV_LIST)
        rs_fail(rs, at, NT_EINVAL, "can only concatenate list (not \"%s\") to list", tv_type_name(b));
    rs_fail(rs, at, NT_EINVAL, "unsupported operand type(s) for %s: '%s' and '%s'", op_sym(op),
            tv_type_name(a), tv_type_name(b));
}

static tv *repeat(rstate *rs, const node *at, tv *seq, int64_t times, taint t) {
    if (times < 0) times = 0;
    size_t unit = seq->kind == TV_STR ? seq->u.str.n : seq->u.list.n;
    if (unit && (uint64_t)times > (rs->max_output + 0u) / unit)
        rs_fail(rs, at, NT_ELIMIT, "sequence repetition too large");
    if (seq->kind == TV_STR) {
        sbuild sb = {0};
        for (int64_t i = 0; i < times; i++) sb_add(rs, &sb, seq, 0, seq->u.str.n);
        return sb_finish(rs, &sb, t);
    }
    tv *l = tv_list(rs, unit * (size_t)times);
    for (int64_t i = 0; i < times; i++)
        memcpy(l->u.list.items + i * unit, seq->u.list.items, unit * sizeof(tv *));
    l->t = t;
    return l;
}

static tv *arith_int(rstate *rs, const node *at, int op, int64_t x, int64_t y, taint t) {
    int64_t r;
    switch (op) {
    case OP_ADD: if (__builtin_add_overflow(x, y, &r)) goto ovf; return tv_int(rs, r, t);
    case OP_SUB: if (__builtin_sub_overflow(x, y, &r)) goto ovf; return tv_int(rs, r, t);
    case OP_MUL: if (__builtin_mul_overflow(x, y, &r)) goto ovf; return tv_int(rs, r, t);
    case OP_DIV:
        if (!y) rs_fail(rs, at, NT_EINVAL, "division by zero");
        return tv_float(rs, (double)x / (double)y, t);
    case OP_FDIV: case OP_MOD: {
        if (!y) rs_fail(rs, at, NT_EINVAL, op == OP_MOD ? "integer modulo by zero" : "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) goto ovf;
        int64_t q = x / y, m = x % y;
        if (m && ((m < 0) != (y < 0))) { q--; m += y; }
        return tv_int(rs, op == OP_FDIV ? q : m, t);
    }
    case OP_POW: {
        if (y < 0) return tv_float(rs, pow((double)x, (double)y), t);
        int64_t acc = 1;
        for (int64_t i = 0; i < y; i++) {
            if (__builtin_mul_overflow(acc, x, &acc)) goto ovf;
            if (acc == 0 || acc == 1) break;
        }
        return tv_int(rs, acc, t);
    }
    }
ovf:
    rs_fail(rs, at, NT_EUNSUPPORTED, "integer result exceeds 64 bits");
}

/* Python's float arithmetic, floor division and modulo as CPython computes them. */
static tv *arith_float(rstate *rs, const node *at, int op, double x, double y, taint t) {
    switch (op) {
    case OP_ADD: return tv_float(rs, x + y, t);
    case OP_SUB: return tv_float(rs, x - y, t);
    case OP_MUL: return tv_float(rs, x * y, t);
    case OP_DIV:
        if (y == 0) rs_fail(rs, at, NT_EINVAL, "float division by zero");
        return tv_float(rs, x / y, t);
    case OP_FDIV: case OP_MOD: {
        if (y == 0) rs_fail(rs, at, NT_EINVAL, op == OP_MOD ? "float modulo" : "float floor division by zero");
        double mod = fmod(x, y), div = (x - mod) / y;
        if (mod != 0) {
            if ((y < 0) != (mod < 0)) {
                mod += y;
                div -= 1.0;
            }
        } else {
            mod = copysign(0.0, y);
        }
        if (op == OP_MOD) return tv_float(rs, mod, t);
        double fl;
        if (div != 0) {
            fl = floor(div);
            if (div - fl > 0.5) fl += 1.0;
        } else {
            fl = copysign(0.0, x / y);
        }
        return tv_float(rs, fl, t);
    }
    case OP_POW: return tv_float(rs, pow(x, y), t);
    }
    return tv_float(rs, 0, t);
}

tv *binop(rstate *rs, const node *at, int op, tv *a, tv *b) {
    taint t = taint_join(a->t, b->t);
    if (op == OP_CAT) return tv_concat(rs, tv_to_str(rs, at, a), tv_to_str(rs, at, b));
    if (num(a) && num(b)) {
        if (a->kind != TV_FLOAT && b->kind != TV_FLOAT) return arith_int(rs, at, op, ival(a), ival(b), t);
        return arith_float(rs, at, op, dval(a), dval(b), t);
    }
    if (op == OP_ADD && a->kind == TV_STR && b->kind == TV_STR) {
        if (!a->safe && !b->safe) return tv_concat(rs, a, b);
        /* Markup (|safe) + str escapes the plain side and stays Markup, as in markupsafe */
        tv *r = tv_concat(rs, a->safe ? a : tv_escape(rs, a), b->safe ? b : tv_escape(rs, b));
        if (r == a || r == b) { /* never flag a shared operand */
            tv *c = tv_new(rs, TV_STR);
            *c = *r;
            r = c;
        }
        r->safe = true;
        return r;
    }
    if (op == OP_ADD && a->kind == TV_LIST && b->kind == TV_LIST) {
        tv *l = tv_list(rs, a->u.list.n + b->u.list.n);
        if (a->u.list.n) memcpy(l->u.list.items, a->u.list.items, a->u.list.n * sizeof(tv *));
        if (b->u.list.n) memcpy(l->u.list.items + a->u.list.n, b->u.list.items, b->u.list.n * sizeof(tv *));
        l->t = t;
        l->tup = a->tup;
        return l;
    }
    if (op == OP_MUL && (a->kind == TV_STR || a->kind == TV_LIST) && (b->kind == TV_INT || b->kind == TV_BOOL))
        return repeat(rs, at, a, ival(b), t);
    if (op == OP_MUL && (b->kind == TV_STR || b->kind == TV_LIST) && (a->kind == TV_INT || a->kind == TV_BOOL))
        return repeat(rs, at, b, ival(a), t);
    bad_operands(rs, at, op, a, b);
}

static bool compare_b(rstate *rs, const node *n, tv *a, tv *b) {
    bool r;
    switch (n->op) {
    case OP_EQ: r = tv_eq(a, b); break;
    case OP_NE: r = !tv_eq(a, b); break;
    case OP_IN: r = tv_in(rs, n, a, b); break;
    case OP_NOTIN: r = !tv_in(rs, n, a, b); break;
    default: {
        int c = tv_cmp(rs, n, a, b);
        r = n->op == OP_LT ? c < 0 : n->op == OP_LE ? c <= 0 : n->op == OP_GT ? c > 0 : c >= 0;
        if ((a->kind == TV_FLOAT && isnan(a->u.f)) || (b->kind == TV_FLOAT && isnan(b->u.f))) r = false;
    }
    }
    return r;
}

/* A comparison; for a chain link (neg) its left operand is the previous link's right one,
 * evaluated once, and a false link ends the chain. *right: this link's right operand. */
static bool cmp_chain(rstate *rs, const node *n, tv **right, taint *t) {
    tv *a;
    if (n->neg) {
        if (!cmp_chain(rs, n->a, &a, t)) return false;
    } else {
        a = eval(rs, n->a);
        *t = a->t;
    }
    tv *b = eval(rs, n->b);
    *t = taint_join(*t, b->t);
    *right = b;
    return compare_b(rs, n, a, b);
}

/* ---- calls ---- */

typedef struct {
    tv **args;
    size_t nargs;
    const char **kwn;
    tv **kwv;
    size_t nkw;
} argv_t;

static argv_t eval_args(rstate *rs, node **kids, size_t nk) {
    argv_t A = {0};
    if (!nk) return A; /* most filters and tests take no arguments */
    A.args = rs_alloc(rs, (nk + 1) * sizeof(tv *));
    A.kwn = rs_alloc(rs, (nk + 1) * sizeof(char *));
    A.kwv = rs_alloc(rs, (nk + 1) * sizeof(tv *));
    for (size_t i = 0; i < nk; i++) {
        if (kids[i]->kind == N_KWARG) {
            A.kwn[A.nkw] = kids[i]->name;
            A.kwv[A.nkw++] = eval(rs, kids[i]->a);
        } else {
            A.args[A.nargs++] = eval(rs, kids[i]);
        }
    }
    return A;
}

tv *call_value(rstate *rs, const node *at, tv *fn, tv **args, size_t nargs, const char **kwn,
               tv **kwv, size_t nkw) {
    switch (fn->kind) {
    case TV_FUNC: return fn->u.func.fn(rs, at, fn->u.func.self, args, nargs, kwn, kwv, nkw);
    case TV_MACRO: return call_macro(rs, at, fn, args, nargs, kwn, kwv, nkw, NULL);
    case TV_UNDEF: rs_undefined_fail(rs, at, fn);
    default: rs_fail(rs, at, NT_EINVAL, "'%s' object is not callable", tv_type_name(fn));
    }
}

static tv *eval_call(rstate *rs, const node *n) {
    tv *fn = eval(rs, n->a);
    argv_t A = eval_args(rs, n->kids, n->nkids);
    return call_value(rs, n, fn, A.args, A.nargs, A.kwn, A.kwv, A.nkw);
}

static tv *eval_filter(rstate *rs, const node *n) {
    tv *v = eval(rs, n->a);
    argv_t A = eval_args(rs, n->kids, n->nkids);
    return apply_filter_id(rs, n, n->fid, n->name, v, A.args, A.nargs, A.kwn, A.kwv, A.nkw);
}

static bool test_b(rstate *rs, const node *n, taint *tp) {
    tv *v = eval(rs, n->a);
    argv_t A = eval_args(rs, n->kids, n->nkids);
    bool r = apply_test_id(rs, n, n->fid, n->name, v, A.args, A.nargs);
    taint t = v->t;
    for (size_t i = 0; i < A.nargs; i++) t = taint_join(t, A.args[i]->t);
    if (t && TAINT_MSG(t) >= 0 && n->shape) t = TAINT(TAINT_MSG(t), TMPL_F_MESSAGE);
    *tp = t;
    return n->neg ? !r : r;
}

static tv *eval_test(rstate *rs, const node *n) {
    taint t;
    bool r = test_b(rs, n, &t);
    return tv_bool(rs, r, t);
}

/* A condition's truth and provenance without building a value for it (conditions are most
 * of what chat templates evaluate). Same results as tv_truthy(eval(n)) and its taint. */
bool eval_cond(rstate *rs, const node *n, taint *t) {
    switch (n->kind) {
    case N_CMP: {
        tv *right;
        return cmp_chain(rs, n, &right, t);
    }
    case N_TEST: return test_b(rs, n, t);
    case N_NOT: {
        bool r = eval_cond(rs, n->a, t);
        return !r;
    }
    case N_AND: case N_OR: {
        taint ta, tb;
        bool a = eval_cond(rs, n->a, &ta);
        if (a == (n->kind == N_OR)) {
            *t = ta;
            return a;
        }
        bool b = eval_cond(rs, n->b, &tb);
        *t = taint_join(ta, tb);
        return b;
    }
    default: {
        tv *v = eval(rs, n);
        *t = v->t;
        return tv_truthy(v);
    }
    }
}

static tv *eval_seq(rstate *rs, const node *n) {
    if (n->kind == N_DICT) {
        tv *d = tv_dict(rs, n->nkids / 2);
        taint t = 0;
        for (size_t i = 0; i + 1 < n->nkids; i += 2) {
            tv *k = eval(rs, n->kids[i]), *v = eval(rs, n->kids[i + 1]);
            tv_dict_put(rs, d, k, v);
            t = taint_join(t, v->t);
        }
        d->t = t;
        return d;
    }
    tv *l = tv_list(rs, n->nkids);
    taint t = 0;
    for (size_t i = 0; i < n->nkids; i++) {
        l->u.list.items[i] = eval(rs, n->kids[i]);
        t = taint_join(t, l->u.list.items[i]->t);
    }
    l->t = t;
    l->tup = n->kind == N_TUPLE;
    return l;
}

static tv *eval_unary(rstate *rs, const node *n) {
    tv *v = eval(rs, n->a);
    if (n->kind == N_NOT) return tv_bool(rs, !tv_truthy(v), v->t);
    if (v->kind == TV_UNDEF) rs_undefined_fail(rs, n, v);
    if (!num(v))
        rs_fail(rs, n, NT_EINVAL, "bad operand type for unary %s: '%s'", n->kind == N_NEG ? "-" : "+",
                tv_type_name(v));
    if (n->kind == N_POS) return v->kind == TV_BOOL ? tv_int(rs, v->u.b, v->t) : v;
    if (v->kind == TV_FLOAT) return tv_float(rs, -v->u.f, v->t);
    if (ival(v) == INT64_MIN) rs_fail(rs, n, NT_EUNSUPPORTED, "integer result exceeds 64 bits");
    return tv_int(rs, -ival(v), v->t);
}

_Noreturn void rs_too_deep(rstate *rs, const node *at) {
    rs_fail(rs, at, NT_ELIMIT, "template nests too deeply");
}

tv *eval_node(rstate *rs, const node *n) {
    switch (n->kind) {
    case N_LIT: return n->lit;
    case N_NAME: return eval_name(rs, n);
    case N_ATTR: return eval_getattr(rs, n, eval(rs, n->a), n->name, n->nlen);
    case N_ITEM: {
        tv *o = eval(rs, n->a);
        return eval_getitem(rs, n, o, eval(rs, n->b));
    }
    case N_SLICE: return eval_slice(rs, n);
    case N_CALL: return eval_call(rs, n);
    case N_FILTER: return eval_filter(rs, n);
    case N_TEST: return eval_test(rs, n);
    case N_NEG: case N_POS: case N_NOT: return eval_unary(rs, n);
    case N_BIN: {
        tv *a = eval(rs, n->a);
        return binop(rs, n, n->op, a, eval(rs, n->b));
    }
    case N_CMP: {
        tv *right;
        taint t = 0;
        bool r = cmp_chain(rs, n, &right, &t);
        return tv_bool(rs, r, t);
    }
    case N_AND: case N_OR: {
        tv *a = eval(rs, n->a);
        if (tv_truthy(a) == (n->kind == N_OR)) return a;
        tv *b = eval(rs, n->b);
        return tv_retaint(rs, b, taint_join(a->t, b->t));
    }
    case N_COND: {
        tv *c = eval(rs, n->a);
        if (tv_truthy(c)) return eval(rs, n->b);
        if (n->c) return eval(rs, n->c);
        char *hint = rs_alloc(rs, 128);
        snprintf(hint, 128, "the inline if-expression on line %d evaluated to false and no else section was defined.", n->line);
        return tv_undef_hint(rs, hint);
    }
    case N_LIST: case N_TUPLE: case N_DICT: return eval_seq(rs, n);
    default: rs_fail(rs, n, NT_EINVAL, "not an expression");
    }
}
