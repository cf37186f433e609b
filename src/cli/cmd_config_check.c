/* newt config-check CONFIG [--key value ...] [--json]: loads and validates a config, prints
 * the keys that are not supported yet or ignored, then the resolved config (the keys that are
 * set) as YAML, or as one JSON object per line with --json. Exit 1 on a bad config. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "cli/cli.h"
#include "config/config.h"
#include "formats/yaml.h"
#include "value/pyrepr.h"

/* JSON: Python's json.dumps spelling. YAML: what PyYAML writes, so it reads back as a float
 * ("2.0e-05", since YAML 1.1 needs the dot; ".inf"). */
static void put_float(nt_buf *b, double f, bool json) {
    char r[40];
    val_float_repr(r, f);
    if (isnan(f)) nt_buf_puts(b, json ? "NaN" : ".nan");
    else if (isinf(f)) nt_buf_puts(b, json ? (f > 0 ? "Infinity" : "-Infinity") : (f > 0 ? ".inf" : "-.inf"));
    else if (!json && !strchr(r, '.')) {
        char *e = strchr(r, 'e');
        nt_buf_printf(b, "%.*s.0%s", (int)(e - r), r, e);
    } else nt_buf_puts(b, r);
}

/* A value as YAML flow / JSON text (strings double-quoted, so valid in both). */
static void put_value(nt_buf *b, const val *v, bool json) {
    switch (v->kind) {
    case VAL_NULL: nt_buf_puts(b, "null"); break;
    case VAL_BOOL: nt_buf_puts(b, v->u.b ? "true" : "false"); break;
    case VAL_INT: nt_buf_printf(b, "%lld", (long long)v->u.i); break;
    case VAL_FLOAT: put_float(b, v->u.f, json); break;
    case VAL_STR:
        nt_buf_putc(b, '"');
        for (size_t i = 0; i < v->u.str.n; i++) {
            unsigned char c = (unsigned char)v->u.str.s[i];
            if (c == '"' || c == '\\') nt_buf_printf(b, "\\%c", c);
            else if (c < 0x20) nt_buf_printf(b, "\\u%04x", c);
            else nt_buf_putc(b, (char)c);
        }
        nt_buf_putc(b, '"');
        break;
    case VAL_LIST:
        nt_buf_putc(b, '[');
        for (size_t i = 0; i < val_list_len(v); i++) {
            if (i) nt_buf_puts(b, ", ");
            put_value(b, val_list_get(v, i), json);
        }
        nt_buf_putc(b, ']');
        break;
    case VAL_DICT:
        nt_buf_putc(b, '{');
        for (size_t i = 0, first = 1; i < val_dict_len(v); i++) {
            const val_entry *e = val_dict_entry(v, i);
            if (e->value->kind == VAL_NULL) continue; /* unset keys of dataset entries */
            if (!first) nt_buf_puts(b, ", ");
            first = 0;
            put_value(b, e->key, json);
            nt_buf_puts(b, ": ");
            put_value(b, e->value, json);
        }
        nt_buf_putc(b, '}');
        break;
    }
}

static void print_config(const cfg *c, bool json) {
    nt_buf b = {0};
    nt_buf_printf(&b, "# %s: valid; %zu key(s) not supported yet or ignored\n", c->path, c->nreports);
    for (size_t i = 0; i < c->nreports; i++) nt_buf_printf(&b, "# %s\n", c->reports[i].msg);
    for (size_t i = 0; i < val_dict_len(c->values); i++) {
        const val_entry *e = val_dict_entry(c->values, i);
        if (e->value->kind == VAL_NULL) continue;
        if (json) nt_buf_putc(&b, '{');
        if (json) put_value(&b, e->key, json);
        else nt_buf_puts(&b, e->key->u.str.s);
        nt_buf_puts(&b, ": ");
        put_value(&b, e->value, json);
        nt_buf_puts(&b, json ? "}\n" : "\n");
    }
    fwrite(b.data, 1, b.len, stdout);
    nt_buf_free(&b);
}

static int usage(void) {
    printf("usage: newt config-check CONFIG [--json] [--key value | --key=value | --flag ...]\n\n"
           "Loads and validates CONFIG with the overrides, lists keys that are not supported yet\n"
           "or ignored, and prints the resolved config (YAML; --json: one JSON object per line).\n");
    return 0;
}

int cli_cmd_config_check(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return usage();
    if (argc < 2 || argv[1][0] == '-') {
        cli_error("config-check: expected a config file (newt config-check CONFIG [overrides])");
        return 2;
    }
    bool json = false;
    char **ov = nt_xmalloc((size_t)argc * sizeof *ov);
    int nov = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else ov[nov++] = argv[i];
    }
    cfg *c = NULL;
    nt_err err = {0};
    nt_status st = cfg_load_file(argv[1], nov, ov, &c, &err);
    free(ov);
    if (st) {
        cli_error("%s", err.msg);
        return 1;
    }
    print_config(c, json);
    cfg_free(c);
    return ferror(stdout) ? 1 : 0;
}
