/* Config loading: parse the YAML (keeping key lines), apply overrides, then resolve each
 * mapping (top level, each dataset entry) against its schema table. */
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "config/config_internal.h"
#include "formats/yaml.h"

typedef struct {
    const char *name;  /* file name for messages */
    val *locs;         /* value path -> line (from the YAML parser) */
    val *origin;       /* top-level keys set on the command line */
    cfg *c;
    nt_err *err;
} cfg_loader;

/* " (config.yml:12)", " (command line)" or " (config.yml)" for a value path. */
static void where(const cfg_loader *ld, const char *path, char *buf, size_t cap) {
    size_t top = strcspn(path, ".[");
    const val *line = val_dict_get(ld->locs, path);
    if (val_dict_getn(ld->origin, path, top)) snprintf(buf, cap, " (command line)");
    else if (line || (line = val_dict_getn(ld->locs, path, top)))
        snprintf(buf, cap, " (%s:%lld)", ld->name, (long long)line->u.i);
    else snprintf(buf, cap, " (%s)", ld->name);
}

static void add_report(cfg_loader *ld, const cfg_key *k, const char *path) {
    char at[300];
    where(ld, path, at, sizeof at);
    cfg *c = ld->c;
    c->reports = nt_xrealloc(c->reports, (c->nreports + 1) * sizeof *c->reports);
    cfg_report *r = &c->reports[c->nreports++];
    r->key = nt_xstrdup(path);
    r->status = k->status;
    r->msg = k->status == CFG_NOT_YET ? nt_xasprintf("%s: not supported yet%s", path, at)
                                      : nt_xasprintf("%s: ignored — %s%s", path, k->doc, at);
}

static nt_status resolve_dict(cfg_loader *ld, const cfg_key *table, const val *in, const char *prefix,
                              val *out);

static nt_status resolve_datasets(cfg_loader *ld, const char *path, const val *list, val **out) {
    char at[300];
    nt_status st = NT_OK;
    *out = val_list();
    for (size_t i = 0; i < val_list_len(list) && !st; i++) {
        const val *entry = val_list_get(list, i);
        char *sub = nt_xasprintf("%s[%zu]", path, i);
        if (entry->kind != VAL_DICT) {
            char got[96];
            where(ld, sub, at, sizeof at);
            cfg_value_brief(entry, got, sizeof got);
            st = nt_err_set(ld->err, NT_EINVAL, "%s: expected a dataset entry (a mapping with path, "
                            "type, ...), got %s%s", sub, got, at);
        } else {
            val *d = val_dict();
            val_list_push(*out, d);
            st = resolve_dict(ld, cfg_dataset_schema, entry, sub, d);
        }
        free(sub);
    }
    return st;
}

/* One given key: known?, right type?, in range?, reported? */
static nt_status resolve_entry(cfg_loader *ld, const cfg_key *table, const char *key, const val *v,
                               const char *path, val *out) {
    char at[300];
    where(ld, path, at, sizeof at);
    const cfg_key *k = cfg_schema_find(table, key);
    if (!k) return cfg_unknown_key(table, path, key, at, ld->err);
    val *r = NULL;
    nt_status st = cfg_coerce_value(k, v, path, at, &r, ld->err);
    if (!st && v->kind != VAL_NULL && k->status != CFG_SUPPORTED) add_report(ld, k, path);
    if (!st && k->type == CFG_DATASETS && r->kind == VAL_LIST) {
        val *list = r;
        st = resolve_datasets(ld, path, list, &r);
        val_unref(list);
    }
    if (r) val_dict_set(out, key, r);
    return st;
}

static nt_status fill_default(cfg_loader *ld, const cfg_key *k, const char *path, val *out) {
    val *given = val_dict_get(out, k->name);
    if (given && given->kind != VAL_NULL) return NT_OK;
    if (k->required)
        return nt_err_set(ld->err, NT_EINVAL, "missing required key '%s' (%s)", path, ld->name);
    val *d = NULL, *r = NULL;
    if (k->dflt && yml_parse(k->dflt, strlen(k->dflt), &d, ld->err))
        return nt_err_prefix(ld->err, "schema default of '%s': ", k->name);
    nt_status st = cfg_coerce_value(k, d ? d : val_null(), path, " (schema default)", &r, ld->err);
    val_unref(d);
    if (!st) val_dict_set(out, k->name, r);
    return st;
}

