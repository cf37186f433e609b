#include "value/value.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static val null_v = {.kind = VAL_NULL, .refs = -1};
static val true_v = {.kind = VAL_BOOL, .refs = -1, .u.b = true};
static val false_v = {.kind = VAL_BOOL, .refs = -1, .u.b = false};

static val *alloc_val(val_kind k) {
    val *v = nt_xcalloc(1, sizeof *v);
    v->kind = k;
    v->refs = 1;
    return v;
}

val *val_null(void) { return &null_v; }
val *val_bool(bool b) { return b ? &true_v : &false_v; }

val *val_int(int64_t i) {
    val *v = alloc_val(VAL_INT);
    v->u.i = i;
    return v;
}

val *val_float(double f) {
    val *v = alloc_val(VAL_FLOAT);
    v->u.f = f;
    return v;
}

val *val_strn(const char *s, size_t n) { return val_str_take(nt_xstrndup(s, n), n); }
val *val_str(const char *s) { return val_strn(s, strlen(s)); }

val *val_str_take(char *s, size_t n) {
    val *v = alloc_val(VAL_STR);
    v->u.str.s = s;
    v->u.str.n = n;
    return v;
}

val *val_list(void) { return alloc_val(VAL_LIST); }
val *val_dict(void) { return alloc_val(VAL_DICT); }

/* Atomic counts: worker threads (the dataset pipeline) share read-only values such as
 * config-derived dicts and take references to them concurrently; a plain ++/-- loses counts
 * and frees a value another thread still holds. Relaxed to add, acquire-release to drop
 * (the last holder must see every other holder's writes before freeing). */
val *val_ref(val *v) {
    if (v && v->refs >= 0) __atomic_add_fetch(&v->refs, 1, __ATOMIC_RELAXED);
    return v;
}

static void free_contents(val *v) {
    switch (v->kind) {
    case VAL_STR: free(v->u.str.s); break;
    case VAL_LIST:
        for (size_t i = 0; i < v->u.list.n; i++) val_unref(v->u.list.items[i]);
        free(v->u.list.items);
        break;
    case VAL_DICT:
        for (size_t i = 0; i < v->u.dict.n; i++) {
            val_unref(v->u.dict.entries[i].key);
            val_unref(v->u.dict.entries[i].value);
        }
        free(v->u.dict.entries);
        free(v->u.dict.index);
        break;
    default: break;
    }
}

