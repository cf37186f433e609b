/* Turns one given value into the value a key's type wants, or says what was expected.
 * Float keys take numeric strings because YAML 1.1 reads `1e-4` as a string (axolotl's
 * pydantic then converts it); int keys take integral strings and integral floats. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "formats/yaml.h"
#include "value/pyrepr.h"

void cfg_value_brief(const val *v, char *buf, size_t cap) {
    switch (v->kind) {
    case VAL_NULL: snprintf(buf, cap, "null"); break;
    case VAL_BOOL: snprintf(buf, cap, v->u.b ? "true" : "false"); break;
    case VAL_INT: snprintf(buf, cap, "%lld", (long long)v->u.i); break;
    case VAL_FLOAT: {
        char f[32];
        val_float_repr(f, v->u.f);
        snprintf(buf, cap, "%s", f);
        break;
    }
    case VAL_STR:
        snprintf(buf, cap, "'%.*s%s'", 60, v->u.str.s, v->u.str.n > 60 ? "..." : "");
        break;
    case VAL_LIST: snprintf(buf, cap, "a list"); break;
    case VAL_DICT: snprintf(buf, cap, "a mapping"); break;
    }
}

/* A whole-string decimal number (Python float() of a config string). */
static bool str_to_double(const val *v, double *out) {
    const char *s = v->u.str.s;
    if (!*s || strpbrk(s, "xXpP") || strlen(s) != v->u.str.n) return false;
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    while (*end == ' ') end++;
    return *end == '\0' && end != s && isfinite(*out);
}

static val *as_int(const val *v) {
    double d;
    if (v->kind == VAL_INT) return val_ref((val *)v);
    if (v->kind == VAL_FLOAT && v->u.f == floor(v->u.f) && fabs(v->u.f) < 9e15)
        return val_int((int64_t)v->u.f);
    if (v->kind == VAL_STR && str_to_double(v, &d) && d == floor(d) && fabs(d) < 9e15 &&
        !strpbrk(v->u.str.s, ".eE"))
        return val_int((int64_t)d);
    return NULL;
}

static val *as_float(const val *v) {
    double d;
    if (v->kind == VAL_INT) return val_float((double)v->u.i);
    if (v->kind == VAL_FLOAT) return val_ref((val *)v);
    if (v->kind == VAL_STR && str_to_double(v, &d)) return val_float(d);
    return NULL;
}

static bool all_strings(const val *l) {
    for (size_t i = 0; i < val_list_len(l); i++)
        if (val_list_get(l, i)->kind != VAL_STR) return false;
    return true;
}

static val *same_if(const val *v, bool ok) { return ok ? val_ref((val *)v) : NULL; }

/* The coerced value, or NULL when the type does not fit. */
static val *coerce(const cfg_key *k, const val *v) {
    switch (k->type) {
    case CFG_BOOL: return same_if(v, v->kind == VAL_BOOL);
    case CFG_INT: return as_int(v);
    case CFG_FLOAT: return as_float(v);
    case CFG_NUMBER: return v->kind == VAL_STR ? as_float(v) : same_if(v, val_is_number(v));
    case CFG_STR: return same_if(v, v->kind == VAL_STR);
    case CFG_ENUM: return same_if(v, v->kind == VAL_STR && cfg_enum_allows(k->choices, v->u.str.s));
    case CFG_BOOL_ENUM:
        return same_if(v, v->kind == VAL_BOOL || (v->kind == VAL_STR && cfg_enum_allows(k->choices, v->u.str.s)));
    case CFG_STR_LIST: return same_if(v, v->kind == VAL_STR || (v->kind == VAL_LIST && all_strings(v)));
    case CFG_LIST: return same_if(v, v->kind == VAL_LIST);
    case CFG_DICT: return same_if(v, v->kind == VAL_DICT);
    case CFG_STR_DICT: return same_if(v, v->kind == VAL_STR || v->kind == VAL_DICT);
    case CFG_DATASETS: return same_if(v, v->kind == VAL_LIST);
    case CFG_ANY: return val_ref((val *)v);
    }
    return NULL;
}

static const char *expected(const cfg_key *k, char *buf, size_t cap) {
    switch (k->type) {
    case CFG_BOOL: return "expected true or false";
    case CFG_INT: return "expected an integer";
    case CFG_FLOAT: case CFG_NUMBER: return "expected a number";
    case CFG_STR: return "expected a string";
    case CFG_ENUM: snprintf(buf, cap, "expected one of %s", k->choices); return buf;
    case CFG_BOOL_ENUM: snprintf(buf, cap, "expected true, false or one of %s", k->choices); return buf;
    case CFG_STR_LIST: return "expected a string or a list of strings";
    case CFG_LIST: return "expected a list";
    case CFG_DICT: return "expected a mapping";
    case CFG_STR_DICT: return "expected a path or a mapping";
    case CFG_DATASETS: return "expected a list of dataset entries";
    case CFG_ANY: break;
    }
    return "unexpected value";
}

nt_status cfg_coerce_value(const cfg_key *k, const val *v, const char *path, const char *where,
                           val **out, nt_err *err) {
    char got[96], want[1024], hint[160] = "";
    if (v->kind == VAL_NULL) { *out = val_null(); return NT_OK; }
    *out = coerce(k, v);
    if (!*out) {
        cfg_value_brief(v, got, sizeof got);
        if (v->kind == VAL_STR && (k->type == CFG_ENUM || k->type == CFG_BOOL_ENUM))
            cfg_enum_hint(k->choices, v->u.str.s, hint, sizeof hint);
        return nt_err_set(err, NT_EINVAL, "%s: %s, got %s%s%s", path, expected(k, want, sizeof want),
                          got, hint, where);
    }
    if (!k->check) return NT_OK;
    nt_status st = k->check(k, *out, err);
    if (!st) return NT_OK;
    val_unref(*out);
    *out = NULL;
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
    return nt_err_set(err, st, "%s: %s%s", path, msg, where);
}
