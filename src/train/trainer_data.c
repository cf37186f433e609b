/* The loop's data: tokenizer, tokenized train/validation sets (prepared cache when
 * dataset_prepared_path is set), the rows of each epoch and padded micro-batches. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "data/ds_opts.h"
#include "data/ds_prep.h"
#include "data/ds_split.h"
#include "train/trainer_internal.h"

/* Per-epoch sample order: a stream of its own, apart from the split (0) and packing (1 + e). */
#define TR_ORDER_STREAM 0x7200000000ull

typedef struct {
    const cfg *c;
    const tok_tokenizer *t;
    int threads;
} build_ctx;

/* The same pipeline as `newt preprocess` (its summary is that command's job). */
static nt_status build(void *ctx, ds_set *train, ds_set *valid, nt_err *err) {
    build_ctx *b = ctx;
    ds_stats st = {0};
    nt_status rc = ds_prepare_split(b->c, b->t, b->threads, train, valid, &st, err);
    ds_stats_free(&st);
    return rc;
}

nt_status tr_data_load(tr_ctx *x, nt_err *err) {
    const char *tp = cfg_get_str(x->c, "tokenizer_config");
    if (!tp) tp = cfg_get_str(x->c, "base_model");
    if (tok_load(tp, &x->tok, err)) return nt_err_prefix(err, "tokenizer (tokenizer_config/base_model): ");
    build_ctx b = {x->c, x->tok, x->ro->threads};
    const char *dir = cfg_get_str(x->c, "dataset_prepared_path");
    nt_status rc;
    if (dir) {
        uint8_t key[DS_CACHE_KEY_LEN];
        bool reused = false;
        rc = ds_prepare_key(x->c, x->tok, key, err);
        if (!rc) rc = ds_cache_get(dir, key, build, &b, &x->dc, &reused, err);
        if (rc) return rc;
        x->cached = true;
        x->train = &x->dc.train, x->val = &x->dc.val;
    } else {
        if ((rc = build(&b, &x->train_own, &x->val_own, err))) return rc;
        x->train = &x->train_own, x->val = &x->val_own;
    }
    return NT_OK;
}

void tr_data_free(tr_ctx *x) {
    if (x->cached) ds_cache_close(&x->dc);
    ds_set_free(&x->train_own);
    ds_set_free(&x->val_own);
    tok_free(x->tok);
}

nt_status tr_epoch_rows_build(const tr_ctx *x, uint64_t epoch, tr_epoch_rows *r, nt_err *err) {
    memset(r, 0, sizeof *r);
    if (x->packing) {
        ds_pack_opts o = ds_pack_opts_from_cfg(x->c);
        o.epoch = epoch;
        return ds_pack_plan_build(x->train, &o, r, err);
    }
    size_t n = x->train->n;
    r->nbins = r->nitems = n;
    r->seq_len = x->seq_len;
    r->bin_off = nt_xmalloc((n + 1) * sizeof *r->bin_off);
    r->items = nt_xmalloc((n ? n : 1) * sizeof *r->items);
    for (size_t i = 0; i <= n; i++) r->bin_off[i] = i;
    for (size_t i = 0; i < n; i++) r->items[i] = i, r->ntok += x->train->len[i];
    ds_split_opts so = ds_split_opts_from_cfg(x->c);
    ds_rng g;
    ds_rng_seed(&g, so.seed, TR_ORDER_STREAM + epoch); /* HF's RandomSampler: a new order per epoch */
    ds_shuffle_idx(r->items, n, &g);
    return NT_OK;
}

static void batch_reserve(tr_batch *bt, size_t n, uint32_t seq_len) {
    if (!bt->row.cap) ds_pack_row_alloc(&bt->row, seq_len);
    if (n <= bt->cap) return;
    bt->ids = nt_xrealloc(bt->ids, n * sizeof *bt->ids);
    bt->labels = nt_xrealloc(bt->labels, n * sizeof *bt->labels);
    bt->mask = nt_xrealloc(bt->mask, n * sizeof *bt->mask);
    bt->pos = nt_xrealloc(bt->pos, n * sizeof *bt->pos);
    bt->cap = n;
}

/* Copies the filled row into row b of a [B, T] batch; the rest of the row is padding: id 0
 * (never attended to: right padding under a causal mask), label -100, mask 0. */
static void put_row(tr_batch *bt, size_t b, size_t T) {
    const ds_pack_row *r = &bt->row;
    size_t o = b * T;
    memcpy(bt->ids + o, r->ids, r->len * sizeof *bt->ids);
    memcpy(bt->labels + o, r->labels, r->len * sizeof *bt->labels);
    memcpy(bt->mask + o, r->attention_mask, r->len);
    memcpy(bt->pos + o, r->position_ids, r->len * sizeof *bt->pos);
    for (size_t t = r->len; t < T; t++) {
        bt->ids[o + t] = 0, bt->labels[o + t] = DS_IGNORE_INDEX, bt->mask[o + t] = 0;
        bt->pos[o + t] = (int64_t)t;
    }
}

static void finish(tr_batch *bt, size_t B, size_t T) {
    bt->b = (m4_batch){.B = (int64_t)B, .T = (int64_t)T, .input_ids = bt->ids, .labels = bt->labels,
                       .attention_mask = bt->mask, .position_ids = bt->pos};
}

void tr_batch_fill(tr_batch *bt, const ds_set *s, const tr_epoch_rows *er, size_t r0, size_t r1,
                   uint32_t seq_len) {
    size_t T = 1;
    for (size_t r = r0; r < r1; r++) {
        size_t len = 0;
        for (size_t k = er->bin_off[r]; k < er->bin_off[r + 1]; k++) len += s->len[er->items[k]];
        if (len > T) T = len;
    }
    if (T > seq_len) T = seq_len;
    batch_reserve(bt, (r1 - r0) * T, seq_len);
    for (size_t r = r0; r < r1; r++) {
        ds_pack_row_fill(s, er, r, false, 0, &bt->row);
        put_row(bt, r - r0, T);
    }
    finish(bt, r1 - r0, T);
}

void tr_batch_fill_samples(tr_batch *bt, const ds_set *s, size_t i0, size_t i1, uint32_t seq_len) {
    size_t T = 1;
    for (size_t i = i0; i < i1; i++) T = s->len[i] > T ? s->len[i] : T;
    if (T > seq_len) T = seq_len;
    batch_reserve(bt, (i1 - i0) * T, seq_len);
    for (size_t i = i0; i < i1; i++) {
        ds_pack_row_single(s, i, false, 0, &bt->row);
        put_row(bt, i - i0, T);
    }
    finish(bt, i1 - i0, T);
}

void tr_batch_free(tr_batch *bt) {
    free(bt->ids), free(bt->labels), free(bt->mask), free(bt->pos);
    ds_pack_row_free(&bt->row);
    memset(bt, 0, sizeof *bt);
}
