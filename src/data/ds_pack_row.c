/* Materializing packed rows (conventions in ds_pack.h). */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "data/ds_pack.h"

void ds_pack_row_alloc(ds_pack_row *r, size_t cap) {
    size_t c = cap ? cap : 1;
    r->ids = nt_xmalloc(c * sizeof *r->ids);
    r->labels = nt_xmalloc(c * sizeof *r->labels);
    r->position_ids = nt_xmalloc(c * sizeof *r->position_ids);
    r->segment_ids = nt_xmalloc(c * sizeof *r->segment_ids);
    r->attention_mask = nt_xmalloc(c * sizeof *r->attention_mask);
    r->len = 0;
    r->cap = cap;
}

void ds_pack_row_free(ds_pack_row *r) {
    free(r->ids);
    free(r->labels);
    free(r->position_ids);
    free(r->segment_ids);
    free(r->attention_mask);
    memset(r, 0, sizeof *r);
}

/* Appends len tokens of sample i as segment seg; the first label is dropped (see ds_pack.h). */
static void put_sample(const ds_set *s, size_t i, uint32_t len, int32_t seg, ds_pack_row *r) {
    size_t at = r->len;
    memcpy(r->ids + at, ds_set_ids(s, i), len * sizeof *r->ids);
    memcpy(r->labels + at, ds_set_labels(s, i), len * sizeof *r->labels);
    if (len) r->labels[at] = DS_IGNORE_INDEX;
    for (uint32_t k = 0; k < len; k++) {
        r->position_ids[at + k] = k;
        r->segment_ids[at + k] = seg;
        r->attention_mask[at + k] = 1;
    }
    r->len += len;
}

static void put_padding(size_t to, int32_t pad_id, ds_pack_row *r) {
    for (size_t k = 0; r->len < to; k++, r->len++) {
        r->ids[r->len] = pad_id;
        r->labels[r->len] = DS_IGNORE_INDEX;
        r->position_ids[r->len] = (int64_t)k;
        r->segment_ids[r->len] = 0;
        r->attention_mask[r->len] = 0;
    }
}

size_t ds_pack_row_fill(const ds_set *s, const ds_pack_plan *p, size_t bin, bool pad,
                        int32_t pad_id, ds_pack_row *r) {
    r->len = 0;
    int32_t seg = 1;
    for (size_t k = p->bin_off[bin]; k < p->bin_off[bin + 1]; k++) {
        size_t i = p->items[k];
        uint32_t len = s->len[i];
        if (r->len + len > r->cap) len = (uint32_t)(r->cap - r->len); /* only if cap < seq_len */
        put_sample(s, i, len, seg++, r);
    }
    if (pad) put_padding(p->seq_len < r->cap ? p->seq_len : r->cap, pad_id, r);
    return r->len;
}

size_t ds_pack_row_single(const ds_set *s, size_t i, bool pad, int32_t pad_id, ds_pack_row *r) {
    r->len = 0;
    uint32_t len = s->len[i] < r->cap ? s->len[i] : (uint32_t)r->cap;
    put_sample(s, i, len, 1, r);
    if (pad) put_padding(r->cap, pad_id, r);
    return r->len;
}
