/* A training config: the YAML file plus command-line overrides, checked against the schema
 * (config/schema.h), with defaults filled in.
 *
 *   cfg *c = NULL;
 *   nt_err err = {0};
 *   if (cfg_load_file("qlora.yml", argc, argv, &c, &err)) { cli_error("%s", err.msg); ... }
 *   for (size_t i = 0; i < c->nreports; i++) warn("%s", c->reports[i].msg);
 *   double lr = cfg_get_float(c, "learning_rate");
 *   cfg_free(c);
 *
 * Errors name the key, the value and where it came from:
 *   "learning_rate: expected a number, got 'fast' (config.yml:12)"
 *   "unknown key 'learnig_rate' — did you mean 'learning_rate'? (config.yml:3)"
 * Overrides use axolotl's spelling: --learning-rate 1e-4, --learning_rate=1e-4, and a bare
 * --gradient-checkpointing means true for bool keys; values are read as YAML scalars. */
#ifndef NEWT_CONFIG_CONFIG_H
#define NEWT_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "config/schema.h"
#include "value/value.h"

typedef struct {
    char *key;        /* "wandb_project", "datasets[0].type" */
    cfg_status status; /* CFG_NOT_YET or CFG_IGNORED */
    char *msg;        /* "wandb_project: ignored (not available offline ...) (config.yml:30)" */
} cfg_report;

typedef struct {
    char *path;       /* the config file ("<string>" for text) */
    val *values;      /* dict: every schema key, in table order -> resolved value (null: unset) */
    cfg_report *reports;
    size_t nreports;
} cfg;

/* Loads, overrides, validates. overrides are argv-style ("--key", "value", "--flag", ...). */
nt_status cfg_load_file(const char *path, int noverrides, char **overrides, cfg **out, nt_err *err);
/* The same from text; name is used in messages. */
nt_status cfg_load_text(const char *text, size_t n, const char *name, int noverrides,
                        char **overrides, cfg **out, nt_err *err);
void cfg_free(cfg *c);

/* Borrowed resolved value (a null value when unset); NULL for a name that is not a key. */
const val *cfg_get(const cfg *c, const char *key);
bool cfg_is_set(const cfg *c, const char *key);
int64_t cfg_get_int(const cfg *c, const char *key);      /* 0 when unset or not an int */
double cfg_get_float(const cfg *c, const char *key);     /* 0.0 when unset; ints convert */
bool cfg_get_bool(const cfg *c, const char *key);        /* false when unset or not a bool */
const char *cfg_get_str(const cfg *c, const char *key);  /* NULL when unset or not a str */

/* A short rendering of a value for messages: 'fast', 1e-05, true, null, a list, a mapping. */
void cfg_value_brief(const val *v, char *buf, size_t cap);

/* Cross-key rules (exclusive pairs, adapter needs, ...) over a resolved config. */
nt_status cfg_check_cross(const cfg *c, nt_err *err);

#endif
