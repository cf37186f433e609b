/* tr_optim_fused_step against the unfused sequence it replaces (scale every gradient in
 * double, clip_grad_norm_ or the plain norm, the optimizer step): the same bytes in the
 * parameters, every optimizer state and the returned norm, for AdamW, bnb 8-bit AdamW and
 * SGD (with and without momentum), several gradient scales and clip values, with tensor
 * sizes that put the 64Ki-element chunk ends, the 1024-value staging slices, the 8-lane sums
 * and bnb's 256-blocks in odd places; both the AVX2 and the portable loops. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "test.h"

#include "base/mem.h"
#include "train/optim.h"
#include "train/optim_internal.h"

/* 1; 7 (under one sum lane group); 1023/1025 around a staging slice; 4095 (bnb: f32 states)
 * and 4096 (8-bit, whole blocks); 5003 (8-bit, partial last block); 65536 + 777 (a chunk
 * end, then a chunk of 777: a partial slice, a partial block, a partial lane group); 4097
 * with forced f32 states (the embedding rule). */
static const struct {
    size_t n;
    double wd;
    bool f32;
} k_tensors[] = {{1, 0.01, false},     {7, 0, false},          {1023, 0.01, false},
                 {1025, 0.01, false},  {4095, 0, false},       {4096, 0.01, false},
                 {5003, 0.01, false},  {65536 + 777, 0.01, false}, {4097, 0.01, true}};
#define NT (sizeof k_tensors / sizeof k_tensors[0])
enum { STEPS = 3 };

/* Uniform in (-1, 1) from a 64-bit LCG's high bits (cheap: the test draws ~1M values). */
static double uni(uint64_t *r) {
    *r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(int64_t)(*r >> 11 << 11) / 9223372036854775808.0;
}

typedef struct {
    float *p[NT], *g[NT];
    tr_optim *o;
} side;

static void side_new(side *s, tr_optim_kind kind, double momentum, uint64_t seed) {
    tr_optim_hparams hp = tr_optim_defaults(kind);
    hp.momentum = momentum;
    tr_param ps[NT];
    for (size_t i = 0; i < NT; i++) {
        size_t n = k_tensors[i].n;
        s->p[i] = nt_xmalloc(n * sizeof(float));
        s->g[i] = nt_xcalloc(n, sizeof(float));
        uint64_t r = seed + i;
        for (size_t j = 0; j < n; j++) s->p[i][j] = (float)(0.5 * uni(&r));
        char name[32];
        snprintf(name, sizeof name, "t%zu", i);
        ps[i] = (tr_param){nt_xstrdup(name), s->p[i], s->g[i], n, k_tensors[i].wd, k_tensors[i].f32};
    }
    nt_err err = {0};
    s->o = NULL;
    CHECK(tr_optim_new(&hp, ps, NT, &s->o, &err) == NT_OK);
    for (size_t i = 0; i < NT; i++) free((char *)ps[i].name);
}

static void side_free(side *s) {
    tr_optim_free(s->o);
    for (size_t i = 0; i < NT; i++) free(s->p[i]), free(s->g[i]);
}

/* Gradients of magnitude mag (a few of them 100 times larger); with `special`, an inf, a NaN and a -0 in tensor 6. */
static void fill_grads(side *s, uint64_t seed, double mag, bool special) {
    for (size_t i = 0; i < NT; i++) {
        uint64_t r = seed * 1000003u + i;
        for (size_t j = 0; j < k_tensors[i].n; j++)
            s->g[i][j] = (float)(mag * uni(&r) * (j % 97 == 5 ? 100 : 1));
    }
    if (special) s->g[6][10] = INFINITY, s->g[6][300] = NAN, s->g[6][4999] = -0.0f;
}

/* The sequence the fused step replaces: train/step.c before fusion. */
static float reference_step(side *s, double scale, double max_norm, double lr) {
    if (scale != 1.0)
        for (size_t i = 0; i < NT; i++)
            for (size_t j = 0; j < k_tensors[i].n; j++) s->g[i][j] = (float)(s->g[i][j] * scale);
    float gn = max_norm > 0 ? tr_optim_clip_grad_norm(s->o, max_norm) : tr_optim_grad_norm(s->o);
    tr_optim_step(s->o, lr);
    return gn;
}

static bool same(const void *a, const void *b, size_t bytes) {
    return (!a && !b) || (a && b && memcmp(a, b, bytes) == 0);
}