/* Resolves the given mapping into out: every table key, in table order. */
static nt_status resolve_dict(cfg_loader *ld, const cfg_key *table, const val *in, const char *prefix,
                              val *out) {
    nt_status st = NT_OK;
    for (const cfg_key *k = table; k->name; k++) val_dict_set(out, k->name, val_null());
    for (size_t i = 0; i < val_dict_len(in) && !st; i++) {
        const val_entry *e = val_dict_entry(in, i);
        char *path = nt_xasprintf("%s%s%s", prefix, *prefix ? "." : "", e->key->u.str.s);
        st = resolve_entry(ld, table, e->key->u.str.s, e->value, path, out);
        free(path);
    }
    for (const cfg_key *k = table; k->name && !st; k++) {
        char *path = nt_xasprintf("%s%s%s", prefix, *prefix ? "." : "", k->name);
        st = fill_default(ld, k, path, out);
        free(path);
    }
    return st;
}

static nt_status load_root(cfg_loader *ld, const char *text, size_t n, int nov, char **ov, val **root) {
    nt_status st = yml_parse_ex(text, n, ld->name, root, &ld->locs, ld->err);
    if (st) return st;
    if ((*root)->kind == VAL_NULL) {
        val_unref(*root);
        *root = val_dict();
    }
    if ((*root)->kind != VAL_DICT) {
        char got[96];
        cfg_value_brief(*root, got, sizeof got);
        return nt_err_set(ld->err, NT_EINVAL, "%s: a config is a mapping of keys to values, got %s",
                          ld->name, got);
    }
    return cfg_apply_overrides(*root, nov, ov, ld->origin, ld->err);
}

nt_status cfg_load_text(const char *text, size_t n, const char *name, int noverrides,
                        char **overrides, cfg **out, nt_err *err) {
    *out = NULL;
    cfg *c = nt_xcalloc(1, sizeof *c);
    c->path = nt_xstrdup(name ? name : "<string>");
    c->values = val_dict();
    cfg_loader ld = {.name = c->path, .origin = val_dict(), .c = c, .err = err};
    val *root = NULL;
    nt_status st = load_root(&ld, text, n, noverrides, overrides, &root);
    if (!st) st = resolve_dict(&ld, cfg_schema, root, "", c->values);
    if (!st) st = cfg_check_cross(c, err);
    val_unref(root);
    val_unref(ld.locs);
    val_unref(ld.origin);
    if (st) cfg_free(c);
    else *out = c;
    return st;
}

nt_status cfg_load_file(const char *path, int noverrides, char **overrides, cfg **out, nt_err *err) {
    char *text = NULL;
    size_t n = 0;
    *out = NULL;
    nt_status st = nt_read_file(path, &text, &n, err);
    if (st) return st;
    st = cfg_load_text(text, n, path, noverrides, overrides, out, err);
    free(text);
    return st;
}

void cfg_free(cfg *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nreports; i++) {
        free(c->reports[i].key);
        free(c->reports[i].msg);
    }
    free(c->reports);
    val_unref(c->values);
    free(c->path);
    free(c);
}

const val *cfg_get(const cfg *c, const char *key) { return val_dict_get(c->values, key); }

bool cfg_is_set(const cfg *c, const char *key) {
    const val *v = cfg_get(c, key);
    return v && v->kind != VAL_NULL;
}

int64_t cfg_get_int(const cfg *c, const char *key) {
    const val *v = cfg_get(c, key);
    return v && v->kind == VAL_INT ? v->u.i : 0;
}

double cfg_get_float(const cfg *c, const char *key) {
    const val *v = cfg_get(c, key);
    return v && val_is_number(v) ? val_to_double(v) : 0.0;
}

bool cfg_get_bool(const cfg *c, const char *key) {
    const val *v = cfg_get(c, key);
    return v && v->kind == VAL_BOOL && v->u.b;
}

const char *cfg_get_str(const cfg *c, const char *key) {
    const val *v = cfg_get(c, key);
    return v && v->kind == VAL_STR ? v->u.str.s : NULL;
}
