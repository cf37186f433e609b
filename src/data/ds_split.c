#include "data/ds_split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

void ds_rng_seed(ds_rng *r, uint64_t seed, uint64_t stream) {
    r->s = seed ^ (stream * 0xD1B54A32D192ED03ULL);
}

uint64_t ds_rng_next(ds_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t ds_rng_below(ds_rng *r, uint64_t n) {
    /* Draws below 2^64 mod n would make the low residues more likely; reject them. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = ds_rng_next(r);
        if (x >= threshold) return x % n;
    }
}

void ds_shuffle_idx(size_t *a, size_t n, ds_rng *r) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ds_rng_below(r, (uint64_t)i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

nt_status ds_split_sizes(size_t n, double v, size_t *ntrain, size_t *nval, nt_err *err) {
    *ntrain = n;
    *nval = 0;
    if (v == 0) return NT_OK;
    if (!(v > 0) || (v >= 1 && v != floor(v)) || v >= 9e15)
        return nt_err_set(err, NT_EINVAL,
                          "val_set_size: %g is neither a fraction in [0, 1) nor a whole row count", v);
    /* HF train_test_split: test = ceil(test_size * n) in floating point (so 0.07 * 100 gives 8:
     * the product is 7.000000000000001), or the count itself. */
    size_t nv = v < 1 ? (size_t)ceil(v * (double)n) : (size_t)v;
    if (nv >= n)
        return nt_err_set(err, NT_EINVAL,
                          "val_set_size: %g asks for %zu validation rows but the dataset has only "
                          "%zu rows (at least one must remain for training)", v, nv, n);
    *ntrain = n - nv;
    *nval = nv;
    return NT_OK;
}

void ds_set_select(const ds_set *src, const size_t *idx, size_t n, ds_set *dst) {
    uint64_t ntok = 0;
    for (size_t k = 0; k < n; k++) ntok += src->len[idx[k]];
    dst->ids = nt_xmalloc((ntok ? ntok : 1) * sizeof *dst->ids);
    dst->labels = nt_xmalloc((ntok ? ntok : 1) * sizeof *dst->labels);
    dst->tok_cap = ntok;
    size_t cap = n ? n : 1;
    dst->start = nt_xmalloc(cap * sizeof *dst->start);
    dst->len = nt_xmalloc(cap * sizeof *dst->len);
    dst->dataset = nt_xmalloc(cap * sizeof *dst->dataset);
    dst->row = nt_xmalloc(cap * sizeof *dst->row);
    dst->cap = n;
    uint64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        uint32_t len = src->len[i];
        memcpy(dst->ids + at, ds_set_ids(src, i), len * sizeof *dst->ids);
        memcpy(dst->labels + at, ds_set_labels(src, i), len * sizeof *dst->labels);
        dst->start[k] = at;
        dst->len[k] = len;
        dst->dataset[k] = src->dataset[i];
        dst->row[k] = src->row[i];
        at += len;
    }
    dst->n = n;
    dst->ntok = ntok;
    dst->borrowed = false;
}

nt_status ds_split(const ds_set *all, const ds_split_opts *o, ds_set *train, ds_set *valid,
                   nt_err *err) {
    size_t ntrain, nval;
    nt_status st = ds_split_sizes(all->n, o->val_set_size, &ntrain, &nval, err);
    if (st) return st;
    size_t *idx = nt_xmalloc((all->n ? all->n : 1) * sizeof *idx);
    for (size_t i = 0; i < all->n; i++) idx[i] = i;
    if (o->shuffle) {
        ds_rng r;
        ds_rng_seed(&r, o->seed, 0);
        ds_shuffle_idx(idx, all->n, &r);
    }
    ds_set_select(all, idx, ntrain, train);
    if (nval) ds_set_select(all, idx + ntrain, nval, valid);
    free(idx);
    return NT_OK;
}
