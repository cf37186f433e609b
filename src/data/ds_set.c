#include "data/ds_set.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static void reserve_samples(ds_set *s, size_t extra) {
    if (s->n + extra <= s->cap) return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->n + extra) cap *= 2;
    s->start = nt_xrealloc(s->start, cap * sizeof *s->start);
    s->len = nt_xrealloc(s->len, cap * sizeof *s->len);
    s->dataset = nt_xrealloc(s->dataset, cap * sizeof *s->dataset);
    s->row = nt_xrealloc(s->row, cap * sizeof *s->row);
    s->cap = cap;
}

static void reserve_tokens(ds_set *s, uint64_t extra) {
    if (s->ntok + extra <= s->tok_cap) return;
    uint64_t cap = s->tok_cap ? s->tok_cap : 4096;
    while (cap < s->ntok + extra) cap *= 2;
    s->ids = nt_xrealloc(s->ids, cap * sizeof *s->ids);
    s->labels = nt_xrealloc(s->labels, cap * sizeof *s->labels);
    s->tok_cap = cap;
}

void ds_set_add(ds_set *s, const int32_t *ids, const int32_t *labels, uint32_t len,
                uint32_t dataset, uint64_t row) {
    reserve_samples(s, 1);
    reserve_tokens(s, len);
    memcpy(s->ids + s->ntok, ids, len * sizeof *ids);
    memcpy(s->labels + s->ntok, labels, len * sizeof *labels);
    s->start[s->n] = s->ntok;
    s->len[s->n] = len;
    s->dataset[s->n] = dataset;
    s->row[s->n] = row;
    s->n++;
    s->ntok += len;
}

void ds_set_append(ds_set *dst, const ds_set *src) {
    reserve_samples(dst, src->n);
    reserve_tokens(dst, src->ntok);
    for (size_t i = 0; i < src->n; i++)
        ds_set_add(dst, ds_set_ids(src, i), ds_set_labels(src, i), src->len[i], src->dataset[i],
                   src->row[i]);
}

void ds_set_free(ds_set *s) {
    if (!s->borrowed) {
        free(s->ids);
        free(s->labels);
        free(s->start);
        free(s->len);
        free(s->dataset);
        free(s->row);
    }
    memset(s, 0, sizeof *s);
}

uint32_t ds_set_trained(const ds_set *s, size_t i) {
    const int32_t *l = ds_set_labels(s, i);
    uint32_t n = 0;
    for (uint32_t k = 0; k < s->len[i]; k++) n += l[k] != DS_IGNORE_INDEX;
    return n;
}
