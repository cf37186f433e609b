/* The conversation pipeline: every datasets: entry of a config read, rendered, tokenized and
 * masked into one ds_set, in config/file/row order, on all cores (deterministic: rows are cut
 * into chunks whose results are merged in order). Rows that cannot be used are counted by
 * reason (ds_drop), never dropped silently; malformed_row_strategy: raise and
 * excess_length_strategy: raise turn them into errors naming file:line.
 *
 *   ds_set s = {0}; ds_stats st = {0};
 *   if (ds_prepare(cfg, tok, 0, &s, &st, &err)) ...;
 *   ... st.rows, st.kept, st.dropped[DS_DROP_TOO_LONG], st.notes[0] ...
 *   ds_stats_free(&st); ds_set_free(&s); */
#ifndef NEWT_DATA_DS_PREP_H
#define NEWT_DATA_DS_PREP_H

#include "config/config.h"
#include "data/ds_cache.h"
#include "data/ds_chat.h"
#include "data/ds_set.h"
#include "tokenizer/tok.h"

#define DS_MAX_NOTES 20 /* drop messages kept for the summary (all are counted) */

typedef struct {
    uint64_t rows;                   /* rows read (JSON lines / list elements) */
    uint64_t kept, truncated;        /* samples produced; of which truncated to sequence_len */
    uint64_t dropped[DS_DROP_COUNT]; /* rows dropped, by reason */
    uint64_t tokens, trained;        /* in kept samples */
    uint64_t unterminated;           /* trained turns without a trained terminator (ds_sample) */
    double seconds;
    int threads;
    char **notes;                    /* "data/x.jsonl:12: message 1: unknown role 'bot'" */
    size_t nnotes;
} ds_stats;

/* threads <= 0: dataset_num_proc, else every core OpenMP has. */
nt_status ds_prepare(const cfg *c, const tok_tokenizer *t, int threads, ds_set *out, ds_stats *st,
                     nt_err *err);
void ds_stats_free(ds_stats *s);
/* ds_prepare, then the config's shuffle and split (ds_split_opts_from_cfg): what `newt
 * preprocess` and `newt train` build when the prepared cache has nothing usable. No sample
 * left is an error naming `datasets`. train and valid must be empty. */
nt_status ds_prepare_split(const cfg *c, const tok_tokenizer *t, int threads, ds_set *train,
                           ds_set *valid, ds_stats *st, nt_err *err);
uint64_t ds_stats_dropped(const ds_stats *s); /* sum over reasons */

/* The prepared-cache key of a config: every data file's bytes, the tokenizer file, each
 * dataset's template text, and every config key that changes the prepared sets (see
 * docs/datasets.md). Errors name a missing file. */
nt_status ds_prepare_key(const cfg *c, const tok_tokenizer *t, uint8_t key[DS_CACHE_KEY_LEN], nt_err *err);

#endif
