/* Lookups over the schema tables: find, typo suggestions, names, enum matching, stock checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/config_internal.h"

const cfg_key *cfg_schema_find(const cfg_key *table, const char *name) {
    for (const cfg_key *k = table; k->name; k++)
        if (!strcmp(k->name, name)) return k;
    return NULL;
}

/* Optimal-string-alignment distance: insert, delete, substitute, swap neighbours. */
size_t cfg_edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 200 || m > 200) return (size_t)-1;
    size_t *d = calloc((n + 1) * (m + 1), sizeof *d);
    if (!d) return (size_t)-1;
#define D(i, j) d[(i) * (m + 1) + (j)]
    for (size_t i = 0; i <= n; i++) D(i, 0) = i;
    for (size_t j = 0; j <= m; j++) D(0, j) = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1], best = D(i - 1, j - 1) + cost;
            if (D(i - 1, j) + 1 < best) best = D(i - 1, j) + 1;
            if (D(i, j - 1) + 1 < best) best = D(i, j - 1) + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && D(i - 2, j - 2) + 1 < best)
                best = D(i - 2, j - 2) + 1;
            D(i, j) = best;
        }
    size_t r = D(n, m);
#undef D
    free(d);
    return r;
}

const char *cfg_schema_suggest(const cfg_key *table, const char *name) {
    size_t len = strlen(name), limit = len / 3 < 1 ? 1 : len / 3 > 3 ? 3 : len / 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (const cfg_key *k = table; k->name; k++) {
        size_t dist = cfg_edit_distance(name, k->name);
        if (dist < best_d) { best_d = dist; best = k->name; }
    }
    return best;
}

const char *cfg_type_name(const cfg_key *k) {
    static const char *const names[] = {
        [CFG_BOOL] = "bool", [CFG_INT] = "int", [CFG_FLOAT] = "float", [CFG_STR] = "str",
        [CFG_ENUM] = "enum", [CFG_BOOL_ENUM] = "bool|enum", [CFG_STR_LIST] = "str|list",
        [CFG_LIST] = "list", [CFG_DICT] = "dict", [CFG_STR_DICT] = "str|dict",
        [CFG_NUMBER] = "int|float", [CFG_ANY] = "any", [CFG_DATASETS] = "list[dataset]",
    };
    return names[k->type];
}

const char *cfg_status_name(cfg_status s) {
    return s == CFG_SUPPORTED ? "supported" : s == CFG_NOT_YET ? "not yet" : "ignored";
}

bool cfg_enum_allows(const char *choices, const char *s) {
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len > 0 && p[len - 1] == '*') { /* prefix choice */
            if (n >= len - 1 && !strncmp(s, p, len - 1)) return true;
        } else if (len == n && !strncmp(s, p, n)) {
            return true;
        }
        p += len + (bar ? 1 : 0);
    }
    return false;
}

static nt_status range_fail(const val *v, const char *want, nt_err *err) {
    char got[96];
    cfg_value_brief(v, got, sizeof got);
    return nt_err_set(err, NT_EINVAL, "must be %s, got %s", want, got);
}

nt_status cfg_check_positive(const cfg_key *k, const val *v, nt_err *err) {
    return val_to_double(v) > 0 ? NT_OK : range_fail(v, "> 0", err);
}

nt_status cfg_check_at_least_1(const cfg_key *k, const val *v, nt_err *err) {
    return val_to_double(v) >= 1 ? NT_OK : range_fail(v, ">= 1", err);
}

nt_status cfg_check_non_negative(const cfg_key *k, const val *v, nt_err *err) {
    return val_to_double(v) >= 0 ? NT_OK : range_fail(v, ">= 0", err);
}

nt_status cfg_check_unit_open(const cfg_key *k, const val *v, nt_err *err) {
    double x = val_to_double(v);
    return x >= 0 && x < 1 ? NT_OK : range_fail(v, "in [0, 1)", err);
}

nt_status cfg_check_unit_closed(const cfg_key *k, const val *v, nt_err *err) {
    double x = val_to_double(v);
    return x >= 0 && x <= 1 ? NT_OK : range_fail(v, "in [0, 1]", err);
}

/* axolotl's val_set_size: a fraction of the data below 1, or an absolute row count. */
nt_status cfg_check_fraction_or_count(const cfg_key *k, const val *v, nt_err *err) {
    double x = val_to_double(v);
    if (x >= 0 && x < 1) return NT_OK;
    if (x >= 1 && x < 9e15 && x == floor(x)) return NT_OK;
    return range_fail(v, "a fraction in [0, 1) or a whole row count", err);
}

void cfg_enum_hint(const char *choices, const char *s, char *buf, size_t cap) {
    size_t best_d = strlen(s) / 3 < 1 ? 1 : strlen(s) / 3 > 3 ? 3 : strlen(s) / 3;
    buf[0] = '\0';
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        char choice[64];
        snprintf(choice, sizeof choice, "%.*s", (int)len, p);
        size_t d = strchr(choice, '*') ? (size_t)-1 : cfg_edit_distance(s, choice);
        if (d <= best_d) {
            best_d = d;
            snprintf(buf, cap, " — did you mean '%s'?", choice);
        }
        p += len + (bar ? 1 : 0);
    }
}

nt_status cfg_unknown_key(const cfg_key *table, const char *path, const char *name,
                          const char *where, nt_err *err) {
    const char *near = cfg_schema_suggest(table, name);
    if (near)
        return nt_err_set(err, NT_EINVAL, "unknown key '%s' — did you mean '%s'?%s", path, near, where);
    return nt_err_set(err, NT_EINVAL, "unknown key '%s'%s", path, where);
}