/* Parameters and every state buffer, byte for byte; the fused side's gradients all +0. */
static bool sides_equal(const side *a, const side *b, const char *what) {
    bool ok = true;
    for (size_t i = 0; i < NT; i++) {
        size_t n = k_tensors[i].n;
        const tr_state *x = &a->o->st[i], *y = &b->o->st[i];
        bool eq = same(a->p[i], b->p[i], n * 4) && same(x->m, y->m, n * 4) && same(x->v, y->v, n * 4) &&
                  same(x->q1, y->q1, n) && same(x->q2, y->q2, n) &&
                  same(x->absmax1, y->absmax1, x->nblocks * 4) && same(x->absmax2, y->absmax2, x->nblocks * 4);
        size_t nz = 0;
        for (size_t j = 0; j < n; j++) {
            uint32_t bits;
            memcpy(&bits, &b->g[i][j], 4);
            nz += bits != 0;
        }
        if (!eq || nz) {
            fprintf(stderr, "  %s: tensor %zu (%zu elements): %s, %zu gradients not zeroed\n", what, i, n,
                    eq ? "equal" : "DIFFERS", nz);
            ok = false;
        }
    }
    return ok;
}

typedef struct {
    double scale, max_norm;
    bool special;
} step_case;

static const step_case k_cases[] = {
    {1.0, 0, false},         /* nothing to scale, no clipping: one pass */
    {1.0 / 3, 0, false},     /* scaled, norm folded into the update pass */
    {1.0 / 777, 1.0, false}, /* scaled and clipped (coef < 1) */
    {1.0, 0.05, false},      /* clipped, unscaled */
    {1.0 / 3, 1e9, false},   /* clip coefficient 1: still multiplied, as torch does */
    {2.5e3, 0.5, false},     /* large scale, hard clip */
    {1.0 / 7, 0, true},      /* non-finite gradients (bnb skips them), no clip */
    {1.0, 1.0, true},        /* non-finite norm: coef NaN, everything follows torch */
};

static void run_kind(tr_optim_kind kind, double momentum, float *norms_out) {
    size_t nn = 0;
    for (size_t c = 0; c < sizeof k_cases / sizeof k_cases[0]; c++) {
        const step_case *sc = &k_cases[c];
        side ref, fus;
        side_new(&ref, kind, momentum, 42 + c);
        side_new(&fus, kind, momentum, 42 + c);
        for (int k = 0; k < STEPS && ref.o && fus.o; k++) {
            double mag = 0.01 * (1 + k), lr = 1e-3 * (1 + 0.5 * k);
            fill_grads(&ref, 7 * c + (uint64_t)k, mag, sc->special && k == 1);
            fill_grads(&fus, 7 * c + (uint64_t)k, mag, sc->special && k == 1);
            float a = reference_step(&ref, sc->scale, sc->max_norm, lr);
            float b = tr_optim_fused_step(fus.o, sc->scale, sc->max_norm, lr);
            char what[128];
            snprintf(what, sizeof what, "%s momentum %g scale %g max_norm %g step %d", tr_optim_kind_name(kind),
                     momentum, sc->scale, sc->max_norm, k + 1);
            CHECK_MSG(memcmp(&a, &b, sizeof a) == 0, "%s: norm %.9g vs fused %.9g", what, a, b);
            CHECK_MSG(sides_equal(&ref, &fus, what), "%s", what);
            CHECK(tr_optim_step_count(ref.o) == tr_optim_step_count(fus.o));
            norms_out[nn++] = b;
        }
        side_free(&ref);
        side_free(&fus);
    }
}

static void with_simd(bool portable, void (*fn)(void *), void *arg) {
    const char *old = getenv("NEWT_SIMD");
    char *saved = old ? nt_xstrdup(old) : NULL;
    if (portable) setenv("NEWT_SIMD", "portable", 1);
    else unsetenv("NEWT_SIMD");
    fn(arg);
    if (saved) setenv("NEWT_SIMD", saved, 1);
    else unsetenv("NEWT_SIMD");
    free(saved);
}

#define NNORM (STEPS * sizeof k_cases / sizeof k_cases[0])

typedef struct {
    tr_optim_kind kind;
    double momentum;
    float norms[NNORM];
} kind_run;

static void run_kind_v(void *p) {
    kind_run *r = p;
    run_kind(r->kind, r->momentum, r->norms);
}

/* Each kind under both loop builds; the norms also agree between the builds (the AVX2 sum
 * adds the same lanes in the same order). */
static void kind_case(tr_optim_kind kind, double momentum) {
    kind_run a = {kind, momentum, {0}}, b = {kind, momentum, {0}};
    with_simd(false, run_kind_v, &a);
    with_simd(true, run_kind_v, &b);
    CHECK(memcmp(a.norms, b.norms, sizeof a.norms) == 0);
}

TEST(fused_step_is_bit_identical_adamw) { kind_case(TR_OPT_ADAMW, 0); }
TEST(fused_step_is_bit_identical_adamw_8bit) { kind_case(TR_OPT_ADAMW_8BIT, 0); }
TEST(fused_step_is_bit_identical_sgd) { kind_case(TR_OPT_SGD, 0); }
TEST(fused_step_is_bit_identical_sgd_momentum) { kind_case(TR_OPT_SGD, 0.9); }

/* The norm by hand, through the fused path: gradients (3, 4) and (12) scaled by 2 are (6, 8)
 * and (24): norms 10 and 24, total 26; max_norm 13 clips by 13 / (26 + 1e-6). With lr 0
 * and SGD nothing moves; the gradients end zero. */
