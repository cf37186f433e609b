/* Python semantics of runtime values: truth, equality, ordering, str(), repr(), len(), `in`,
 * iteration — as Jinja2 inherits them from Python. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "formats/json.h"
#include "template/tmpl_int.h"
#include "value/pyrepr.h"

const char *tv_type_name(const tv *v) {
    switch (v->kind) {
    case TV_UNDEF: return "Undefined";
    case TV_NONE: return "NoneType";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float";
    case TV_STR: return "str";
    case TV_LIST: return "list";
    case TV_DICT: return "dict";
    case TV_NS: return "Namespace";
    case TV_MACRO: return "Macro";
    case TV_FUNC: return "function";
    case TV_LOOP: return "LoopContext";
    }
    return "object";
}

bool tv_truthy(const tv *v) {
    switch (v->kind) {
    case TV_UNDEF: case TV_NONE: return false;
    case TV_BOOL: return v->u.b;
    case TV_INT: return v->u.i != 0;
    case TV_FLOAT: return v->u.f != 0.0;
    case TV_STR: return v->u.str.n != 0;
    case TV_LIST: return v->gen || v->u.list.n != 0;
    case TV_DICT: return v->u.dict.n != 0;
    default: return true;
    }
}

static bool is_num(const tv *v) {
    return v->kind == TV_BOOL || v->kind == TV_INT || v->kind == TV_FLOAT;
}

static double num_d(const tv *v) {
    return v->kind == TV_FLOAT ? v->u.f : v->kind == TV_INT ? (double)v->u.i : (double)v->u.b;
}

static int64_t num_i(const tv *v) { return v->kind == TV_INT ? v->u.i : (int64_t)v->u.b; }

/* Python would raise RecursionError on values this deep; we call them unequal instead of
 * overflowing the stack. */
static bool eq_d(const tv *a, const tv *b, int depth);

bool tv_eq(const tv *a, const tv *b) { return eq_d(a, b, 0); }

static bool eq_d(const tv *a, const tv *b, int depth) {
    if (depth > JSON_DEPTH_GUARD) return false;
    if (is_num(a) && is_num(b)) {
        if (a->kind == TV_FLOAT || b->kind == TV_FLOAT) return num_d(a) == num_d(b);
        return num_i(a) == num_i(b);
    }
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case TV_UNDEF: case TV_NONE: return true;
    case TV_STR: return a->u.str.n == b->u.str.n && !memcmp(a->u.str.s, b->u.str.s, a->u.str.n);
    case TV_LIST:
        if (a->u.list.n != b->u.list.n) return false;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!eq_d(a->u.list.items[i], b->u.list.items[i], depth + 1)) return false;
        return true;
    case TV_DICT:
        if (a->u.dict.n != b->u.dict.n) return false;
        for (size_t i = 0; i < a->u.dict.n; i++) {
            tv *o = tv_dict_getv(b, a->u.dict.e[i].k);
            if (!o || !eq_d(a->u.dict.e[i].v, o, depth + 1)) return false;
        }
        return true;
    default: return a == b;
    }
}

static int cmp_d(rstate *rs, const node *at, const tv *a, const tv *b, int depth);

int tv_cmp(rstate *rs, const node *at, const tv *a, const tv *b) { return cmp_d(rs, at, a, b, 0); }

