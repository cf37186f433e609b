/* Sample packing (config sample_packing), axolotl's multipack: samples are packed into bins of
 * sequence_len tokens by first-fit-decreasing within groups of sample_packing_group_size
 * samples, at most sample_packing_bin_size samples per bin. Semantics, determinism and the
 * boundary rule: docs/datasets.md, "Packing".
 *
 *   ds_pack_opts o = ds_pack_opts_default(seq_len);  o.seed = seed; o.epoch = epoch;
 *   ds_pack_plan p;  ds_pack_plan_build(&train, &o, &p, &err);   // logs the efficiency
 *   ds_pack_row r;   ds_pack_row_alloc(&r, seq_len);
 *   for (size_t b = 0; b < p.nbins; b++) { ds_pack_row_fill(&train, &p, b, pad, pad_id, &r); ... }
 *
 * A filled row: ids and labels of the bin's samples back to back; position_ids restart at 0
 * for every sample (the model starts a new attention segment wherever position_ids do not
 * increase by exactly 1); segment_ids 1, 2, 3, ... per sample (axolotl's packed
 * attention_mask) and 0 on padding; attention_mask 1 on tokens, 0 on padding. The label of
 * the FIRST token of every sample is set to -100: the model's loss shift makes position t
 * predict labels[t+1] across the whole row, so without this the last token of one sample would
 * be trained to predict the first token of the next (HF's DataCollatorWithFlattening does the
 * same). For the first sample of a row (and for unpacked rows) that label is never a target
 * anyway, so packed and unpacked training see exactly the same targets. */
#ifndef NEWT_DATA_DS_PACK_H
#define NEWT_DATA_DS_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "data/ds_set.h"

#define DS_PACK_GROUP_SIZE 100000 /* axolotl's sample_packing_group_size default */
#define DS_PACK_BIN_SIZE 200      /* axolotl's sample_packing_bin_size default */

typedef struct {
    uint32_t seq_len;    /* bin capacity in tokens (config sequence_len) */
    size_t group_size;   /* samples per packing group */
    uint32_t bin_size;   /* maximum samples per bin */
    bool sequential;     /* sample_packing_sequentially: dataset order, next-fit, bins in order */
    uint64_t seed;       /* config seed */
    uint64_t epoch;      /* a different (still deterministic) packing per epoch */
} ds_pack_opts;

static inline ds_pack_opts ds_pack_opts_default(uint32_t seq_len) {
    return (ds_pack_opts){.seq_len = seq_len, .group_size = DS_PACK_GROUP_SIZE,
                          .bin_size = DS_PACK_BIN_SIZE};
}

/* Bin b holds samples items[bin_off[b] .. bin_off[b+1]) (indices into the ds_set). */
typedef struct {
    size_t nbins, nitems;
    size_t *bin_off; /* nbins + 1 */
    size_t *items;
    uint64_t ntok;   /* tokens in all bins */
    uint32_t seq_len;
} ds_pack_plan;

/* Packs every sample of s. Errors (naming dataset and row) for a sample longer than seq_len,
 * and for zero seq_len/group_size/bin_size. Logs the packing efficiency at info level. */
nt_status ds_pack_plan_build(const ds_set *s, const ds_pack_opts *o, ds_pack_plan *p,
                             nt_err *err);
/* Packed tokens / (bins * seq_len), in [0, 1] (1 for an empty plan). */
double ds_pack_efficiency(const ds_pack_plan *p);
void ds_pack_plan_free(ds_pack_plan *p);

typedef struct {
    int32_t *ids, *labels;
    int64_t *position_ids;
    int32_t *segment_ids;     /* 1..k per sample, 0 on padding */
    uint8_t *attention_mask;  /* 1 token, 0 padding (m4_batch.attention_mask) */
    size_t len, cap;          /* filled length; capacity (seq_len) */
} ds_pack_row;

void ds_pack_row_alloc(ds_pack_row *r, size_t cap);
void ds_pack_row_free(ds_pack_row *r);
/* Fills r with bin `bin` of p (built from s); with pad, up to p->seq_len with ids pad_id,
 * labels -100, attention_mask 0, segment 0 and position_ids 0, 1, 2, ... (a segment of its
 * own). r->cap must be >= p->seq_len. Returns r->len. */
size_t ds_pack_row_fill(const ds_set *s, const ds_pack_plan *p, size_t bin, bool pad,
                        int32_t pad_id, ds_pack_row *r);

/* An unpacked sample as a row (same conventions, one segment), e.g. for evaluation without
 * packing: truncated to r->cap. Returns r->len. */
size_t ds_pack_row_single(const ds_set *s, size_t i, bool pad, int32_t pad_id, ds_pack_row *r);

#endif
