/* Packing plans: first-fit-decreasing per group (a max-segment-tree over bin remainders finds
 * the first bin that fits in O(log bins)), or next-fit in order when sequential. */
#include "data/ds_pack.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "data/ds_split.h"

/* qsort has no context argument; the group is sorted as (len desc, order asc) pairs instead. */
typedef struct {
    uint32_t len;
    size_t rank, idx;
} ffd_item;

static int ffd_cmp(const void *a, const void *b) {
    const ffd_item *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Leftmost leaf whose remaining capacity is >= need (the root guarantees one exists). */
static size_t tree_find(const int64_t *t, size_t leaves, int64_t need) {
    size_t i = 1;
    while (i < leaves) i = t[2 * i] >= need ? 2 * i : 2 * i + 1;
    return i - leaves;
}

static void tree_set(int64_t *t, size_t leaves, size_t b, int64_t v) {
    size_t i = b + leaves;
    t[i] = v;
    for (i /= 2; i >= 1; i /= 2) t[i] = t[2 * i] > t[2 * i + 1] ? t[2 * i] : t[2 * i + 1];
}

/* FFD over order[0..n): writes each item's bin (numbered from base) into bin_of and the
 * samples in placement order (length descending, ties in `order` order) into placed; returns
 * the number of bins opened. Unopened bins are full-capacity leaves, so "first bin that fits"
 * opens a new bin exactly when no open bin fits. */
static size_t ffd_group(const ds_set *s, const size_t *order, size_t n, const ds_pack_opts *o,
                        size_t base, size_t *bin_of, size_t *placed) {
    ffd_item *it = nt_xmalloc(n * sizeof *it);
    for (size_t k = 0; k < n; k++) it[k] = (ffd_item){s->len[order[k]], k, order[k]};
    qsort(it, n, sizeof *it, ffd_cmp);
    size_t leaves = 1;
    while (leaves < n) leaves *= 2;
    int64_t *t = nt_xmalloc(2 * leaves * sizeof *t);
    for (size_t i = 0; i < leaves; i++) t[leaves + i] = i < n ? (int64_t)o->seq_len : -1;
    for (size_t i = leaves - 1; i >= 1; i--) t[i] = t[2 * i] > t[2 * i + 1] ? t[2 * i] : t[2 * i + 1];
    uint32_t *count = nt_xcalloc(n, sizeof *count);
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        size_t b = tree_find(t, leaves, it[k].len);
        int64_t rem = t[leaves + b] - it[k].len;
        if (++count[b] >= o->bin_size) rem = -1; /* full by count: never chosen again */
        tree_set(t, leaves, b, rem);
        bin_of[it[k].idx] = base + b;
        placed[k] = it[k].idx;
        if (b + 1 > used) used = b + 1;
    }
    free(count);
    free(t);
    free(it);
    return used;
}

static size_t next_fit(const ds_set *s, const size_t *order, size_t n, const ds_pack_opts *o,
                       size_t *bin_of) {
    size_t bins = 0;
    uint64_t fill = 0;
    uint32_t count = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t len = s->len[order[k]];
        if (bins == 0 || fill + len > o->seq_len || count >= o->bin_size) {
            bins++;
            fill = count = 0;
        }
        fill += len;
        count++;
        bin_of[order[k]] = bins - 1;
    }
    return bins;
}

static nt_status check_inputs(const ds_set *s, const ds_pack_opts *o, nt_err *err) {
    if (!o->seq_len || !o->group_size || !o->bin_size)
        return nt_err_set(err, NT_EINVAL, "packing: sequence_len, sample_packing_group_size and "
                                          "sample_packing_bin_size must be at least 1");
    for (size_t i = 0; i < s->n; i++)
        if (s->len[i] > o->seq_len)
            return nt_err_set(err, NT_EINVAL,
                              "packing: sample %zu (dataset %u, row %llu) has %u tokens, more than "
                              "sequence_len %u", i, s->dataset[i], (unsigned long long)s->row[i],
                              s->len[i], o->seq_len);
    return NT_OK;
}

/* Turns bin_of[] into the plan's CSR lists; within a bin, samples keep placement order. */
static void make_lists(const ds_set *s, const size_t *placed, const size_t *bin_of, size_t nbins,
                       ds_pack_plan *p) {
    p->nbins = nbins;
    p->nitems = s->n;
    p->bin_off = nt_xcalloc(nbins + 1, sizeof *p->bin_off);
    p->items = nt_xmalloc((s->n ? s->n : 1) * sizeof *p->items);
    for (size_t i = 0; i < s->n; i++) p->bin_off[bin_of[i] + 1]++;
    for (size_t b = 0; b < nbins; b++) p->bin_off[b + 1] += p->bin_off[b];
    size_t *fill = nt_xmalloc((nbins ? nbins : 1) * sizeof *fill);
    memcpy(fill, p->bin_off, nbins * sizeof *fill);
    for (size_t k = 0; k < s->n; k++) p->items[fill[bin_of[placed[k]]]++] = placed[k];
    free(fill);
}

static void shuffle_bins(size_t *bin_of, size_t n, size_t nbins, ds_rng *r) {
    size_t *perm = nt_xmalloc((nbins ? nbins : 1) * sizeof *perm);
    for (size_t b = 0; b < nbins; b++) perm[b] = b;
    ds_shuffle_idx(perm, nbins, r);
    for (size_t i = 0; i < n; i++) bin_of[i] = perm[bin_of[i]];
    free(perm);
}

nt_status ds_pack_plan_build(const ds_set *s, const ds_pack_opts *o, ds_pack_plan *p,
                             nt_err *err) {
    memset(p, 0, sizeof *p);
    nt_status st = check_inputs(s, o, err);
    if (st) return st;
    size_t n = s->n, cap = n ? n : 1, nbins = 0;
    size_t *order = nt_xmalloc(cap * sizeof *order), *placed = nt_xmalloc(cap * sizeof *placed);
    size_t *bin_of = nt_xmalloc(cap * sizeof *bin_of);
    for (size_t i = 0; i < n; i++) order[i] = i;
    if (o->sequential) {
        nbins = next_fit(s, order, n, o, bin_of);
        memcpy(placed, order, n * sizeof *placed);
    } else {
        /* Stream 1 + epoch: a fresh, reproducible sample order and bin order every epoch. */
        ds_rng r;
        ds_rng_seed(&r, o->seed, 1 + o->epoch);
        ds_shuffle_idx(order, n, &r);
        for (size_t g = 0; g < n; g += o->group_size) {
            size_t m = n - g < o->group_size ? n - g : o->group_size;
            nbins += ffd_group(s, order + g, m, o, nbins, bin_of, placed + g);
        }
        shuffle_bins(bin_of, n, nbins, &r);
    }
    make_lists(s, placed, bin_of, nbins, p);
    for (size_t i = 0; i < n; i++) p->ntok += s->len[i];
    p->seq_len = o->seq_len;
    free(order);
    free(placed);
    free(bin_of);
    nt_log_info("packing: %zu samples, %llu tokens into %zu bins of %u tokens: efficiency %.2f%%",
                n, (unsigned long long)p->ntok, p->nbins, p->seq_len,
                100.0 * ds_pack_efficiency(p));
    return NT_OK;
}

double ds_pack_efficiency(const ds_pack_plan *p) {
    if (!p->nbins) return 1.0;
    return (double)p->ntok / ((double)p->nbins * (double)p->seq_len);
}

void ds_pack_plan_free(ds_pack_plan *p) {
    free(p->bin_off);
    free(p->items);
    memset(p, 0, sizeof *p);
}
