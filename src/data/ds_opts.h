/* Split and packing options read from a loaded config (config/config.h), so the pipeline and
 * the trainer agree on the keys and their defaults. */
#ifndef NEWT_DATA_DS_OPTS_H
#define NEWT_DATA_DS_OPTS_H

#include "config/config.h"
#include "data/ds_pack.h"
#include "data/ds_split.h"

/* The seed used when the config sets none: shuffles stay reproducible run to run. */
#define DS_DEFAULT_SEED 42

/* val_set_size, shuffle_merged_datasets, seed. */
ds_split_opts ds_split_opts_from_cfg(const cfg *c);
/* sequence_len, sample_packing_group_size, sample_packing_bin_size,
 * sample_packing_sequentially, seed; epoch 0. */
ds_pack_opts ds_pack_opts_from_cfg(const cfg *c);

#endif
