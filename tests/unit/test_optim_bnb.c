/* The 8-bit AdamW's lookup-table quantizer (tr_qtable) against the reference binary search
 * (tn_qmap_quantize, bnb's dQuantize), value by value, on both dynamic maps and on other
 * sorted maps: a strided sweep of every float in [-1.01, 1.01], every code and every
 * midpoint between codes with their neighbours a few ulps either side, each binade's ends,
 * and NaN, inf, +-0, subnormals and values beyond the table ends; scalar and AVX-512
 * lookups both. Then whole optimizer steps: the AVX-512 block kernel, the portable table
 * kernel and the search kernel give the same parameters, codes and absmaxes, on gradients
 * with NaN, inf, overflowing squares, all-zero blocks and a padded last block. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "test.h"

#include "base/mem.h"
#include "tensor/qmap.h"
#include "train/optim.h"
#include "train/optim_internal.h"

static float fbits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* Collects values and checks them in batches of 4096 against the reference. */
typedef struct {
    const float *map;
    const tr_qtable *t;
    float x[4096];
    size_t n, checked, bad;
    bool vec, vec2; /* the AVX-512 / AVX2 lookups ran (CPU permitting) */
} checker;

static void flush(checker *c) {
    uint8_t q[4096], q2[4096];
    size_t nv = c->n / 16 * 16;
    bool vec = tr_qtable_quantize_avx512(c->t, c->x, nv, q);
    bool vec2 = tr_qtable_quantize_avx2(c->t, c->x, nv, q2);
    c->vec |= vec, c->vec2 |= vec2;
    for (size_t j = 0; j < c->n; j++) {
        uint8_t want = tn_qmap_quantize(c->map, c->x[j]), got = tr_qtable_quantize(c->t, c->x[j]);
        bool ok = got == want && (!vec || j >= nv || q[j] == want) && (!vec2 || j >= nv || q2[j] == want);
        uint32_t u;
        memcpy(&u, &c->x[j], 4);
        if (!ok && c->bad++ < 5)
            fprintf(stderr, "  x=%a (%08x): reference %d, table %d, avx512 %d, avx2 %d\n", c->x[j],
                    (unsigned)u, want, got, vec && j < nv ? q[j] : -1, vec2 && j < nv ? q2[j] : -1);
    }
    c->checked += c->n;
    c->n = 0;
}

static void add(checker *c, float x) {
    c->x[c->n++] = x;
    if (c->n == 4096) flush(c);
}

/* x and its neighbours up to k ulps either side. */
static void add_around(checker *c, float x, int k) {
    float lo = x, hi = x;
    add(c, x);
    for (int i = 0; i < k; i++) {
        lo = nextafterf(lo, -INFINITY), hi = nextafterf(hi, INFINITY);
        add(c, lo), add(c, hi);
    }
}

static void sweep(checker *c, uint32_t stride) {
    const float *m = c->map;
    for (uint32_t b = 0; b <= 0x3f8147aeu; b += stride) /* |x| up to 1.01, both signs */
        add(c, fbits(b)), add(c, fbits(b | 0x80000000u));
    for (int i = 0; i < 256; i++) {
        add_around(c, m[i], 4), add_around(c, -m[i], 4);
        if (i < 255) {
            float mid = (m[i] + m[i + 1]) * 0.5f;
            add_around(c, mid, 4), add_around(c, -mid, 4);
        }
    }
    for (uint32_t e = 0; e < 256; e++) /* each binade's first and last float, both signs */
        for (uint32_t s = 0; s < 2; s++) {
            add(c, fbits(s << 31 | e << 23));
            add(c, fbits(s << 31 | e << 23 | 0x7fffffu));
            add(c, fbits(s << 31 | e << 23 | 0x400000u));
        }
    const float sp[] = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, 1.0f, -1.0f, 2.0f, -2.0f,
                        FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 0x1p-149f, -0x1p-149f, 1.0000001f,
                        -1.0000001f, 0.99999994f, -0.99999994f, fbits(0x7fc00001u), fbits(0xffbfffffu)};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) add(c, sp[i]);
    flush(c);
}

static void check_map(const float map[256], const char *what, uint32_t stride) {
    tr_qtable t = {0};
    tr_qtable_build(&t, map);
    CHECK_MSG(t.ok, "%s: no table", what);
    if (!t.ok) return;
    checker *c = nt_xcalloc(1, sizeof *c);
    c->map = map, c->t = &t;
    sweep(c, stride);
    printf("  %s: %zu values, %zu differ (table shift %u, mb0 %08x; avx512 %s, avx2 %s)\n", what,
           c->checked, c->bad, t.shift, t.mb0, c->vec ? "checked" : "n/a", c->vec2 ? "checked" : "n/a");
    CHECK_MSG(c->bad == 0, "%s: %zu of %zu differ", what, c->bad, c->checked);
    free(c);
    tr_qtable_free(&t);
}

