/* Command-line overrides in axolotl's spelling: --learning-rate 1e-4, --learning_rate=1e-4,
 * and a bare --gradient-checkpointing (true, for keys that take a bool). Values are YAML
 * scalars, so they mean what they would in the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "config/config_internal.h"
#include "formats/yaml.h"

static bool takes_bool(const cfg_key *k) { return k->type == CFG_BOOL || k->type == CFG_BOOL_ENUM; }

static bool is_flag(const char *s) { return s[0] == '-' && s[1] == '-'; }

/* Parses the override's text as YAML; "" is null (unset), like an empty value in a file. */
static nt_status parse_value(const char *flag, const char *text, val **out, nt_err *err) {
    nt_status st = yml_parse(text, strlen(text), out, err);
    if (st) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return nt_err_set(err, NT_EINVAL, "--%s: cannot read value '%s': %s (command line)", flag, text, msg);
    }
    return NT_OK;
}

/* One override starting at argv[*i]; advances *i past its value. */
static nt_status apply_one(val *root, int n, char **argv, int *i, val *origin, nt_err *err) {
    const char *arg = argv[*i];
    if (!is_flag(arg) || !arg[2])
        return nt_err_set(err, NT_EINVAL, "unexpected argument '%s' (overrides are --key value or "
                          "--key=value)", arg);
    const char *eq = strchr(arg, '=');
    char *flag = nt_xstrndup(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
    char *key = nt_xstrdup(flag);
    for (char *p = key; *p; p++) if (*p == '-') *p = '_';
    const cfg_key *k = cfg_schema_find(cfg_schema, key);
    nt_status st = NT_OK;
    val *v = NULL;
    char at[300];
    snprintf(at, sizeof at, " (command line: %s)", arg);
    if (!k) st = cfg_unknown_key(cfg_schema, key, key, at, err);
    else if (eq) st = parse_value(flag, eq + 1, &v, err);
    else if (*i + 1 >= n || is_flag(argv[*i + 1])) {
        if (takes_bool(k)) v = val_bool(true);
        else st = nt_err_set(err, NT_EINVAL, "--%s needs a value (%s is a %s)", flag, key, cfg_type_name(k));
    } else {
        st = parse_value(flag, argv[++*i], &v, err);
    }
    if (!st) {
        val_dict_set(root, key, v);
        val_dict_set(origin, key, val_bool(true));
    }
    free(flag);
    free(key);
    return st;
}

nt_status cfg_apply_overrides(val *root, int n, char **argv, val *origin, nt_err *err) {
    for (int i = 0; i < n; i++) {
        nt_status st = apply_one(root, n, argv, &i, origin, err);
        if (st) return st;
    }
    return NT_OK;
}