static int cmp_d(rstate *rs, const node *at, const tv *a, const tv *b, int depth) {
    if (depth > JSON_DEPTH_GUARD) rs_fail(rs, at, NT_ELIMIT, "values nested too deeply to compare");
    if (a->kind == TV_UNDEF) rs_undefined_fail(rs, at, a);
    if (b->kind == TV_UNDEF) rs_undefined_fail(rs, at, b);
    if (is_num(a) && is_num(b)) {
        if (a->kind == TV_FLOAT || b->kind == TV_FLOAT) {
            double x = num_d(a), y = num_d(b);
            return x < y ? -1 : x > y ? 1 : 0;
        }
        int64_t x = num_i(a), y = num_i(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a->kind == TV_STR && b->kind == TV_STR) {
        size_t n = a->u.str.n < b->u.str.n ? a->u.str.n : b->u.str.n;
        int c = memcmp(a->u.str.s, b->u.str.s, n);
        if (c) return c;
        return a->u.str.n < b->u.str.n ? -1 : a->u.str.n > b->u.str.n;
    }
    if (a->kind == TV_LIST && b->kind == TV_LIST) {
        size_t n = a->u.list.n < b->u.list.n ? a->u.list.n : b->u.list.n;
        for (size_t i = 0; i < n; i++) {
            if (tv_eq(a->u.list.items[i], b->u.list.items[i])) continue;
            return cmp_d(rs, at, a->u.list.items[i], b->u.list.items[i], depth + 1);
        }
        return a->u.list.n < b->u.list.n ? -1 : a->u.list.n > b->u.list.n;
    }
    rs_fail(rs, at, NT_EINVAL, "'<' not supported between instances of '%s' and '%s'",
            tv_type_name(a), tv_type_name(b));
}

/* Python repr of a str, via the value module's implementation. */
static void repr_str(rstate *rs, sbuild *sb, const char *s, size_t n) {
    val *v = val_strn(s, n);
    nt_buf b = {0};
    val_py_repr(&b, v);
    val_unref(v);
    char *copy = rs_alloc(rs, b.len + 1); /* into the arena first: sb_lit may longjmp */
    memcpy(copy, b.data, b.len);
    size_t len = b.len;
    nt_buf_free(&b);
    sb_lit(rs, sb, copy, len, 0);
}

/* Containers being printed, innermost first: Python prints a container met again inside
 * itself as [...] / {...} (only namespaces can make such cycles). */
typedef struct repr_up {
    const tv *v;
    const struct repr_up *up;
    int depth;
} repr_up;

static void puts_sb(rstate *rs, sbuild *sb, const char *s) { sb_lit(rs, sb, s, strlen(s), 0); }

static void repr_rec(rstate *rs, const node *at, sbuild *sb, const tv *v, const repr_up *up) {
    char num[40];
    if (sb->len > rs->max_output) rs_fail(rs, at, NT_ELIMIT, "repr() output too large");
    if (up && up->depth > JSON_DEPTH_GUARD) rs_fail(rs, at, NT_ELIMIT, "value nested too deeply to print");
    for (const repr_up *u = up; u; u = u->up)
        if (u->v == v) {
            puts_sb(rs, sb, v->kind == TV_LIST ? (v->tup ? "(...)" : "[...]") : "{...}");
            return;
        }
    repr_up me = {v, up, up ? up->depth + 1 : 1};
    switch (v->kind) {
    case TV_UNDEF: puts_sb(rs, sb, "Undefined"); return;
    case TV_NONE: puts_sb(rs, sb, "None"); return;
    case TV_BOOL: puts_sb(rs, sb, v->u.b ? "True" : "False"); return;
    case TV_INT: snprintf(num, sizeof num, "%" PRId64, v->u.i); puts_sb(rs, sb, num); return;
    case TV_FLOAT: val_float_repr(num, v->u.f); puts_sb(rs, sb, num); return;
    case TV_STR: repr_str(rs, sb, v->u.str.s, v->u.str.n); return;
    case TV_LIST:
        puts_sb(rs, sb, v->tup ? "(" : "[");
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i) puts_sb(rs, sb, ", ");
            repr_rec(rs, at, sb, v->u.list.items[i], &me);
        }
        puts_sb(rs, sb, v->tup ? (v->u.list.n == 1 ? ",)" : ")") : "]");
        return;
    case TV_DICT: case TV_NS:
        puts_sb(rs, sb, v->kind == TV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v->u.dict.n; i++) {
            if (i) puts_sb(rs, sb, ", ");
            repr_rec(rs, at, sb, v->u.dict.e[i].k, &me);
            puts_sb(rs, sb, ": ");
            repr_rec(rs, at, sb, v->u.dict.e[i].v, &me);
        }
        puts_sb(rs, sb, v->kind == TV_NS ? "}>" : "}");
        return;
    default: snprintf(num, sizeof num, "<%s>", tv_type_name(v)); puts_sb(rs, sb, num); return;
    }
}

void tv_repr(rstate *rs, const node *at, sbuild *sb, const tv *v) { repr_rec(rs, at, sb, v, NULL); }

tv *tv_to_str(rstate *rs, const node *at, tv *v) {
    char num[40];
    switch (v->kind) {
    case TV_STR: return v;
    case TV_UNDEF: return tv_strn(rs, "", 0, 0);
    case TV_INT: snprintf(num, sizeof num, "%" PRId64, v->u.i); return tv_strn(rs, num, strlen(num), v->t);
    case TV_FLOAT: val_float_repr(num, v->u.f); return tv_strn(rs, num, strlen(num), v->t);
    default: {
        sbuild sb = {0};
        tv_repr(rs, at, &sb, v);
        tv *s = sb_finish(rs, &sb, v->t);
        /* printed data is data: one run with the value's provenance */
        return v->t ? tv_strn(rs, s->u.str.s, s->u.str.n, v->t) : s;
    }
    }
}

