#include "data/ds_opts.h"

static uint64_t seed_of(const cfg *c) {
    return cfg_is_set(c, "seed") ? (uint64_t)cfg_get_int(c, "seed") : DS_DEFAULT_SEED;
}

ds_split_opts ds_split_opts_from_cfg(const cfg *c) {
    /* shuffle_merged_datasets defaults to true in the schema, so unset reads as true there. */
    return (ds_split_opts){.val_set_size = cfg_get_float(c, "val_set_size"),
                           .shuffle = cfg_get_bool(c, "shuffle_merged_datasets"),
                           .seed = seed_of(c)};
}

ds_pack_opts ds_pack_opts_from_cfg(const cfg *c) {
    ds_pack_opts o = ds_pack_opts_default((uint32_t)cfg_get_int(c, "sequence_len"));
    o.group_size = (size_t)cfg_get_int(c, "sample_packing_group_size");
    o.bin_size = (uint32_t)cfg_get_int(c, "sample_packing_bin_size");
    o.sequential = cfg_get_bool(c, "sample_packing_sequentially");
    o.seed = seed_of(c);
    return o;
}
