/* JSON to and from values (value/value.h).
 *
 * Parsing is RFC 8259 plus what Python's json.loads also accepts (NaN, Infinity, -Infinity).
 * Integers that fit int64 become VAL_INT, others VAL_FLOAT. Duplicate keys: the last value
 * wins at the first key's position (Python dict semantics). Errors name line and column.
 *
 * Serialization reproduces Python's json.dumps byte for byte for the same value (chat
 * templates' `tojson` depends on it): separators ", " and ": " ("," and ": " when
 * indenting, or as set), floats as Python's repr, NaN/Infinity/-Infinity, key order kept
 * unless sort_keys. Strings: \" \\ \n \r \t \b \f, \u00XX for other controls; with
 * ensure_ascii everything outside ' '..'~' as \uXXXX (lower-case hex, surrogate pairs),
 * without it raw UTF-8. Where Python and C differ: a lone surrogate is always written as
 * \udXXX (raw it would be invalid UTF-8), invalid UTF-8 bytes as U+FFFD, a container
 * inside itself as null (Python raises). Integers beyond int64 were read as doubles and so
 * print as floats. See docs/formats.md. */
#ifndef NEWT_FORMATS_JSON_H
#define NEWT_FORMATS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/mem.h"
#include "value/value.h"

/* Nesting deeper than this is an error (NT_ELIMIT), never a stack overflow. */
#define JSON_MAX_DEPTH 512

/* Parses text[0..n) (need not be NUL-terminated). On success *out is a new reference. */
nt_status json_parse(const char *text, size_t n, val **out, nt_err *err);
/* Reads and parses a file; errors are prefixed with the path. */
nt_status json_parse_file(const char *path, val **out, nt_err *err);

typedef struct {
    int indent;             /* < 0: no newlines (Python indent=None); >= 0: pretty, N spaces */
    bool ensure_ascii;      /* Python's default is true; transformers' tojson uses false */
    bool sort_keys;
    const char *item_sep;   /* NULL: ", " without indent, "," with indent */
    const char *key_sep;    /* NULL: ": " */
} json_opts;

/* Python json.dumps(x, ensure_ascii=False) defaults. */
#define JSON_OPTS_PY ((json_opts){.indent = -1, .ensure_ascii = false})

/* Appends the serialization of v to b. NaN/Infinity are written as Python does. o may be
 * NULL (JSON_OPTS_PY). */
void json_dump(nt_buf *b, const val *v, const json_opts *o);
/* Convenience: a fresh NUL-terminated string (len optional). */
char *json_dumps(const val *v, const json_opts *o, size_t *len);

/* Python repr() of a float ("1.0", "1e-05", "inf", "nan", "1.5e+300"): the shortest digit
 * string that round-trips, formatted by Python's rules. buf must hold 32 bytes. Same as
 * val_float_repr (value/pyrepr.h), which also gives Python's repr/str of whole values. */
void json_float_repr(char *buf, double f);

#endif