void val_unref(val *v) {
    if (!v || v->refs < 0) return;
    if (__atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    free_contents(v);
    free(v);
}

const char *val_kind_name(val_kind k) {
    static const char *names[] = {"null", "bool", "int", "float", "str", "list", "dict"};
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

void val_list_push(val *l, val *item) {
    if (l->u.list.n == l->u.list.cap) {
        l->u.list.cap = l->u.list.cap ? l->u.list.cap * 2 : 4;
        l->u.list.items = nt_xrealloc(l->u.list.items, l->u.list.cap * sizeof(val *));
    }
    l->u.list.items[l->u.list.n++] = item;
}

void val_list_set(val *l, size_t i, val *item) {
    val *old = l->u.list.items[i];
    l->u.list.items[i] = item;
    val_unref(old);
}

/* FNV-1a: dict keys are short; this is only for the in-memory index. */
static uint32_t key_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static void index_insert(val *d, size_t entry) {
    val *k = d->u.dict.entries[entry].key;
    size_t mask = d->u.dict.index_cap - 1;
    size_t slot = key_hash(k->u.str.s, k->u.str.n) & mask;
    while (d->u.dict.index[slot]) slot = (slot + 1) & mask;
    d->u.dict.index[slot] = (uint32_t)entry + 1;
}

static void index_rebuild(val *d, size_t cap) {
    free(d->u.dict.index);
    d->u.dict.index = nt_xcalloc(cap, sizeof(uint32_t));
    d->u.dict.index_cap = cap;
    for (size_t i = 0; i < d->u.dict.n; i++) index_insert(d, i);
}

/* Small dicts are scanned linearly; the hash index exists from 9 entries on. */
static long find_key(const val *d, const char *key, size_t n) {
    if (!d->u.dict.index) {
        for (size_t i = 0; i < d->u.dict.n; i++) {
            const val *k = d->u.dict.entries[i].key;
            if (k->u.str.n == n && memcmp(k->u.str.s, key, n) == 0) return (long)i;
        }
        return -1;
    }
    size_t mask = d->u.dict.index_cap - 1;
    size_t slot = key_hash(key, n) & mask;
    for (uint32_t e; (e = d->u.dict.index[slot]) != 0; slot = (slot + 1) & mask) {
        const val *k = d->u.dict.entries[e - 1].key;
        if (k->u.str.n == n && memcmp(k->u.str.s, key, n) == 0) return (long)e - 1;
    }
    return -1;
}

val *val_dict_getn(const val *d, const char *key, size_t n) {
    long i = find_key(d, key, n);
    return i < 0 ? NULL : d->u.dict.entries[i].value;
}

val *val_dict_get(const val *d, const char *key) { return val_dict_getn(d, key, strlen(key)); }

void val_dict_setn(val *d, const char *key, size_t n, val *item) {
    long i = find_key(d, key, n);
    if (i >= 0) {
        val *old = d->u.dict.entries[i].value;
        d->u.dict.entries[i].value = item;
        val_unref(old);
        return;
    }
    if (d->u.dict.n == d->u.dict.cap) {
        d->u.dict.cap = d->u.dict.cap ? d->u.dict.cap * 2 : 4;
        d->u.dict.entries = nt_xrealloc(d->u.dict.entries, d->u.dict.cap * sizeof(val_entry));
    }
    size_t e = d->u.dict.n++;
    d->u.dict.entries[e].key = val_strn(key, n);
    d->u.dict.entries[e].value = item;
    if (d->u.dict.index && d->u.dict.n * 2 <= d->u.dict.index_cap) {
        index_insert(d, e);
    } else if (d->u.dict.n > 8) {
        size_t cap = 16;
        while (cap < d->u.dict.n * 2) cap *= 2;
        index_rebuild(d, cap);
    }
}

void val_dict_set(val *d, const char *key, val *item) { val_dict_setn(d, key, strlen(key), item); }

bool val_dict_del(val *d, const char *key) {
    long i = find_key(d, key, strlen(key));
    if (i < 0) return false;
    val_unref(d->u.dict.entries[i].key);
    val_unref(d->u.dict.entries[i].value);
    memmove(&d->u.dict.entries[i], &d->u.dict.entries[i + 1],
            (d->u.dict.n - (size_t)i - 1) * sizeof(val_entry));
    d->u.dict.n--;
    if (d->u.dict.index) index_rebuild(d, d->u.dict.index_cap);
    return true;
}

double val_to_double(const val *v) {
    switch (v->kind) {
    case VAL_BOOL: return v->u.b ? 1.0 : 0.0;
    case VAL_INT: return (double)v->u.i;
    case VAL_FLOAT: return v->u.f;
    default: return 0.0;
    }
}

static bool is_numeric(const val *v) {
    return v->kind == VAL_BOOL || v->kind == VAL_INT || v->kind == VAL_FLOAT;
}

bool val_equal(const val *a, const val *b) {
    if (a == b) return a->kind != VAL_FLOAT || a->u.f == a->u.f; /* nan != nan */
    if (is_numeric(a) && is_numeric(b)) {
        if (a->kind != VAL_FLOAT && b->kind != VAL_FLOAT) {
            int64_t x = a->kind == VAL_BOOL ? a->u.b : a->u.i;
            int64_t y = b->kind == VAL_BOOL ? b->u.b : b->u.i;
            return x == y;
        }
        return val_to_double(a) == val_to_double(b);
    }
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case VAL_NULL: return true;
    case VAL_STR:
        return a->u.str.n == b->u.str.n && memcmp(a->u.str.s, b->u.str.s, a->u.str.n) == 0;
    case VAL_LIST:
        if (a->u.list.n != b->u.list.n) return false;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!val_equal(a->u.list.items[i], b->u.list.items[i])) return false;
        return true;
    case VAL_DICT:
        if (a->u.dict.n != b->u.dict.n) return false;
        for (size_t i = 0; i < a->u.dict.n; i++) {
            const val *k = a->u.dict.entries[i].key;
            const val *bv = val_dict_getn(b, k->u.str.s, k->u.str.n);
            if (!bv || !val_equal(a->u.dict.entries[i].value, bv)) return false;
        }
        return true;
    default: return false;
    }
}

val *val_copy(const val *v) {
    switch (v->kind) {
    case VAL_NULL:
    case VAL_BOOL: return (val *)v;
    case VAL_INT: return val_int(v->u.i);
    case VAL_FLOAT: return val_float(v->u.f);
    case VAL_STR: return val_strn(v->u.str.s, v->u.str.n);
    case VAL_LIST: {
        val *l = val_list();
        for (size_t i = 0; i < v->u.list.n; i++) val_list_push(l, val_copy(v->u.list.items[i]));
        return l;
    }
    case VAL_DICT: {
        val *d = val_dict();
        for (size_t i = 0; i < v->u.dict.n; i++) {
            const val *k = v->u.dict.entries[i].key;
            val_dict_setn(d, k->u.str.s, k->u.str.n, val_copy(v->u.dict.entries[i].value));
        }
        return d;
    }
    }
    return val_null();
}
