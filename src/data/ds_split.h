/* Shuffle and train/validation split of a tokenized dataset, with axolotl's semantics
 * (docs/datasets.md, "Split and shuffle"):
 *   1. when shuffle_merged_datasets (default true) the merged samples are permuted with a
 *      seeded Fisher–Yates shuffle driven by ds_rng (SplitMix64: same permutation on every
 *      platform and compiler, independent of any C library rand());
 *   2. then, like HF datasets' train_test_split(shuffle=False), the LAST val rows become the
 *      validation set, where val = ceil(val_set_size * n) (a double product, as in Python)
 *      for a fraction in (0, 1), or val_set_size itself for a whole count >= 1.
 * Errors (never a crash) when the split would leave either side empty. */
#ifndef NEWT_DATA_DS_SPLIT_H
#define NEWT_DATA_DS_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "data/ds_set.h"

/* SplitMix64 (Steele, Lea, Flood 2014): state += 0x9E3779B97F4A7C15, then the finaliser.
 * Small, fast, and trivially reproducible in any language (the tests check it against a
 * Python rendition). */
typedef struct {
    uint64_t s;
} ds_rng;

/* state = seed XOR (stream * 0xD1B54A32D192ED03): independent streams for the dataset shuffle
 * (stream 0) and each packing epoch (stream 1 + epoch) from one config seed. */
void ds_rng_seed(ds_rng *r, uint64_t seed, uint64_t stream);
uint64_t ds_rng_next(ds_rng *r);
/* Uniform in [0, n) without modulo bias (rejects draws below 2^64 mod n); n >= 1. */
uint64_t ds_rng_below(ds_rng *r, uint64_t n);
/* Fisher–Yates, from the end: for i = n-1 .. 1: j = below(i+1); swap(a[i], a[j]). */
void ds_shuffle_idx(size_t *a, size_t n, ds_rng *r);

/* Sizes of the split of n rows (see above). val_set_size 0 puts everything in train. */
nt_status ds_split_sizes(size_t n, double val_set_size, size_t *ntrain, size_t *nval,
                         nt_err *err);

/* dst = src's samples idx[0..n) in that order, copied into fresh contiguous columns (dst must
 * be empty). Works on borrowed sets too. */
void ds_set_select(const ds_set *src, const size_t *idx, size_t n, ds_set *dst);

typedef struct {
    double val_set_size; /* config val_set_size: fraction in [0, 1) or a whole count */
    bool shuffle;        /* config shuffle_merged_datasets (default true) */
    uint64_t seed;       /* config seed (the pipeline's default when unset: 42) */
} ds_split_opts;

/* train/val = the shuffled-then-split samples of all (train and val must be empty; val stays
 * empty when val_set_size is 0). all is left untouched. */
nt_status ds_split(const ds_set *all, const ds_split_opts *o, ds_set *train, ds_set *valid,
                   nt_err *err);

#endif
