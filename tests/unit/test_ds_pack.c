#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "data/ds_pack.h"
#include "kernels/kernels.h"
#include "test.h"
#include "py_oracle.h"

/* Sample i has the given length; ids are 100*i + k, labels = ids. */
static void make_lens(ds_set *s, const uint32_t *lens, size_t n) {
    int32_t buf[4096];
    for (size_t i = 0; i < n; i++) {
        for (uint32_t k = 0; k < lens[i]; k++) buf[k] = (int32_t)(100 * i + k);
        ds_set_add(s, buf, buf, lens[i], 0, i + 1);
    }
}

/* Every sample appears exactly once, and no bin exceeds seq_len tokens or bin_size samples. */
static void check_valid(const ds_set *s, const ds_pack_plan *p, uint32_t seq_len, uint32_t bin_size) {
    char *seen = calloc(s->n + 1, 1);
    CHECK_EQ_INT(p->bin_off[p->nbins], s->n);
    for (size_t b = 0; b < p->nbins; b++) {
        uint64_t tok = 0;
        CHECK(p->bin_off[b + 1] > p->bin_off[b]);
        CHECK(p->bin_off[b + 1] - p->bin_off[b] <= bin_size);
        for (size_t k = p->bin_off[b]; k < p->bin_off[b + 1]; k++) {
            tok += s->len[p->items[k]];
            CHECK(!seen[p->items[k]]);
            seen[p->items[k]] = 1;
        }
        CHECK(tok <= seq_len);
    }
    for (size_t i = 0; i < s->n; i++) CHECK(seen[i]);
    free(seen);
}

/* Sorted bin contents as a canonical string, e.g. "0,2;1,3,4;". */
static void canon(const ds_pack_plan *p, const ds_set *s, bool lengths, char *out, size_t cap) {
    char **bins = calloc(p->nbins, sizeof *bins);
    for (size_t b = 0; b < p->nbins; b++) {
        size_t m = p->bin_off[b + 1] - p->bin_off[b];
        size_t *v = malloc(m * sizeof *v);
        for (size_t k = 0; k < m; k++) {
            size_t i = p->items[p->bin_off[b] + k];
            v[k] = lengths ? s->len[i] : i;
        }
        for (size_t x = 1; x < m; x++)  /* insertion sort */
            for (size_t y = x; y > 0 && v[y - 1] > v[y]; y--) { size_t t = v[y]; v[y] = v[y - 1]; v[y - 1] = t; }
        bins[b] = calloc(m * 8 + 2, 1);
        for (size_t k = 0; k < m; k++) sprintf(bins[b] + strlen(bins[b]), "%03zu,", v[k]);
        free(v);
    }
    for (size_t x = 1; x < p->nbins; x++)
        for (size_t y = x; y > 0 && strcmp(bins[y - 1], bins[y]) > 0; y--) { char *t = bins[y]; bins[y] = bins[y - 1]; bins[y - 1] = t; }
    out[0] = '\0';
    for (size_t b = 0; b < p->nbins; b++) {
        if (strlen(out) + strlen(bins[b]) + 2 < cap) { strcat(out, bins[b]); strcat(out, ";"); }
        free(bins[b]);
    }
    free(bins);
}

TEST(ffd_hand_example) {
    /* Capacity 10, lengths 6 5 4 3 2: FFD puts 6→A, 5→B, 4→A (full), 3→B, 2→B (full). */
    uint32_t lens[] = {6, 5, 4, 3, 2};
    ds_set s = {0};
    make_lens(&s, lens, 5);
    ds_pack_opts o = ds_pack_opts_default(10);
    o.seed = 3;
    ds_pack_plan p;
    nt_err err = {0};
    nt_log_set_level(NT_LOG_ERROR);
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &p, &err), NT_OK);
    char got[256];
    canon(&p, &s, false, got, sizeof got);
    CHECK_EQ_STR(got, "000,002,;001,003,004,;");
    CHECK_NEAR(ds_pack_efficiency(&p), 20.0 / 20.0, 1e-12);
    check_valid(&s, &p, 10, 200);
    ds_pack_plan_free(&p);
    ds_set_free(&s);
}