int64_t tv_len(rstate *rs, const node *at, tv *v) {
    switch (v->kind) {
    case TV_UNDEF: return 0;
    case TV_STR: return (int64_t)utf8_len(v->u.str.s, v->u.str.n);
    case TV_LIST:
        if (!v->gen) return (int64_t)v->u.list.n;
        rs_fail(rs, at, NT_EINVAL, "object of type 'generator' has no len()");
    case TV_DICT: case TV_NS: return (int64_t)v->u.dict.n;
    default:
        rs_fail(rs, at, NT_EINVAL, "object of type '%s' has no len()", tv_type_name(v));
    }
}

tv *tv_iterable(rstate *rs, const node *at, tv *v) {
    switch (v->kind) {
    case TV_LIST: return v;
    case TV_UNDEF: return tv_list(rs, 0);
    case TV_DICT: {
        tv *l = tv_list(rs, v->u.dict.n);
        l->t = v->t;
        for (size_t i = 0; i < v->u.dict.n; i++) l->u.list.items[i] = v->u.dict.e[i].k;
        return l;
    }
    case TV_STR: {
        tv *l = tv_list(rs, utf8_len(v->u.str.s, v->u.str.n));
        l->t = v->t;
        size_t k = 0;
        for (size_t i = 0; i < v->u.str.n;) {
            size_t j = i + 1;
            while (j < v->u.str.n && ((unsigned char)v->u.str.s[j] & 0xC0) == 0x80) j++;
            l->u.list.items[k++] = tv_substr(rs, v, i, j);
            i = j;
        }
        l->u.list.n = k;
        return l;
    }
    default:
        rs_fail(rs, at, NT_EINVAL, "'%s' object is not iterable", tv_type_name(v));
    }
}

bool tv_in(rstate *rs, const node *at, tv *item, tv *c) {
    switch (c->kind) {
    case TV_STR:
        if (item->kind == TV_UNDEF) rs_undefined_fail(rs, at, item);
        if (item->kind != TV_STR)
            rs_fail(rs, at, NT_EINVAL, "'in <string>' requires string as left operand, not %s",
                    tv_type_name(item));
        return item->u.str.n == 0 ||
               memmem(c->u.str.s, c->u.str.n, item->u.str.s, item->u.str.n) != NULL;
    case TV_LIST:
        for (size_t i = 0; i < c->u.list.n; i++)
            if (tv_eq(item, c->u.list.items[i])) return true;
        return false;
    case TV_DICT: case TV_NS: return tv_dict_getv(c, item) != NULL;
    case TV_UNDEF: return false;
    default:
        rs_fail(rs, at, NT_EINVAL, "argument of type '%s' is not iterable", tv_type_name(c));
    }
}

/* Fails (before anything is built) on values json.dumps cannot write or that nest too deep. */
static void json_check(rstate *rs, const node *at, const tv *v, int depth) {
    if (depth > JSON_DEPTH_GUARD) rs_fail(rs, at, NT_ELIMIT, "value nested too deeply");
    switch (v->kind) {
    case TV_NONE: case TV_BOOL: case TV_INT: case TV_FLOAT: case TV_STR: return;
    case TV_LIST:
        for (size_t i = 0; i < v->u.list.n; i++) json_check(rs, at, v->u.list.items[i], depth + 1);
        return;
    case TV_DICT:
        for (size_t i = 0; i < v->u.dict.n; i++) {
            if (v->u.dict.e[i].k->kind != TV_STR)
                rs_fail(rs, at, NT_EINVAL, "keys must be str, int, float, bool or None, not %s",
                        tv_type_name(v->u.dict.e[i].k));
            json_check(rs, at, v->u.dict.e[i].v, depth + 1);
        }
        return;
    default:
        rs_fail(rs, at, NT_EINVAL, "Object of type %s is not JSON serializable", tv_type_name(v));
    }
}

static val *to_val(const tv *v) {
    switch (v->kind) {
    case TV_BOOL: return val_bool(v->u.b);
    case TV_INT: return val_int(v->u.i);
    case TV_FLOAT: return val_float(v->u.f);
    case TV_STR: return val_strn(v->u.str.s, v->u.str.n);
    case TV_LIST: {
        val *l = val_list();
        for (size_t i = 0; i < v->u.list.n; i++) val_list_push(l, to_val(v->u.list.items[i]));
        return l;
    }
    case TV_DICT: {
        val *d = val_dict();
        for (size_t i = 0; i < v->u.dict.n; i++)
            val_dict_setn(d, v->u.dict.e[i].k->u.str.s, v->u.dict.e[i].k->u.str.n, to_val(v->u.dict.e[i].v));
        return d;
    }
    default: return val_null();
    }
}

val *tv_to_val(rstate *rs, const node *at, const tv *v, int depth) {
    json_check(rs, at, v, depth);
    return to_val(v);
}
