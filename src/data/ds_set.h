/* A tokenized dataset in columns: every sample's token ids and labels back to back in two
 * flat arrays, with per-sample start, length, source dataset index and source row. This is
 * what the conversation pipeline produces, what split/shuffle/packing index into, and what the
 * prepared cache stores (the columns map directly onto the mmapped file).
 * Labels use -100 for tokens that are not trained (HF's ignore_index). Labels are aligned with
 * ids (label[i] is the target at position i, i.e. ids[i] itself or -100); the model applies
 * HF's next-token shift. */
#ifndef NEWT_DATA_DS_SET_H
#define NEWT_DATA_DS_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_IGNORE_INDEX (-100)

typedef struct {
    int32_t *ids, *labels;  /* ntok each */
    uint64_t ntok, tok_cap;
    uint64_t *start;        /* n each: offset of sample i in ids/labels */
    uint32_t *len;
    uint32_t *dataset;      /* index into the config's datasets list */
    uint64_t *row;          /* 1-based line (jsonl) or element index (json) in its file */
    size_t n, cap;
    bool borrowed;          /* columns point into a mapping (prepared cache): not freed */
} ds_set;

/* Appends one sample (copies ids and labels). */
void ds_set_add(ds_set *s, const int32_t *ids, const int32_t *labels, uint32_t len,
                uint32_t dataset, uint64_t row);
/* Appends every sample of src (e.g. merging per-thread results in order). */
void ds_set_append(ds_set *dst, const ds_set *src);
void ds_set_free(ds_set *s);

static inline const int32_t *ds_set_ids(const ds_set *s, size_t i) { return s->ids + s->start[i]; }
static inline const int32_t *ds_set_labels(const ds_set *s, size_t i) {
    return s->labels + s->start[i];
}
/* Number of trained tokens (labels != -100) of sample i. */
uint32_t ds_set_trained(const ds_set *s, size_t i);

#endif