/* Naive first-fit-decreasing on the lengths (scanning bins in order), independent of the tree. */
static size_t naive_ffd(const uint32_t *lens, size_t n, uint32_t cap, uint32_t bin_size,
                        uint32_t *fill, uint32_t *cnt, char bins[][64]) {
    uint32_t *v = malloc(n * sizeof *v);
    memcpy(v, lens, n * sizeof *v);
    for (size_t x = 1; x < n; x++)
        for (size_t y = x; y > 0 && v[y - 1] < v[y]; y--) { uint32_t t = v[y]; v[y] = v[y - 1]; v[y - 1] = t; }
    size_t nb = 0;
    for (size_t k = 0; k < n; k++) {
        size_t b = 0;
        while (b < nb && (fill[b] + v[k] > cap || cnt[b] >= bin_size)) b++;
        if (b == nb) { fill[nb] = cnt[nb] = 0; bins[nb][0] = '\0'; nb++; }
        fill[b] += v[k];
        cnt[b]++;
    }
    free(v);
    return nb;
}

/* Smallest number of bins (exhaustive search) for tiny instances. */
static void brute(const uint32_t *lens, size_t n, size_t k, uint32_t cap, uint32_t *fill, size_t nb, size_t *best) {
    if (nb >= *best) return;
    if (k == n) { *best = nb; return; }
    for (size_t b = 0; b <= nb; b++) {
        if (b == nb) fill[nb] = 0;
        if (fill[b] + lens[k] > cap) continue;
        fill[b] += lens[k];
        brute(lens, n, k + 1, cap, fill, b == nb ? nb + 1 : nb, best);
        fill[b] -= lens[k];
    }
}

TEST(ffd_matches_naive_and_is_near_optimal) {
    uint64_t seed = 99;
    nt_log_set_level(NT_LOG_ERROR);
    for (int it = 0; it < 200; it++) {
        size_t n = 1 + py_oracle_rand(&seed) % (it < 150 ? 8 : 300);
        uint32_t cap = 8 + (uint32_t)(py_oracle_rand(&seed) % 40);
        uint32_t bin_size = it % 3 == 0 ? 2 + (uint32_t)(py_oracle_rand(&seed) % 3) : 200;
        uint32_t *lens = malloc(n * sizeof *lens), *fill = malloc(n * sizeof *fill), *cnt = malloc(n * sizeof *cnt);
        char (*names)[64] = malloc(n * sizeof *names);
        for (size_t i = 0; i < n; i++) lens[i] = 1 + (uint32_t)(py_oracle_rand(&seed) % cap);
        ds_set s = {0};
        make_lens(&s, lens, n);
        ds_pack_opts o = ds_pack_opts_default(cap);
        o.bin_size = bin_size;
        o.seed = (uint64_t)it;
        ds_pack_plan p;
        nt_err err = {0};
        CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &p, &err), NT_OK);
        check_valid(&s, &p, cap, bin_size);
        size_t nb = naive_ffd(lens, n, cap, bin_size, fill, cnt, names);
        CHECK_MSG(p.nbins == nb, "it %d: %zu bins, naive FFD %zu", it, p.nbins, nb);
        if (n <= 8 && bin_size == 200) {
            size_t best = n + 1;
            brute(lens, n, 0, cap, fill, 0, &best);
            /* Dósa (2007): FFD <= 11/9 OPT + 6/9. */
            CHECK(p.nbins >= best && 9 * p.nbins <= 11 * best + 6);
        }
        ds_pack_plan_free(&p);
        ds_set_free(&s);
        free(lens); free(fill); free(cnt); free(names);
    }
}

