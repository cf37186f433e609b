/* Dtype table, name map, JSON string output and message quoting for the safetensors files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/safetensors_internal.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[ST_DTYPE_COUNT] = {
    [ST_F64] = {"F64", 8},       [ST_F32] = {"F32", 4},       [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2},     [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
    [ST_I64] = {"I64", 8},       [ST_I32] = {"I32", 4},       [ST_I16] = {"I16", 2},
    [ST_I8] = {"I8", 1},         [ST_U8] = {"U8", 1},         [ST_U16] = {"U16", 2},
    [ST_U32] = {"U32", 4},       [ST_U64] = {"U64", 8},       [ST_BOOL] = {"BOOL", 1},
};

const char *st_dtype_name(st_dtype d) {
    return (unsigned)d < ST_DTYPE_COUNT ? dtypes[d].name : "?";
}

size_t st_dtype_size(st_dtype d) { return (unsigned)d < ST_DTYPE_COUNT ? dtypes[d].size : 0; }

bool st_dtype_parse(const char *s, size_t n, st_dtype *out) {
    for (int i = 0; i < ST_DTYPE_COUNT; i++) {
        if (strlen(dtypes[i].name) == n && memcmp(dtypes[i].name, s, n) == 0) {
            *out = (st_dtype)i;
            return true;
        }
    }
    return false;
}

/* ---- map ---- */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void map_grow(st_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    st_map_slot *slots = nt_xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (slots[j].key) j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

bool st_map_put(st_map *m, const char *key, size_t value, size_t *existing) {
    if ((m->n + 1) * 4 > m->cap * 3) map_grow(m); /* load factor <= 3/4 */
    uint64_t h = fnv1a(key);
    size_t j = h & (m->cap - 1);
    for (; m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
        if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0) {
            if (existing) *existing = m->slots[j].value;
            return false;
        }
    }
    m->slots[j] = (st_map_slot){key, h, value};
    m->n++;
    return true;
}

bool st_map_get(const st_map *m, const char *key, size_t *value) {
    if (!m->cap) return false;
    uint64_t h = fnv1a(key);
    for (size_t j = h & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
        if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0) {
            *value = m->slots[j].value;
            return true;
        }
    }
    return false;
}

void st_map_free(st_map *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- text ---- */

const char *st_quote(char *out, size_t cap, const char *s, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 8 >= cap) { /* room for "...\0" plus one escape */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\') out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp) {
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; *cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; *cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; *cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
    return len;
}

bool st_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    unsigned cp;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_decode(p + i, n - i, &cp);
        if (!k) return false;
        i += k;
    }
    return true;
}

static int cmp_name(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

void st_sort_by_name(const st_tensor **v, size_t n) {
    if (n > 1) qsort(v, n, sizeof *v, cmp_name);
}
