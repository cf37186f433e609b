#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/ds_opts.h"
#include "data/ds_split.h"
#include "test.h"
#include "py_oracle.h"

/* Sample i: len 1 + i % 3 tokens, every id = i, labels = ids; dataset i % 2, row i + 1. */
static void make_set(ds_set *s, size_t n) {
    int32_t ids[3];
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) ids[k] = (int32_t)i;
        ds_set_add(s, ids, ids, (uint32_t)(1 + i % 3), (uint32_t)(i % 2), (uint64_t)i + 1);
    }
}

/* Reads "a b c ..." from the oracle into out (n numbers); returns how many were read. */
static size_t oracle_perm(uint64_t seed, uint64_t stream, size_t n, size_t *out) {
    char args[128];
    snprintf(args, sizeof args, "shuffle %llu %llu %zu", (unsigned long long)seed,
             (unsigned long long)stream, n);
    FILE *f = py_oracle_open("ds_ref.py", args);
    if (!f) return 0;
    size_t k = 0;
    while (k < n && fscanf(f, "%zu", &out[k]) == 1) k++;
    pclose(f);
    return k;
}

TEST(shuffle_matches_python_reference) {
    if (!py_oracle_available()) SKIP("no /usr/bin/python3");
    const size_t ns[] = {1, 2, 10, 1000};
    const uint64_t seeds[] = {0, 42, 0xFFFFFFFFFFFFFFFFull};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 3; b++)
            for (uint64_t stream = 0; stream < 3; stream += 2) {
                size_t n = ns[a], *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
                CHECK_EQ_INT(oracle_perm(seeds[b], stream, n, want), n);
                for (size_t i = 0; i < n; i++) got[i] = i;
                ds_rng r;
                ds_rng_seed(&r, seeds[b], stream);
                ds_shuffle_idx(got, n, &r);
                CHECK_MSG(memcmp(got, want, n * sizeof *got) == 0, "n=%zu seed=%llu stream=%llu", n,
                          (unsigned long long)seeds[b], (unsigned long long)stream);
                free(want);
                free(got);
            }
}

TEST(rng_below_is_in_range_and_spread) {
    ds_rng r;
    ds_rng_seed(&r, 7, 0);
    int hist[6] = {0};
    for (int i = 0; i < 60000; i++) {
        uint64_t x = ds_rng_below(&r, 6);
        CHECK(x < 6);
        if (x < 6) hist[x]++;
    }
    for (int k = 0; k < 6; k++) CHECK_MSG(hist[k] > 9500 && hist[k] < 10500, "bucket %d: %d", k, hist[k]);
    CHECK_EQ_INT(ds_rng_below(&r, 1), 0);
}