TEST(bin_size_limits_samples_per_bin) {
    uint32_t lens[50];
    for (int i = 0; i < 50; i++) lens[i] = 1;
    ds_set s = {0};
    make_lens(&s, lens, 50);
    ds_pack_opts o = ds_pack_opts_default(100);
    o.bin_size = 7;
    ds_pack_plan p;
    nt_err err = {0};
    nt_log_set_level(NT_LOG_ERROR);
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &p, &err), NT_OK);
    CHECK_EQ_INT(p.nbins, 8); /* ceil(50 / 7) */
    check_valid(&s, &p, 100, 7);
    CHECK_NEAR(ds_pack_efficiency(&p), 50.0 / 800.0, 1e-12);
    ds_pack_plan_free(&p);
    ds_set_free(&s);
}

TEST(groups_are_packed_separately) {
    /* Ten samples of 5 tokens, capacity 10: 5 bins in one group; groups of 3 → 2+2+2+1 = 7. */
    uint32_t lens[10];
    for (int i = 0; i < 10; i++) lens[i] = 5;
    ds_set s = {0};
    make_lens(&s, lens, 10);
    ds_pack_opts o = ds_pack_opts_default(10);
    ds_pack_plan p;
    nt_err err = {0};
    nt_log_set_level(NT_LOG_ERROR);
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &p, &err), NT_OK);
    CHECK_EQ_INT(p.nbins, 5);
    ds_pack_plan_free(&p);
    o.group_size = 3;
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &p, &err), NT_OK);
    CHECK_EQ_INT(p.nbins, 7);
    CHECK_NEAR(ds_pack_efficiency(&p), 50.0 / 70.0, 1e-12);
    check_valid(&s, &p, 10, 200);
    ds_pack_plan_free(&p);
    ds_set_free(&s);
}

TEST(deterministic_per_seed_and_epoch) {
    uint32_t lens[400];
    uint64_t r = 5;
    for (int i = 0; i < 400; i++) lens[i] = 1 + (uint32_t)(py_oracle_rand(&r) % 60);
    ds_set s = {0};
    make_lens(&s, lens, 400);
    ds_pack_opts o = ds_pack_opts_default(128);
    o.seed = 42;
    o.group_size = 100;
    ds_pack_plan a, b, c, d;
    nt_err err = {0};
    nt_log_set_level(NT_LOG_ERROR);
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &a, &err), NT_OK);
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &b, &err), NT_OK);
    o.epoch = 1;
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &c, &err), NT_OK);
    o.epoch = 0;
    o.seed = 43;
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &d, &err), NT_OK);
    CHECK(a.nbins == b.nbins && memcmp(a.items, b.items, 400 * sizeof *a.items) == 0 &&
          memcmp(a.bin_off, b.bin_off, (a.nbins + 1) * sizeof *a.bin_off) == 0);
    CHECK(memcmp(a.items, c.items, 400 * sizeof *a.items) != 0);
    CHECK(memcmp(a.items, d.items, 400 * sizeof *a.items) != 0);
    check_valid(&s, &c, 128, 200);
    check_valid(&s, &d, 128, 200);
    ds_pack_plan_free(&a); ds_pack_plan_free(&b); ds_pack_plan_free(&c); ds_pack_plan_free(&d);
    ds_set_free(&s);
}

TEST(sequential_is_next_fit_in_order) {
    uint32_t lens[] = {3, 4, 5, 2, 8};
    ds_set s = {0};
    make_lens(&s, lens, 5);
    ds_pack_opts o = ds_pack_opts_default(8);
    o.sequential = true;
    o.seed = 77;
    ds_pack_plan p;
    nt_err err = {0};
    nt_log_set_level(NT_LOG_ERROR);
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &p, &err), NT_OK);
    CHECK_EQ_INT(p.nbins, 3);
    size_t want_off[] = {0, 2, 4, 5}, want_items[] = {0, 1, 2, 3, 4};
    CHECK(memcmp(p.bin_off, want_off, sizeof want_off) == 0);
    CHECK(memcmp(p.items, want_items, sizeof want_items) == 0);
    CHECK_NEAR(ds_pack_efficiency(&p), 22.0 / 24.0, 1e-12);
    ds_pack_plan_free(&p);
    ds_set_free(&s);
}

