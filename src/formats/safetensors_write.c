/* Writing safetensors files atomically (sharding is in safetensors_shard.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "formats/safetensors_internal.h"

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t numel, nbytes;
    const void *data;
    st_fill_fn fill;
    void *ctx;
} wtensor;

struct st_writer {
    wtensor *t;
    size_t n, cap;
    st_map names;
    char **mkeys, **mvals; /* __metadata__, "format" first */
    size_t nmeta;
};

#define FILL_CHUNK ((size_t)4 << 20)

st_writer *st_writer_new(void) {
    st_writer *w = nt_xcalloc(1, sizeof *w);
    st_writer_set_metadata(w, "format", "pt");
    return w;
}

void st_writer_free(st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->t[i].name);
    for (size_t i = 0; i < w->nmeta; i++) {
        free(w->mkeys[i]);
        free(w->mvals[i]);
    }
    free(w->t);
    free(w->mkeys);
    free(w->mvals);
    st_map_free(&w->names);
    free(w);
}

size_t st_writer_count(const st_writer *w) { return w->n; }

void st_writer_set_metadata(st_writer *w, const char *key, const char *value) {
    for (size_t i = 0; i < w->nmeta; i++) {
        if (strcmp(w->mkeys[i], key) == 0) {
            free(w->mvals[i]);
            w->mvals[i] = nt_xstrdup(value);
            return;
        }
    }
    w->mkeys = nt_xrealloc(w->mkeys, (w->nmeta + 1) * sizeof *w->mkeys);
    w->mvals = nt_xrealloc(w->mvals, (w->nmeta + 1) * sizeof *w->mvals);
    w->mkeys[w->nmeta] = nt_xstrdup(key);
    w->mvals[w->nmeta++] = nt_xstrdup(value);
}

static nt_status check_new(st_writer *w, wtensor *t, const char *name, st_dtype dtype, int ndim,
                           const int64_t *shape, nt_err *err) {
    if (!*name || !st_utf8_valid(name, strlen(name)) || strcmp(name, "__metadata__") == 0)
        return nt_err_set(err, NT_EINVAL, "tensor name must be non-empty UTF-8, not __metadata__");
    if ((unsigned)dtype >= ST_DTYPE_COUNT)
        return nt_err_set(err, NT_EINVAL, "invalid dtype %d", (int)dtype);
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return nt_err_set(err, NT_EINVAL, "%d dimensions (at most %d)", ndim, ST_MAX_DIMS);
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return nt_err_set(err, NT_EINVAL, "shape[%d] is negative", i);
        t->shape[i] = shape[i];
        if (__builtin_mul_overflow(t->numel, (uint64_t)shape[i], &t->numel))
            return nt_err_set(err, NT_EINVAL, "shape overflows 64 bits");
    }
    if (__builtin_mul_overflow(t->numel, (uint64_t)st_dtype_size(dtype), &t->nbytes))
        return nt_err_set(err, NT_EINVAL, "size overflows 64 bits");
    size_t dummy;
    if (st_map_get(&w->names, name, &dummy))
        return nt_err_set(err, NT_EINVAL, "tensor added twice");
    return NT_OK;
}

static nt_status add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                     const int64_t *shape, const void *data, st_fill_fn fill, void *ctx,
                     nt_err *err) {
    wtensor t = {.data = data, .fill = fill, .ctx = ctx};
    nt_status st = check_new(w, &t, name, dtype, ndim, shape, err);
    if (!st && !data && !fill && t.nbytes)
        st = nt_err_set(err, NT_EINVAL, "no data for %llu bytes", (unsigned long long)t.nbytes);
    if (st) {
        char q[ST_QUOTE_CAP];
        nt_err_prefix(err, "tensor '%s': ", st_quote(q, sizeof q, name, strlen(name)));
        return st;
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->t = nt_xrealloc(w->t, w->cap * sizeof *w->t);
    }
    t.name = nt_xstrdup(name);
    w->t[w->n] = t;
    st_map_put(&w->names, t.name, w->n++, NULL); /* the string does not move on realloc */
    return NT_OK;
}

nt_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                        const int64_t *shape, const void *data, nt_err *err) {
    return add(w, name, dtype, ndim, shape, data, NULL, NULL, err);
}

nt_status st_writer_add_fill(st_writer *w, const char *name, st_dtype dtype, int ndim,
                             const int64_t *shape, st_fill_fn fill, void *ctx, nt_err *err) {
    if (!fill) return nt_err_set(err, NT_EINVAL, "tensor '%s': no fill function", name);
    return add(w, name, dtype, ndim, shape, NULL, fill, ctx, err);
}

/* Data layout: tensors grouped by element size, largest first, in the order given within a
 * group (a stable sort; the reference writer does the same by dtype alignment). With the
 * data region starting 8-aligned, every tensor is then aligned to its element size, so a
 * reader may cast the pointer. layout receives positions in idx; off the offsets. */
