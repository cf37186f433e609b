/* Python's repr() and str() of values, byte for byte (what chat templates print for
 * `{{ value }}` and what json.dumps writes for floats).
 *
 * Strings are UTF-8. Two kinds of bytes that a Python str cannot hold are handled this way:
 * - lone surrogates (U+D800..U+DFFF as 3-byte sequences, which json_parse keeps for a lone
 *   "\ud800" escape, as Python keeps it in its str) decode to that code point, so repr shows
 *   '\ud800' exactly as Python does;
 * - invalid UTF-8 bytes decode to U+FFFD, one per byte (Python's bytes.decode with
 *   errors="replace" would use one per maximal invalid subsequence; such strings never come
 *   from the JSON or YAML parsers). */
#ifndef NEWT_VALUE_PYREPR_H
#define NEWT_VALUE_PYREPR_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "value/value.h"

/* Python repr(float): the shortest digit string that reads back as f (ties: the nearest),
 * fixed notation when the decimal exponent is in [-4, 16), else "1e-05"/"1.5e+300"; integral
 * values keep ".0" in fixed notation ("1.0", "-0.0"); "inf", "-inf", "nan". */
void val_float_repr(char buf[32], double f);

/* Appends Python repr(v): None/True/False, 12, 1.5, 'it''s' quoting rules, [1, 'a'],
 * {'k': 1}. A container met again inside itself is written [...] / {...} as Python does. */
void val_py_repr(nt_buf *b, const val *v);

/* Appends Python str(v): a string's bytes unchanged, anything else as repr. */
void val_py_str(nt_buf *b, const val *v);

/* Whether Python's str.isprintable() holds for the code point (Unicode table of the
 * Python that generated src/value/pyprintable.inc; see val_unicode_version). */
bool val_cp_printable(uint32_t cp);
const char *val_unicode_version(void);

/* Decodes one code point from p[0..n) (n >= 1) into *cp and returns the bytes used (1..4).
 * Surrogate code points in 3-byte form are accepted; an invalid byte gives U+FFFD and 1. */
size_t val_utf8_next(const unsigned char *p, size_t n, uint32_t *cp);

#endif
