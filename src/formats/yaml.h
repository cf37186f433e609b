/* YAML to values (value/value.h) with the scalar rules of PyYAML's `yaml.safe_load`, so a
 * config means here what it means to axolotl (YAML 1.1 resolver):
 *
 *   plain scalar        value
 *   yes/No/ON/off/true  bool (exact spellings: lower, Capitalised, UPPER)
 *   ~ null Null NULL "" null
 *   1_000 0x1F 017 0b11 1:30      int (decimal with _, hex, leading-0 octal, binary,
 *                                 sexagesimal); `0o17` is a string, as in PyYAML
 *   1.0 1. .5 1.0e-4 .inf -.Inf .nan 1:30.5      float: a dot is REQUIRED and an
 *                                 exponent needs a sign, so `1e-4` and `1.0e5` are strings
 *   everything else     str; quoted and block scalars are always str
 *
 * Explicit tags !!str !!int !!float !!bool !!null !!map !!seq are honoured (`!!int 0o17`
 * is 15, as Python's int(x, 8) allows); other tags are errors, as in safe_load. Anchors and
 * aliases share the value (like Python objects); merge keys `<<` follow PyYAML (merged
 * entries first, the mapping's own keys win, earlier mappings of a merge list win).
 * Non-string keys become the string json.dumps would write (1 -> "1", true -> "true",
 * null -> "null"); list or dict keys are errors ("unhashable key"). Timestamps stay
 * strings (PyYAML would build datetime objects). Exactly one document, like safe_load: an
 * empty stream is null, a second document is an error.
 *
 * Limits keep hostile input from exhausting memory or stack: nesting depth, input size,
 * and the number of nodes counted WITH alias expansion (a "billion laughs" document is
 * rejected as soon as its expanded size passes the limit, before anything is expanded). */
#ifndef NEWT_FORMATS_YAML_H
#define NEWT_FORMATS_YAML_H

#include <stddef.h>

#include "base/error.h"
#include "value/value.h"

#define YML_MAX_DEPTH 256
#define YML_MAX_NODES 1000000        /* nodes after alias expansion */
#define YML_MAX_INPUT (64u << 20)    /* bytes */

/* Parses text[0..n). On success *out is a new reference. Errors (NT_EPARSE, NT_ELIMIT)
 * read "<name>:LINE:COL: problem", name being "<string>" here. */
nt_status yml_parse(const char *text, size_t n, val **out, nt_err *err);

/* Reads and parses a file; errors read "path:LINE:COL: problem". */
nt_status yml_parse_file(const char *path, val **out, nt_err *err);

/* Like yml_parse, with source positions: name is used in error messages, and when locs is
 * non-NULL *locs becomes a dict from value paths to 1-based line numbers: "lr" for a
 * top-level key, "datasets[0].path" for nested ones (the line of the key or list item).
 * Paths reached only through aliases or merges have no entry. */
nt_status yml_parse_ex(const char *text, size_t n, const char *name, val **out, val **locs,
                       nt_err *err);


#endif