TEST(table_matches_search_on_dynamic_maps) {
    float map[256];
    tn_qmap_dynamic(true, map);
    check_map(map, "signed map", 1031);
    tn_qmap_dynamic(false, map);
    check_map(map, "unsigned map", 1031);
}

/* Sorted maps of other shapes: uniform codes, codes one ulp apart (midpoints that round onto
 * a code), and random sorted codes; all must match the search or be left to it. */
TEST(table_matches_search_on_other_sorted_maps) {
    float map[256];
    for (int i = 0; i < 256; i++) map[i] = -1.0f + (float)i / 127.5f;
    check_map(map, "uniform map", 65521);
    for (int i = 0; i < 256; i++) map[i] = fbits(0x3f000000u + (uint32_t)i); /* 0.5 + i ulp */
    check_map(map, "adjacent-float map", 65521);
    uint64_t s = 12345;
    for (int i = 0; i < 256; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        map[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
    }
    for (int i = 1; i < 256; i++) /* insertion sort, then make it strictly increasing */
        for (int j = i; j > 0 && map[j - 1] > map[j]; j--) {
            float tmp = map[j];
            map[j] = map[j - 1], map[j - 1] = tmp;
        }
    for (int i = 1; i < 256; i++)
        if (!(map[i] > map[i - 1])) map[i] = nextafterf(map[i - 1], 2);
    check_map(map, "random sorted map", 65521);
}

TEST(unsorted_or_nan_maps_get_no_table) {
    float map[256];
    tn_qmap_dynamic(true, map);
    tr_qtable t = {0};
    map[10] = map[11]; /* a repeated code */
    tr_qtable_build(&t, map);
    CHECK(!t.ok && !t.tab);
    tn_qmap_dynamic(true, map);
    map[200] = NAN;
    tr_qtable_build(&t, map);
    CHECK(!t.ok);
    tn_qmap_dynamic(true, map);
    tr_qtable_build(&t, map);
    CHECK(t.ok);
    map[0] = 5.0f; /* rebuilding over a good table frees it */
    tr_qtable_build(&t, map);
    CHECK(!t.ok);
    tr_qtable_free(&t);
}

/* ---- whole steps: the three kernels give the same bits ---- */

enum { NTENS = 3 };
static const size_t k_sizes[NTENS] = {4096, 5003, 65536 + 777}; /* whole, padded, 2 chunks */

typedef struct {
    float *p[NTENS], *g[NTENS];
    tr_optim *o;
} run;

static double uni(uint64_t *r) {
    *r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(int64_t)(*r >> 11 << 11) / 9223372036854775808.0;
}

/* Gradients of size ~1e-2 with, in tensor 1, specials: NaN, inf, -inf, a value whose square
 * overflows, -0, subnormals, and an all-zero block (absmax 0: the quantizer sees 0/0). */
static void fill(run *r, int step) {
    for (size_t i = 0; i < NTENS; i++) {
        uint64_t s = 1000u * (uint64_t)step + i;
        for (size_t j = 0; j < k_sizes[i]; j++) r->g[i][j] = (float)(0.01 * uni(&s) * (1 + (j % 7)));
    }
    float *g = r->g[1];
    g[3] = NAN, g[300] = INFINITY, g[301] = -INFINITY, g[700] = -0.0f, g[701] = 0x1p-140f;
    if (step == 2) g[1000] = 3e22f; /* (1 - b2) g g overflows: v = inf, absmax2 = inf */
    if (step >= 3) g[4999] = NAN;   /* in the padded last block */
    memset(g + 2048, 0, 256 * sizeof(float));
}

static void run_kernel(run *r, const char *simd, const char *quant) {
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_ADAMW_8BIT);
    tr_param ps[NTENS];
    char names[NTENS][8];
    for (size_t i = 0; i < NTENS; i++) {
        r->p[i] = nt_xmalloc(k_sizes[i] * sizeof(float));
        r->g[i] = nt_xmalloc(k_sizes[i] * sizeof(float));
        uint64_t s = 77 + i;
        for (size_t j = 0; j < k_sizes[i]; j++) r->p[i][j] = (float)(0.5 * uni(&s));
        snprintf(names[i], sizeof names[i], "t%zu", i);
        ps[i] = (tr_param){names[i], r->p[i], r->g[i], k_sizes[i], i == 0 ? 0.0 : 0.01, false};
    }
    nt_err err = {0};
    CHECK(tr_optim_new(&hp, ps, NTENS, &r->o, &err) == NT_OK);
    if (simd) setenv("NEWT_SIMD", simd, 1);
    else unsetenv("NEWT_SIMD");
    if (quant) setenv("NEWT_BNB_QUANT", quant, 1);
    else unsetenv("NEWT_BNB_QUANT");
    for (int k = 0; k < 6 && r->o; k++) {
        fill(r, k);
        tr_optim_step(r->o, 1e-3);
    }
    unsetenv("NEWT_SIMD");
    unsetenv("NEWT_BNB_QUANT");
}

