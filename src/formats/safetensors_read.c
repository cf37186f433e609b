/* Opening and validating one safetensors file (mmap or memory). Every check that protects a
 * pointer happens here, before any st_tensor is handed out; docs/formats.md lists them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "formats/safetensors_internal.h"

struct st_file {
    char *path;
    nt_mmap map;             /* empty for st_file_open_memory */
    const uint8_t *base;
    uint64_t len, header_len, data_len;
    const uint8_t *data;     /* base + 8 + header_len */
    val *header;             /* parsed JSON: owns the tensor names */
    val *metadata;           /* a reference: the file's __metadata__ or an empty dict */
    st_tensor *tensors;      /* header order */
    const st_tensor **sorted;
    size_t n;
    st_map by_name;
};

static uint64_t read_u64le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Length prefix and header bounds; sets header_len, data, data_len. */
static nt_status check_prelude(st_file *f, nt_err *err) {
    if (f->len < 8)
        return nt_err_set(err, NT_EPARSE,
                          "file is %llu bytes, too short for the 8-byte header length",
                          (unsigned long long)f->len);
    uint64_t n = read_u64le(f->base);
    if (n > ST_MAX_HEADER)
        return nt_err_set(err, NT_ELIMIT, "header length %llu exceeds the limit of %u bytes",
                          (unsigned long long)n, ST_MAX_HEADER);
    if (n > f->len - 8)
        return nt_err_set(err, NT_EPARSE,
                          "header length %llu runs past the end of the file (%llu bytes; "
                          "truncated?)", (unsigned long long)n, (unsigned long long)f->len);
    if (n < 2 || f->base[8] != '{')
        return nt_err_set(err, NT_EPARSE, "header does not start with '{' (not safetensors?)");
    f->header_len = n;
    f->data = f->base + 8 + n;
    f->data_len = f->len - 8 - n;
    return NT_OK;
}

static nt_status check_metadata(st_file *f, val *md, nt_err *err) {
    if (!val_is(md, VAL_DICT))
        return nt_err_set(err, NT_EINVAL, "__metadata__ has type %s, expected an object of strings",
                          val_kind_name(md->kind));
    char q[ST_QUOTE_CAP];
    for (size_t i = 0; i < val_dict_len(md); i++) {
        val_entry *e = val_dict_entry(md, i);
        if (!val_is(e->value, VAL_STR))
            return nt_err_set(err, NT_EINVAL, "__metadata__ key '%s' has type %s, expected a string",
                              st_quote(q, sizeof q, e->key->u.str.s, e->key->u.str.n),
                              val_kind_name(e->value->kind));
    }
    val_unref(f->metadata);
    f->metadata = val_ref(md);
    return NT_OK;
}

static void fmt_shape(char *out, size_t cap, const st_tensor *t) {
    size_t o = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < t->ndim && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%lld", i ? "," : "", (long long)t->shape[i]);
    if (o < cap) snprintf(out + o, cap - o, "]");
}

/* A JSON value that must be an integer in [0, INT64_MAX]. */
static bool get_count(const val *v, int64_t *out) {
    if (!val_is(v, VAL_INT) || v->u.i < 0) return false;
    *out = v->u.i;
    return true;
}

static nt_status parse_dtype(st_tensor *t, const val *info, nt_err *err) {
    const val *d = val_dict_get(info, "dtype");
    if (!d) return nt_err_set(err, NT_EPARSE, "missing \"dtype\"");
    if (!val_is(d, VAL_STR)) return nt_err_set(err, NT_EPARSE, "\"dtype\" is not a string");
    if (!st_dtype_parse(d->u.str.s, d->u.str.n, &t->dtype)) {
        char q[ST_QUOTE_CAP];
        return nt_err_set(err, NT_EUNSUPPORTED, "unknown dtype '%s'",
                          st_quote(q, sizeof q, d->u.str.s, d->u.str.n));
    }
    return NT_OK;
}

static nt_status parse_shape(st_tensor *t, const val *info, nt_err *err) {
    const val *s = val_dict_get(info, "shape");
    if (!s) return nt_err_set(err, NT_EPARSE, "missing \"shape\"");
    if (!val_is(s, VAL_LIST)) return nt_err_set(err, NT_EPARSE, "\"shape\" is not a list");
    if (val_list_len(s) > ST_MAX_DIMS)
        return nt_err_set(err, NT_EUNSUPPORTED, "shape has %zu dimensions, at most %d supported",
                          val_list_len(s), ST_MAX_DIMS);
    t->ndim = (int)val_list_len(s);
    t->numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (!get_count(val_list_get(s, (size_t)i), &t->shape[i]))
            return nt_err_set(err, NT_EPARSE, "shape[%d] is not a non-negative integer", i);
        if (__builtin_mul_overflow(t->numel, (uint64_t)t->shape[i], &t->numel))
            return nt_err_set(err, NT_EPARSE, "shape overflows 64 bits");
    }
    if (__builtin_mul_overflow(t->numel, (uint64_t)st_dtype_size(t->dtype), &t->nbytes)) {
        char sh[128];
        fmt_shape(sh, sizeof sh, t);
        return nt_err_set(err, NT_EPARSE, "shape %s × %s overflows 64 bits", sh,
                          st_dtype_name(t->dtype));
    }
    return NT_OK;
}

