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
    case TV_LIST: return v->u.list.n != 0;
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

bool tv_eq(const tv *a, const tv *b) {
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
            if (!tv_eq(a->u.list.items[i], b->u.list.items[i])) return false;
        return true;
    case TV_DICT:
        if (a->u.dict.n != b->u.dict.n) return false;
        for (size_t i = 0; i < a->u.dict.n; i++) {
            tv *o = tv_dict_getv(b, a->u.dict.e[i].k);
            if (!o || !tv_eq(a->u.dict.e[i].v, o)) return false;
        }
        return true;
    default: return a == b;
    }
}

int tv_cmp(rstate *rs, const node *at, const tv *a, const tv *b) {
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
            return tv_cmp(rs, at, a->u.list.items[i], b->u.list.items[i]);
        }
        return a->u.list.n < b->u.list.n ? -1 : a->u.list.n > b->u.list.n;
    }
    rs_fail(rs, at, NT_EINVAL, "'<' not supported between instances of '%s' and '%s'",
            tv_type_name(a), tv_type_name(b));
}

/* Python repr of a str, via the value module's implementation. */
static void repr_str(nt_buf *b, const char *s, size_t n) {
    val *v = val_strn(s, n);
    val_py_repr(b, v);
    val_unref(v);
}

void tv_repr(rstate *rs, const node *at, nt_buf *b, const tv *v) {
    char num[40];
    if (b->len > rs->max_output) rs_fail(rs, at, NT_ELIMIT, "repr() output too large");
    switch (v->kind) {
    case TV_UNDEF: nt_buf_puts(b, "Undefined"); return;
    case TV_NONE: nt_buf_puts(b, "None"); return;
    case TV_BOOL: nt_buf_puts(b, v->u.b ? "True" : "False"); return;
    case TV_INT: nt_buf_printf(b, "%" PRId64, v->u.i); return;
    case TV_FLOAT: val_float_repr(num, v->u.f); nt_buf_puts(b, num); return;
    case TV_STR: repr_str(b, v->u.str.s, v->u.str.n); return;
    case TV_LIST:
        nt_buf_putc(b, v->tup ? '(' : '[');
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i) nt_buf_puts(b, ", ");
            tv_repr(rs, at, b, v->u.list.items[i]);
        }
        nt_buf_puts(b, v->tup ? (v->u.list.n == 1 ? ",)" : ")") : "]");
        return;
    case TV_DICT: case TV_NS:
        nt_buf_puts(b, v->kind == TV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v->u.dict.n; i++) {
            if (i) nt_buf_puts(b, ", ");
            tv_repr(rs, at, b, v->u.dict.e[i].k);
            nt_buf_puts(b, ": ");
            tv_repr(rs, at, b, v->u.dict.e[i].v);
        }
        nt_buf_puts(b, v->kind == TV_NS ? "}>" : "}");
        return;
    default: nt_buf_printf(b, "<%s>", tv_type_name(v)); return;
    }
}

tv *tv_to_str(rstate *rs, const node *at, tv *v) {
    char num[40];
    switch (v->kind) {
    case TV_STR: return v;
    case TV_UNDEF: return tv_strn(rs, "", 0, 0);
    case TV_INT: snprintf(num, sizeof num, "%" PRId64, v->u.i); return tv_strn(rs, num, strlen(num), v->t);
    case TV_FLOAT: val_float_repr(num, v->u.f); return tv_strn(rs, num, strlen(num), v->t);
    default: {
        nt_buf b = {0};
        tv_repr(rs, at, &b, v);
        tv *s = tv_strn(rs, b.data ? b.data : "", b.len, v->t);
        nt_buf_free(&b);
        return s;
    }
    }
}

int64_t tv_len(rstate *rs, const node *at, tv *v) {
    switch (v->kind) {
    case TV_UNDEF: return 0;
    case TV_STR: return (int64_t)utf8_len(v->u.str.s, v->u.str.n);
    case TV_LIST: return (int64_t)v->u.list.n;
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

val *tv_to_val(rstate *rs, const node *at, const tv *v, int depth) {
    if (depth > JSON_DEPTH_GUARD) rs_fail(rs, at, NT_ELIMIT, "value nested too deeply");
    switch (v->kind) {
    case TV_NONE: return val_null();
    case TV_BOOL: return val_bool(v->u.b);
    case TV_INT: return val_int(v->u.i);
    case TV_FLOAT: return val_float(v->u.f);
    case TV_STR: return val_strn(v->u.str.s, v->u.str.n);
    case TV_LIST: {
        val *l = val_list();
        for (size_t i = 0; i < v->u.list.n; i++)
            val_list_push(l, tv_to_val(rs, at, v->u.list.items[i], depth + 1));
        return l;
    }
    case TV_DICT: {
        val *d = val_dict();
        for (size_t i = 0; i < v->u.dict.n; i++) {
            const tv *k = v->u.dict.e[i].k;
            val *x = tv_to_val(rs, at, v->u.dict.e[i].v, depth + 1);
            if (k->kind != TV_STR) {
                val_unref(x);
                val_unref(d);
                rs_fail(rs, at, NT_EINVAL, "keys must be str, int, float, bool or None, not %s",
                        tv_type_name(k));
            }
            val_dict_setn(d, k->u.str.s, k->u.str.n, x);
        }
        return d;
    }
    default:
        rs_fail(rs, at, NT_EINVAL, "Object of type %s is not JSON serializable", tv_type_name(v));
    }
}