/* tr_optim_range_*: tensors in reverse order, each in ranges cut at odd multiples of 8 (of
 * 256 for 8-bit states, the rule for those), against the fused step without clipping: the
 * same bytes in parameters, states and the norm. */
static void range_update_all(side *s, tr_optim_kind kind) {
    size_t step = kind == TR_OPT_ADAMW_8BIT ? 256 * 3 : 8 * 37;
    for (size_t t = NT; t-- > 0;) {
        size_t n = k_tensors[t].n;
        for (size_t off = 0, w = step; off < n; off += w, w = w == step ? step * 5 : step) {
            size_t len = n - off < w ? n - off : w;
            tr_optim_range_update(s->o, t, off, len, s->g[t] + off);
        }
    }
}

static void range_kind(tr_optim_kind kind, double momentum) {
    static const double scales[] = {1.0, 1.0 / 3, 2.5e3};
    for (size_t c = 0; c < sizeof scales / sizeof scales[0]; c++) {
        side rng, fus;
        side_new(&rng, kind, momentum, 42 + c);
        side_new(&fus, kind, momentum, 42 + c);
        for (int k = 0; k < STEPS && rng.o && fus.o; k++) {
            double mag = 0.01 * (1 + k), lr = 1e-3 * (1 + 0.5 * k);
            fill_grads(&rng, 5 * c + (uint64_t)k, mag, c == 1 && k == 1);
            fill_grads(&fus, 5 * c + (uint64_t)k, mag, c == 1 && k == 1);
            tr_optim_range_begin(rng.o, scales[c], lr);
            range_update_all(&rng, kind);
            float a = tr_optim_range_end(rng.o);
            float b = tr_optim_fused_step(fus.o, scales[c], 0, lr);
            char what[128];
            snprintf(what, sizeof what, "ranges %s scale %g step %d", tr_optim_kind_name(kind), scales[c], k + 1);
            CHECK_MSG(memcmp(&a, &b, sizeof a) == 0, "%s: norm %.9g vs fused %.9g", what, a, b);
            CHECK_MSG(sides_equal(&rng, &fus, what), "%s", what);
            CHECK(tr_optim_step_count(rng.o) == tr_optim_step_count(fus.o));
        }
        side_free(&rng);
        side_free(&fus);
    }
}

TEST(range_updates_are_bit_identical_adamw) { range_kind(TR_OPT_ADAMW, 0); }
TEST(range_updates_are_bit_identical_adamw_8bit) { range_kind(TR_OPT_ADAMW_8BIT, 0); }
TEST(range_updates_are_bit_identical_sgd_momentum) { range_kind(TR_OPT_SGD, 0.9); }

/* An optimizer over parameters without gradient buffers (the in-backward case) is accepted. */
TEST(range_optimizer_without_gradient_buffers) {
    float p[16] = {0}, g[16];
    for (int i = 0; i < 16; i++) g[i] = (float)(i - 8);
    tr_param ps[1] = {{"w", p, NULL, 16, 0.0, false}};
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_SGD);
    tr_optim *o = NULL;
    nt_err err = {0};
    CHECK(tr_optim_new(&hp, ps, 1, &o, &err) == NT_OK);
    if (!o) return;
    tr_optim_range_begin(o, 0.5, 0.1);
    tr_optim_range_update(o, 0, 8, 8, g + 8);
    tr_optim_range_update(o, 0, 0, 8, g);
    float gn = tr_optim_range_end(o);
    double ss = 0;
    for (int i = 0; i < 16; i++) ss += 0.25 * (double)g[i] * g[i];
    CHECK_NEAR(gn, sqrt(ss), 1e-6);
    for (int i = 0; i < 16; i++) CHECK_NEAR(p[i], -0.1 * 0.5 * g[i], 1e-7); /* plain SGD: p -= lr·g·scale */
    tr_optim_free(o);
}

TEST(fused_norm_by_hand) {
    float p[3] = {1, 2, 3}, g[3] = {3, 4, 12};
    tr_param ps[2] = {{"a", p, g, 2, 0, false}, {"b", p + 2, g + 2, 1, 0, false}};
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_SGD);
    tr_optim *o = NULL;
    nt_err err = {0};
    CHECK(tr_optim_new(&hp, ps, 2, &o, &err) == NT_OK);
    CHECK(tr_optim_fused_step(o, 2.0, 13.0, 0.0) == 26.0f);
    CHECK(g[0] == 0 && g[1] == 0 && g[2] == 0);
    CHECK(p[0] == 1 && p[1] == 2 && p[2] == 3);
    /* lr 1, no clip: p -= g exactly (SGD, momentum 0) */
    g[0] = 0.5f, g[1] = 0.25f, g[2] = 2;
    CHECK_NEAR(tr_optim_fused_step(o, 1.0, 0, 1.0), sqrt(4.3125), 1e-6);
    CHECK(p[0] == 0.5f && p[1] == 1.75f && p[2] == 1.0f);
    tr_optim_free(o);
}

TEST_MAIN()
