/* The config schema as data: one row per key (name, type, default, status, doc, check).
 * Adding a key, or flipping one from NOT_YET to SUPPORTED, is a one-line change in
 * config/schema.c. Keys follow axolotl's spelling so users' YAML files load unchanged. */
#ifndef NEWT_CONFIG_SCHEMA_H
#define NEWT_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/mem.h"
#include "value/value.h"

typedef enum {
    CFG_BOOL,        /* true/false */
    CFG_INT,         /* int, or a string/float holding an integral number */
    CFG_FLOAT,       /* int, float, or a numeric string ("1e-4", which YAML 1.1 reads as str) */
    CFG_STR,
    CFG_ENUM,        /* a string among `choices` ("a|b|c"; "x*" matches a prefix) */
    CFG_BOOL_ENUM,   /* a bool, or a string among `choices` (bf16: true|false|auto) */
    CFG_STR_LIST,    /* a string or a list of strings */
    CFG_LIST,
    CFG_DICT,
    CFG_STR_DICT,    /* a path, or an inline dict (deepspeed) */
    CFG_NUMBER,      /* int or float kept as given (val_set_size: fraction or count) */
    CFG_ANY,
    CFG_DATASETS,    /* a list of dataset entries, each checked against cfg_dataset_schema */
} cfg_type;

typedef enum {
    CFG_SUPPORTED,   /* newt honours it */
    CFG_NOT_YET,     /* accepted, reported as "not supported yet" */
    CFG_IGNORED,     /* accepted, reported as not applicable (the doc says why) */
} cfg_status;

typedef struct cfg_key cfg_key;

/* Checks one resolved, non-null value; the message names the key (the caller adds where). */
typedef nt_status (*cfg_check_fn)(const cfg_key *k, const val *v, nt_err *err);

struct cfg_key {
    const char *name;
    cfg_type type;
    const char *dflt;    /* YAML text of the default; NULL: unset (null) */
    cfg_status status;
    const char *doc;     /* one line; for IGNORED keys, why */
    const char *choices; /* CFG_ENUM / CFG_BOOL_ENUM */
    cfg_check_fn check;  /* optional range/shape check */
    bool required;
};

/* The top-level table and the per-dataset-entry table, each ended by a row with name NULL. */
extern const cfg_key cfg_schema[];
extern const cfg_key cfg_dataset_schema[];

const cfg_key *cfg_schema_find(const cfg_key *table, const char *name);
/* The table's name closest to `name` by Damerau-Levenshtein distance, or NULL if none is
 * close enough to be a plausible typo. */
const char *cfg_schema_suggest(const cfg_key *table, const char *name);
size_t cfg_edit_distance(const char *a, const char *b);

const char *cfg_type_name(const cfg_key *k);   /* "float", "enum", "bool|enum", ... */
const char *cfg_status_name(cfg_status s);     /* "supported", "not yet", "ignored" */
bool cfg_enum_allows(const char *choices, const char *s);

/* Stock checks used by table rows. */
nt_status cfg_check_positive(const cfg_key *k, const val *v, nt_err *err);     /* > 0 */
nt_status cfg_check_at_least_1(const cfg_key *k, const val *v, nt_err *err);   /* >= 1 */
nt_status cfg_check_non_negative(const cfg_key *k, const val *v, nt_err *err); /* >= 0 */
nt_status cfg_check_unit_open(const cfg_key *k, const val *v, nt_err *err);    /* [0, 1) */
nt_status cfg_check_unit_closed(const cfg_key *k, const val *v, nt_err *err);  /* [0, 1] */
nt_status cfg_check_fraction_or_count(const cfg_key *k, const val *v, nt_err *err);

/* The schema as text: an aligned table, or the markdown of docs/config.md. */
void cfg_schema_text(nt_buf *b);
void cfg_schema_markdown(nt_buf *b);

#endif
