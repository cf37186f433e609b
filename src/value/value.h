/* One dynamic value type for JSON, YAML, config, dataset rows and template contexts.
 *
 * Values are reference counted and mutable (like Python objects): val_ref() adds a holder,
 * val_unref() drops one and frees at zero. Functions that "take" a value take over the
 * caller's reference; getters return borrowed pointers valid while the container lives.
 * null, true and false are immortal singletons (ref/unref on them are no-ops).
 * Strings are byte strings with a length (they may hold NUL bytes), always NUL-terminated.
 * Dicts keep insertion order (Python 3.7+ semantics) and have string keys. */
#ifndef NEWT_VALUE_VALUE_H
#define NEWT_VALUE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { VAL_NULL, VAL_BOOL, VAL_INT, VAL_FLOAT, VAL_STR, VAL_LIST, VAL_DICT } val_kind;

typedef struct val val;

typedef struct {
    val *key;   /* always a VAL_STR */
    val *value;
} val_entry;

struct val {
    val_kind kind;
    int32_t refs; /* < 0: immortal */
    union {
        bool b;
        int64_t i;
        double f;
        struct { char *s; size_t n; } str;
        struct { val **items; size_t n, cap; } list;
        struct {
            val_entry *entries;
            size_t n, cap;
            uint32_t *index; /* open addressing: entry index + 1, 0 = empty */
            size_t index_cap;
        } dict;
    } u;
};

/* Constructors: each returns a new reference. */
val *val_null(void);
val *val_bool(bool b);
val *val_int(int64_t i);
val *val_float(double f);
val *val_str(const char *s);                 /* copies a NUL-terminated string */
val *val_strn(const char *s, size_t n);      /* copies n bytes */
val *val_str_take(char *s, size_t n);        /* takes a malloc'd buffer of n bytes + NUL */
val *val_list(void);
val *val_dict(void);

val *val_ref(val *v);
void val_unref(val *v);

const char *val_kind_name(val_kind k); /* "null", "bool", "int", "float", "str", "list", "dict" */

static inline bool val_is(const val *v, val_kind k) { return v && v->kind == k; }
static inline bool val_is_number(const val *v) {
    return v && (v->kind == VAL_INT || v->kind == VAL_FLOAT);
}

/* Lists. */
static inline size_t val_list_len(const val *l) { return l->u.list.n; }
static inline val *val_list_get(const val *l, size_t i) { return l->u.list.items[i]; }
void val_list_push(val *l, val *item);           /* takes item */
void val_list_set(val *l, size_t i, val *item);  /* takes item, drops the old one */

/* Dicts. */
static inline size_t val_dict_len(const val *d) { return d->u.dict.n; }
static inline val_entry *val_dict_entry(const val *d, size_t i) { return &d->u.dict.entries[i]; }
val *val_dict_get(const val *d, const char *key);                  /* borrowed or NULL */
val *val_dict_getn(const val *d, const char *key, size_t n);       /* borrowed or NULL */
void val_dict_set(val *d, const char *key, val *item);             /* takes item */
void val_dict_setn(val *d, const char *key, size_t n, val *item);  /* takes item */
bool val_dict_del(val *d, const char *key);

/* Python-style equality: 1 == 1.0 == True, containers compared deeply, dict order ignored. */
bool val_equal(const val *a, const val *b);
/* Deep copy (new containers, shared nothing). */
val *val_copy(const val *v);

/* Numeric view of bool/int/float (Python semantics: True = 1). */
double val_to_double(const val *v);

#endif