TEST(errors_name_the_sample) {
    uint32_t lens[] = {3, 9};
    ds_set s = {0};
    make_lens(&s, lens, 2);
    ds_pack_opts o = ds_pack_opts_default(8);
    ds_pack_plan p;
    nt_err err = {0};
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &p, &err), NT_EINVAL);
    CHECK_CONTAINS(err.msg, "row 2");
    CHECK_CONTAINS(err.msg, "9 tokens");
    o = ds_pack_opts_default(16);
    o.bin_size = 0;
    CHECK_EQ_INT(ds_pack_plan_build(&s, &o, &p, &err), NT_EINVAL);
    ds_set_free(&s);
    ds_set empty = {0};
    o = ds_pack_opts_default(16);
    nt_log_set_level(NT_LOG_ERROR);
    CHECK_EQ_INT(ds_pack_plan_build(&empty, &o, &p, &err), NT_OK);
    CHECK_EQ_INT(p.nbins, 0);
    CHECK_NEAR(ds_pack_efficiency(&p), 1.0, 0);
    ds_pack_plan_free(&p);
}

TEST(row_fill_exact) {
    ds_set s = {0};
    int32_t a[] = {10, 11, 12}, al[] = {-100, 11, 12}, b[] = {20, 21}, bl[] = {20, 21};
    ds_set_add(&s, a, al, 3, 0, 1);
    ds_set_add(&s, b, bl, 2, 0, 2);
    size_t off[] = {0, 2}, items[] = {0, 1};
    ds_pack_plan p = {.nbins = 1, .nitems = 2, .bin_off = off, .items = items, .ntok = 5, .seq_len = 8};
    ds_pack_row r;
    ds_pack_row_alloc(&r, 8);
    CHECK_EQ_INT(ds_pack_row_fill(&s, &p, 0, true, 0, &r), 8);
    int32_t ids[] = {10, 11, 12, 20, 21, 0, 0, 0}, lab[] = {-100, 11, 12, -100, 21, -100, -100, -100};
    int64_t pos[] = {0, 1, 2, 0, 1, 0, 1, 2};
    int32_t seg[] = {1, 1, 1, 2, 2, 0, 0, 0};
    uint8_t mask[] = {1, 1, 1, 1, 1, 0, 0, 0};
    CHECK(memcmp(r.ids, ids, sizeof ids) == 0);
    CHECK(memcmp(r.labels, lab, sizeof lab) == 0);
    CHECK(memcmp(r.position_ids, pos, sizeof pos) == 0);
    CHECK(memcmp(r.segment_ids, seg, sizeof seg) == 0);
    CHECK(memcmp(r.attention_mask, mask, sizeof mask) == 0);
    /* The model's own segmentation of these position ids splits exactly at the sample start. */
    int32_t kseg[8];
    kn_segments_from_positions(r.position_ids, 1, 8, kseg);
    CHECK(kseg[0] == kseg[2] && kseg[2] != kseg[3] && kseg[3] == kseg[4] && kseg[4] != kseg[5]);
    CHECK_EQ_INT(ds_pack_row_fill(&s, &p, 0, false, 0, &r), 5);
    CHECK_EQ_INT(ds_pack_row_single(&s, 1, true, 7, &r), 8);
    CHECK_EQ_INT(r.ids[1], 21);
    CHECK_EQ_INT(r.labels[0], -100);
    CHECK_EQ_INT(r.labels[1], 21);
    CHECK_EQ_INT(r.ids[2], 7);
    CHECK_EQ_INT(r.position_ids[2], 0);
    ds_pack_row_free(&r);
    ds_set_free(&s);
}

TEST_MAIN()
