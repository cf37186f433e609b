/* Private helpers shared by the safetensors_*.c files (not part of the public API). */
#ifndef NEWT_FORMATS_SAFETENSORS_INTERNAL_H
#define NEWT_FORMATS_SAFETENSORS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "formats/safetensors.h"

/* String → index hash map (open addressing, FNV-1a). Keys are borrowed and must outlive the
 * map; tensor counts reach ~10^5 in a real checkpoint, so lookups must not be linear. */
typedef struct {
    const char *key;
    uint64_t hash;
    size_t value;
} st_map_slot;

typedef struct {
    st_map_slot *slots; /* key == NULL: empty */
    size_t cap, n;
} st_map;

/* Inserts key → value unless key is present; returns true if inserted, false if it was
 * already there (then *existing, if given, receives the stored value). */
bool st_map_put(st_map *m, const char *key, size_t value, size_t *existing);
/* Looks up key; returns false if absent. */
bool st_map_get(const st_map *m, const char *key, size_t *value);
void st_map_free(st_map *m);

/* Writes s[0..n) into out (size cap) as a printable, length-limited form for error messages:
 * control and non-ASCII bytes become \xNN, long names are cut with "...". Returns out. */
const char *st_quote(char *out, size_t cap, const char *s, size_t n);
#define ST_QUOTE_CAP 160

/* True if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool st_utf8_valid(const char *s, size_t n);

/* Sorts an array of tensor pointers by name (bytewise, as Python sorts str keys). */
void st_sort_by_name(const st_tensor **v, size_t n);

/* Writer internals used by the sharding code. */
/* Writes the tensors idx[0..k) to path; nothing appears under path on failure. */
nt_status st_writer_write_subset(const st_writer *w, const size_t *idx, size_t k,
                                 const char *path, nt_err *err);
const char *st_writer_name(const st_writer *w, size_t i);
uint64_t st_writer_nbytes(const st_writer *w, size_t i);
uint64_t st_writer_numel(const st_writer *w, size_t i);

#endif