static void run_free(run *r) {
    for (size_t i = 0; i < NTENS; i++) free(r->p[i]), free(r->g[i]);
    tr_optim_free(r->o);
}

static bool same_run(const run *a, const run *b) {
    bool same = true;
    for (size_t i = 0; i < NTENS; i++) {
        size_t n = k_sizes[i];
        const tr_state *x = &a->o->st[i], *y = &b->o->st[i];
        same &= memcmp(a->p[i], b->p[i], n * sizeof(float)) == 0;
        same &= memcmp(x->q1, y->q1, n) == 0 && memcmp(x->q2, y->q2, n) == 0;
        same &= memcmp(x->absmax1, y->absmax1, x->nblocks * sizeof(float)) == 0;
        same &= memcmp(x->absmax2, y->absmax2, x->nblocks * sizeof(float)) == 0;
    }
    return same;
}

TEST(block_kernels_agree_on_special_gradients) {
    run ref = {0}, tab = {0}, def = {0}, a2 = {0};
    run_kernel(&ref, NULL, "search");
    run_kernel(&tab, "portable", NULL);
    run_kernel(&def, NULL, NULL);
    run_kernel(&a2, "avx2", NULL);
    if (ref.o && tab.o && def.o && a2.o) {
        CHECK_EQ_INT(ref.o->qt1.ok && ref.o->qt2.ok, 1);
        CHECK_MSG(same_run(&ref, &tab), "portable table kernel differs from the search");
        CHECK_MSG(same_run(&ref, &def), "default (AVX-512 where available) kernel differs");
        CHECK_MSG(same_run(&ref, &a2), "AVX2 kernel differs");
        /* the all-zero block, by hand: absmax 0, so m/absmax = 0/0 = NaN, whose code is 0
         * (-0.99); its sign differs from m = +0, and m > 0 is false: code 0 - 1 = 255. v:
         * NaN -> code 0 (no sign rule). */
        const tr_state *s = &def.o->st[1];
        CHECK(s->absmax1[8] == 0.0f && s->absmax2[8] == 0.0f);
        int n255 = 0, n0 = 0;
        for (int j = 0; j < 256; j++) n255 += s->q1[2048 + j] == 255, n0 += s->q2[2048 + j] == 0;
        CHECK_EQ_INT(n255, 256);
        CHECK_EQ_INT(n0, 256);
    }
    run_free(&ref), run_free(&tab), run_free(&def), run_free(&a2);
}


/* A checkpoint's maps replace the built-in ones and the tables follow them: a sorted map
 * that differs by an ulp in places (as torch builds without FMA make it) gets a new table
 * that matches the search; an unsorted one gets none (the search is used). */
TEST(loaded_maps_rebuild_tables) {
    run a = {0}, b = {0}, c = {0};
    run_kernel(&a, NULL, NULL);
    run_kernel(&b, NULL, NULL);
    run_kernel(&c, NULL, NULL);
    char *path = nt_xasprintf("%s/qmap.safetensors", test_tmpdir());
    nt_err err = {0};
    if (a.o && b.o && c.o) {
        for (int i = 130; i < 250; i += 7) a.o->qmap1[i] = nextafterf(a.o->qmap1[i], 2);
        for (int i = 3; i < 250; i += 11) a.o->qmap2[i] = nextafterf(a.o->qmap2[i], 0);
        CHECK(tr_optim_save(a.o, path, &err) == NT_OK);
        CHECK_MSG(tr_optim_load(b.o, path, &err) == NT_OK, "%s", err.msg);
        CHECK_MSG(tr_optim_load(c.o, path, &err) == NT_OK, "%s", err.msg);
        CHECK(b.o->qt1.ok && b.o->qt2.ok);
        CHECK(memcmp(b.o->qmap1, a.o->qmap1, sizeof a.o->qmap1) == 0);
        for (size_t i = 0; i < NTENS; i++) memcpy(c.p[i], b.p[i], k_sizes[i] * sizeof(float));
        for (int k = 6; k < 9; k++) {
            fill(&b, k), tr_optim_step(b.o, 1e-3);
            setenv("NEWT_BNB_QUANT", "search", 1);
            fill(&c, k), tr_optim_step(c.o, 1e-3);
            unsetenv("NEWT_BNB_QUANT");
        }
        CHECK_MSG(same_run(&b, &c), "table of a loaded map differs from the search");
        a.o->qmap1[40] = a.o->qmap1[41]; /* not strictly increasing */
        CHECK(tr_optim_save(a.o, path, &err) == NT_OK);
        CHECK(tr_optim_load(b.o, path, &err) == NT_OK);
        CHECK(!b.o->qt1.ok && b.o->qt2.ok);
    }
    free(path);
    run_free(&a), run_free(&b), run_free(&c);
}

TEST_MAIN()