static nt_status parse_offsets(st_file *f, st_tensor *t, const val *info, nt_err *err) {
    const val *o = val_dict_get(info, "data_offsets");
    int64_t b, e;
    if (!o) return nt_err_set(err, NT_EPARSE, "missing \"data_offsets\"");
    if (!val_is(o, VAL_LIST) || val_list_len(o) != 2 || !get_count(val_list_get(o, 0), &b) ||
        !get_count(val_list_get(o, 1), &e))
        return nt_err_set(err, NT_EPARSE,
                          "\"data_offsets\" is not a list of two non-negative integers");
    if (b > e)
        return nt_err_set(err, NT_EPARSE, "data_offsets [%lld,%lld]: begin after end",
                          (long long)b, (long long)e);
    if ((uint64_t)(e - b) != t->nbytes) {
        char sh[128];
        fmt_shape(sh, sizeof sh, t);
        return nt_err_set(err, NT_EPARSE,
                          "shape %s × %s = %llu bytes but data_offsets span %llu", sh,
                          st_dtype_name(t->dtype), (unsigned long long)t->nbytes,
                          (unsigned long long)(e - b));
    }
    if ((uint64_t)e > f->data_len)
        return nt_err_set(err, NT_EPARSE,
                          "data_offsets [%lld,%lld] run past the end of the data region "
                          "(%llu bytes; truncated file?)",
                          (long long)b, (long long)e, (unsigned long long)f->data_len);
    t->offset = (uint64_t)b;
    t->data = t->nbytes ? f->data + b : NULL;
    return NT_OK;
}

static nt_status parse_tensor(st_file *f, st_tensor *t, const val_entry *e, nt_err *err) {
    char q[ST_QUOTE_CAP];
    const char *qn = st_quote(q, sizeof q, e->key->u.str.s, e->key->u.str.n);
    t->name = e->key->u.str.s;
    t->file = f;
    nt_status st = NT_OK;
    if (strlen(t->name) != e->key->u.str.n)
        st = nt_err_set(err, NT_EPARSE, "name contains a NUL byte");
    else if (!val_is(e->value, VAL_DICT))
        st = nt_err_set(err, NT_EPARSE, "entry has type %s, expected an object",
                        val_kind_name(e->value->kind));
    if (!st) st = parse_dtype(t, e->value, err);
    if (!st) st = parse_shape(t, e->value, err);
    if (!st) st = parse_offsets(f, t, e->value, err);
    if (st) nt_err_prefix(err, "tensor '%s': ", qn);
    return st;
}

static int cmp_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* The ranges must tile the data region exactly: no overlap (two tensors sharing bytes), no
 * gap, nothing after the last tensor. The reference implementation rejects all three; a
 * reader that accepted them would load files the rest of the ecosystem refuses. */
static nt_status check_layout(st_file *f, nt_err *err) {
    const st_tensor **v = nt_xmalloc((f->n ? f->n : 1) * sizeof *v);
    for (size_t i = 0; i < f->n; i++) v[i] = &f->tensors[i];
    qsort(v, f->n, sizeof *v, cmp_offset);
    uint64_t at = 0;
    nt_status st = NT_OK;
    char q1[ST_QUOTE_CAP], q2[ST_QUOTE_CAP];
    for (size_t i = 0; i < f->n && !st; i++) {
        const st_tensor *t = v[i];
        if (t->offset < at)
            st = nt_err_set(err, NT_EPARSE,
                            "tensor '%s': data_offsets [%llu,%llu] overlap tensor '%s' [%llu,%llu]",
                            st_quote(q1, sizeof q1, t->name, strlen(t->name)),
                            (unsigned long long)t->offset,
                            (unsigned long long)(t->offset + t->nbytes),
                            st_quote(q2, sizeof q2, v[i - 1]->name, strlen(v[i - 1]->name)),
                            (unsigned long long)v[i - 1]->offset, (unsigned long long)at);
        else if (t->offset > at)
            st = nt_err_set(err, NT_EPARSE,
                            "tensor '%s': data_offsets [%llu,%llu] leave a gap of %llu bytes "
                            "before it (tensors must be contiguous)",
                            st_quote(q1, sizeof q1, t->name, strlen(t->name)),
                            (unsigned long long)t->offset,
                            (unsigned long long)(t->offset + t->nbytes),
                            (unsigned long long)(t->offset - at));
        at = t->offset + t->nbytes;
    }
    if (!st && at != f->data_len)
        st = nt_err_set(err, NT_EPARSE,
                        "%llu bytes after the last tensor's data (data region is %llu bytes, "
                        "tensors cover %llu)", (unsigned long long)(f->data_len - at),
                        (unsigned long long)f->data_len, (unsigned long long)at);
    free(v);
    return st;
}