/* Expected sizes from Python: math.ceil(f * n) (HF train_test_split's rule for a float). */
TEST(split_sizes_follow_hf_rounding) {
    struct { double v; size_t n, val; } cases[] = {
        {0.1, 30, 3}, {0.1, 10, 1}, {0.05, 7, 1}, {0.2, 5, 1}, {0.3, 10, 3},
        {0.01, 1000, 10}, {0.07, 100, 8}, {0.5, 3, 2}, {0.0, 5, 0}, {3, 10, 3}, {1, 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t tr = 99, va = 99;
        nt_err err = {0};
        CHECK_EQ_INT(ds_split_sizes(cases[i].n, cases[i].v, &tr, &va, &err), NT_OK);
        CHECK_MSG(va == cases[i].val, "val_set_size %g of %zu: %zu, want %zu", cases[i].v, cases[i].n,
                  va, cases[i].val);
        CHECK_EQ_INT(tr + va, cases[i].n);
    }
}

TEST(split_sizes_errors) {
    size_t tr, va;
    nt_err err = {0};
    CHECK_EQ_INT(ds_split_sizes(1, 0.5, &tr, &va, &err), NT_EINVAL);
    CHECK_CONTAINS(err.msg, "only 1 rows");
    CHECK_EQ_INT(ds_split_sizes(10, 10, &tr, &va, &err), NT_EINVAL);
    CHECK_CONTAINS(err.msg, "val_set_size");
    CHECK_EQ_INT(ds_split_sizes(10, 1.5, &tr, &va, &err), NT_EINVAL);
    CHECK_CONTAINS(err.msg, "whole row count");
    CHECK_EQ_INT(ds_split_sizes(10, -0.1, &tr, &va, &err), NT_EINVAL);
    CHECK_EQ_INT(ds_split_sizes(0, 0.1, &tr, &va, &err), NT_EINVAL);
}

TEST(split_without_shuffle_takes_the_last_rows) {
    ds_set all = {0}, tr = {0}, va = {0};
    make_set(&all, 8);
    nt_err err = {0};
    ds_split_opts o = {.val_set_size = 0.25, .shuffle = false, .seed = 1};
    CHECK_EQ_INT(ds_split(&all, &o, &tr, &va, &err), NT_OK);
    CHECK_EQ_INT(tr.n, 6);
    CHECK_EQ_INT(va.n, 2);
    for (size_t i = 0; i < 6; i++) {
        CHECK_EQ_INT(tr.len[i], 1 + i % 3);
        CHECK_EQ_INT(ds_set_ids(&tr, i)[0], i);
        CHECK_EQ_INT(tr.row[i], i + 1);
    }
    CHECK_EQ_INT(ds_set_ids(&va, 0)[0], 6);
    CHECK_EQ_INT(ds_set_labels(&va, 1)[1], 7);
    CHECK_EQ_INT(va.dataset[1], 1);
    CHECK_EQ_INT(tr.ntok + va.ntok, all.ntok);
    ds_set_free(&all);
    ds_set_free(&tr);
    ds_set_free(&va);
}

TEST(split_with_shuffle_follows_the_seeded_permutation) {
    if (!py_oracle_available()) SKIP("no /usr/bin/python3");
    ds_set all = {0}, tr = {0}, va = {0};
    make_set(&all, 50);
    size_t perm[50];
    CHECK_EQ_INT(oracle_perm(123, 0, 50, perm), 50);
    nt_err err = {0};
    ds_split_opts o = {.val_set_size = 5, .shuffle = true, .seed = 123};
    CHECK_EQ_INT(ds_split(&all, &o, &tr, &va, &err), NT_OK);
    CHECK_EQ_INT(tr.n, 45);
    CHECK_EQ_INT(va.n, 5);
    for (size_t i = 0; i < 50; i++) {
        const ds_set *s = i < 45 ? &tr : &va;
        size_t k = i < 45 ? i : i - 45;
        CHECK_EQ_INT(ds_set_ids(s, k)[0], perm[i]);
        CHECK_EQ_INT(s->len[k], 1 + perm[i] % 3);
        CHECK_EQ_INT(s->row[k], perm[i] + 1);
    }
    ds_set_free(&all);
    ds_set_free(&tr);
    ds_set_free(&va);
}

TEST(split_zero_keeps_everything_in_order) {
    ds_set all = {0}, tr = {0}, va = {0};
    make_set(&all, 5);
    nt_err err = {0};
    ds_split_opts o = {.val_set_size = 0, .shuffle = false};
    CHECK_EQ_INT(ds_split(&all, &o, &tr, &va, &err), NT_OK);
    CHECK_EQ_INT(tr.n, 5);
    CHECK_EQ_INT(va.n, 0);
    CHECK(memcmp(tr.ids, all.ids, all.ntok * sizeof *all.ids) == 0);
    ds_set_free(&all);
    ds_set_free(&tr);
    ds_set_free(&va);
}

TEST(options_from_config) {
    cfg *c = NULL;
    nt_err err = {0};
    const char *y = "base_model: m\nlearning_rate: 0.001\ndatasets: [{path: d}]\n";
    CHECK_EQ_INT(cfg_load_text(y, strlen(y), "a.yml", 0, NULL, &c, &err), NT_OK);
    if (!c) return;
    ds_split_opts so = ds_split_opts_from_cfg(c);
    CHECK(so.shuffle && so.val_set_size == 0 && so.seed == 42);
    ds_pack_opts po = ds_pack_opts_from_cfg(c);
    CHECK(po.seq_len == 512 && po.group_size == 100000 && po.bin_size == 200 && !po.sequential);
    cfg_free(c);
    y = "base_model: m\nlearning_rate: 0.001\ndatasets: [{path: d}]\nseed: 7\nval_set_size: 0.05\nshuffle_merged_datasets: false\n"
        "sequence_len: 4096\nsample_packing_bin_size: 9\nsample_packing_group_size: 1000\n"
        "sample_packing_sequentially: true\n";
    CHECK_EQ_INT(cfg_load_text(y, strlen(y), "b.yml", 0, NULL, &c, &err), NT_OK);
    if (!c) return;
    so = ds_split_opts_from_cfg(c);
    CHECK(!so.shuffle && so.val_set_size == 0.05 && so.seed == 7);
    po = ds_pack_opts_from_cfg(c);
    CHECK(po.seq_len == 4096 && po.group_size == 1000 && po.bin_size == 9 && po.sequential && po.seed == 7);
    cfg_free(c);
}

TEST_MAIN()