static void plan_layout(const st_writer *w, const size_t *idx, size_t k, size_t *layout,
                        uint64_t *off) {
    size_t o = 0;
    for (size_t size = 8; size >= 1; size /= 2)
        for (size_t j = 0; j < k; j++)
            if (st_dtype_size(w->t[idx[j]].dtype) == size) layout[o++] = j;
    uint64_t at = 0;
    for (size_t j = 0; j < k; j++) {
        off[layout[j]] = at;
        at += w->t[idx[layout[j]]].nbytes;
    }
}

static val *shape_list(const int64_t *v, int n) {
    val *l = val_list();
    for (int i = 0; i < n; i++) val_list_push(l, val_int(v[i]));
    return l;
}

/* Compact JSON (as the reference writer's serde_json), keys in the order given, padded with
 * spaces so that 8 + N is a multiple of 8 and the data region starts aligned (the format
 * asks writers to do this). */
static void build_header(const st_writer *w, const size_t *idx, size_t k, const uint64_t *off,
                         nt_buf *b) {
    val *h = val_dict(), *md = val_dict();
    for (size_t i = 0; i < w->nmeta; i++) val_dict_set(md, w->mkeys[i], val_str(w->mvals[i]));
    val_dict_set(h, "__metadata__", md);
    for (size_t j = 0; j < k; j++) {
        const wtensor *t = &w->t[idx[j]];
        val *e = val_dict();
        val_dict_set(e, "dtype", val_str(st_dtype_name(t->dtype)));
        val_dict_set(e, "shape", shape_list(t->shape, t->ndim));
        int64_t range[2] = {(int64_t)off[j], (int64_t)(off[j] + t->nbytes)};
        val_dict_set(e, "data_offsets", shape_list(range, 2));
        val_dict_set(h, t->name, e);
    }
    json_opts o = {.indent = -1, .ensure_ascii = false, .item_sep = ",", .key_sep = ":"};
    json_dump(b, h, &o);
    val_unref(h);
    while (b->len % 8) nt_buf_putc(b, ' ');
}

static nt_status write_data(nt_atomic_file *af, const wtensor *t, uint8_t **chunk, nt_err *err) {
    if (t->data) return nt_atomic_write(af, t->data, t->nbytes, err);
    if (!t->nbytes) return NT_OK;
    if (!*chunk) *chunk = nt_xmalloc(FILL_CHUNK);
    for (uint64_t off = 0; off < t->nbytes;) {
        size_t n = t->nbytes - off < FILL_CHUNK ? (size_t)(t->nbytes - off) : FILL_CHUNK;
        nt_status st = t->fill(t->ctx, off, *chunk, n, err);
        if (!st) st = nt_atomic_write(af, *chunk, n, err);
        if (st) return st;
        off += n;
    }
    return NT_OK;
}

nt_status st_writer_write_subset(const st_writer *w, const size_t *idx, size_t k,
                                 const char *path, nt_err *err) {
    size_t *layout = nt_xmalloc((k ? k : 1) * sizeof *layout);
    uint64_t *off = nt_xmalloc((k ? k : 1) * sizeof *off);
    plan_layout(w, idx, k, layout, off);
    nt_buf h = {0};
    build_header(w, idx, k, off, &h);
    free(off);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    nt_atomic_file af;
    nt_status st = nt_atomic_open(&af, path, err);
    if (!st) st = nt_atomic_write(&af, len, 8, err);
    if (!st) st = nt_atomic_write(&af, h.data, h.len, err);
    nt_buf_free(&h);
    uint8_t *chunk = NULL;
    for (size_t j = 0; j < k && !st; j++) {
        st = write_data(&af, &w->t[idx[layout[j]]], &chunk, err);
        if (st) {
            char q[ST_QUOTE_CAP];
            const char *nm = w->t[idx[layout[j]]].name;
            nt_err_prefix(err, "%s: tensor '%s': ", path, st_quote(q, sizeof q, nm, strlen(nm)));
        }
    }
    free(chunk);
    free(layout);
    if (st) {
        if (af.tmp_path) nt_atomic_abort(&af);
        return st;
    }
    return nt_atomic_commit(&af, err);
}

nt_status st_writer_save(st_writer *w, const char *path, nt_err *err) {
    size_t *idx = nt_xmalloc((w->n ? w->n : 1) * sizeof *idx);
    for (size_t i = 0; i < w->n; i++) idx[i] = i;
    nt_status st = st_writer_write_subset(w, idx, w->n, path, err);
    free(idx);
    return st;
}

const char *st_writer_name(const st_writer *w, size_t i) { return w->t[i].name; }
uint64_t st_writer_nbytes(const st_writer *w, size_t i) { return w->t[i].nbytes; }
uint64_t st_writer_numel(const st_writer *w, size_t i) { return w->t[i].numel; }