static nt_status parse_entries(st_file *f, nt_err *err) {
    size_t n = val_dict_len(f->header);
    f->tensors = nt_xcalloc(n ? n : 1, sizeof *f->tensors);
    for (size_t i = 0; i < n; i++) {
        val_entry *e = val_dict_entry(f->header, i);
        nt_status st;
        if (strcmp(e->key->u.str.s, "__metadata__") == 0 && e->key->u.str.n == 12)
            st = check_metadata(f, e->value, err);
        else
            st = parse_tensor(f, &f->tensors[f->n++], e, err);
        if (st) return st;
    }
    return NT_OK;
}

static void build_indexes(st_file *f) {
    f->sorted = nt_xmalloc((f->n ? f->n : 1) * sizeof *f->sorted);
    for (size_t i = 0; i < f->n; i++) {
        f->sorted[i] = &f->tensors[i];
        /* JSON objects cannot repeat a key (the parser keeps the last), so names are unique. */
        st_map_put(&f->by_name, f->tensors[i].name, i, NULL);
    }
    st_sort_by_name(f->sorted, f->n);
}

static nt_status parse_file(st_file *f, nt_err *err) {
    nt_status st = check_prelude(f, err);
    if (st) return st;
    if ((st = json_parse((const char *)f->base + 8, f->header_len, &f->header, err))) {
        nt_err_prefix(err, "header: ");
        return st;
    }
    if (!val_is(f->header, VAL_DICT))
        return nt_err_set(err, NT_EPARSE, "header has type %s, expected an object",
                          val_kind_name(f->header->kind));
    if ((st = parse_entries(f, err)) || (st = check_layout(f, err))) return st;
    build_indexes(f);
    return NT_OK;
}

static nt_status finish_open(st_file *f, st_file **out, nt_err *err) {
    f->metadata = val_dict();
    nt_status st = parse_file(f, err);
    if (st) {
        nt_err_prefix(err, "%s: ", f->path);
        st_file_close(f);
        return st;
    }
    *out = f;
    return NT_OK;
}

nt_status st_file_open(const char *path, st_file **out, nt_err *err) {
    nt_err local;
    if (!err) err = &local; /* messages are composed in place, so always have somewhere */
    *out = NULL;
    st_file *f = nt_xcalloc(1, sizeof *f);
    f->path = nt_xstrdup(path);
    nt_status st = nt_mmap_file(path, &f->map, err);
    if (st) {
        st_file_close(f);
        return st;
    }
    f->base = f->map.data;
    f->len = f->map.len;
    return finish_open(f, out, err);
}

nt_status st_file_open_memory(const void *data, size_t n, const char *name, st_file **out,
                              nt_err *err) {
    nt_err local;
    if (!err) err = &local;
    *out = NULL;
    st_file *f = nt_xcalloc(1, sizeof *f);
    f->path = nt_xstrdup(name ? name : "(memory)");
    f->base = data;
    f->len = data ? n : 0;
    return finish_open(f, out, err);
}

void st_file_close(st_file *f) {
    if (!f) return;
    nt_munmap(&f->map);
    val_unref(f->header);
    val_unref(f->metadata);
    free(f->tensors);
    free(f->sorted);
    st_map_free(&f->by_name);
    free(f->path);
    free(f);
}

const char *st_file_path(const st_file *f) { return f->path; }
size_t st_file_count(const st_file *f) { return f->n; }
const st_tensor *st_file_tensor(const st_file *f, size_t i) { return i < f->n ? &f->tensors[i] : NULL; }
const st_tensor *st_file_tensor_sorted(const st_file *f, size_t i) {
    return i < f->n ? f->sorted[i] : NULL;
}
const val *st_file_metadata(const st_file *f) { return f->metadata; }
uint64_t st_file_header_len(const st_file *f) { return f->header_len; }
uint64_t st_file_data_len(const st_file *f) { return f->data_len; }

const st_tensor *st_file_find(const st_file *f, const char *name) {
    size_t i;
    return st_map_get(&f->by_name, name, &i) ? &f->tensors[i] : NULL;
}

bool st_tensor_aligned(const st_tensor *t) {
    size_t a = st_dtype_size(t->dtype);
    return !t->data || (a && (uintptr_t)t->data % a == 0);
}
