/* The optimizer side of a training step in at most two passes over memory (optim.h,
 * tr_optim_fused_step). Each chunk is handled TR_FUSE_SUB gradient values at a time: they are
 * scaled and clipped into a small buffer on the thread's stack (it stays in L1), the
 * gradient slice is set to zero, and the update kernels of tr_optim_step run on the buffer.
 * Every value goes through the same float operations as in the unfused sequence and the norm
 * uses the same fixed-order sums (tr_sumsq_lanes), so the results are the same bits. */
#include <string.h>

#include "train/optim_internal.h"

/* A multiple of 8 (the sum lanes) and of 256 (bnb blocks, which chunks start on). */
#define TR_FUSE_SUB 1024u

typedef struct {
    double scale;
    float coef;
    bool scaled, clip;
} gprep;

/* out = (float)(g·scale) (when scaled), then · coef (when clipping): the in-place scaling
 * loop's and clip_grad_norm_'s operations, one element at a time (each is exact IEEE, so the
 * vectorised loops give the same bits). */
#define PREP_BODY                                                                              \
    if (gp->scaled && gp->clip) {                                                              \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++) out[i] = (float)(g[i] * s) * coef;  \
    } else if (gp->scaled) {                                                                   \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++) out[i] = (float)(g[i] * s);         \
    } else {                                                                                   \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++) out[i] = g[i] * coef;               \
    }

static void prep_portable(const gprep *gp, const float *restrict g, float *restrict out, size_t n) {
    double s = gp->scale;
    float coef = gp->coef;
    PREP_BODY
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static void prep_avx2(const gprep *gp, const float *restrict g,
                                                          float *restrict out, size_t n) {
    double s = gp->scale;
    float coef = gp->coef;
    PREP_BODY
}
#endif

static void prep(bool simd, const gprep *gp, const float *g, float *out, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (simd) {
        prep_avx2(gp, g, out, n);
        return;
    }
#endif
    prep_portable(gp, g, out, n);
}

/* Pass 1: the per-chunk sums of squares of the scaled gradients; nothing is written. */
static void norm_pass(tr_optim *o, bool simd, const gprep *gp) {
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        const float *g = o->ps[ch->param].grad;
        double acc[TR_SUMSQ_LANES] = {0};
        _Alignas(64) float buf[TR_FUSE_SUB];
        for (size_t a = ch->start; a < ch->end; a += TR_FUSE_SUB) {
            size_t n = ch->end - a < TR_FUSE_SUB ? ch->end - a : TR_FUSE_SUB;
            const float *x = g + a;
            if (gp->scaled) prep(simd, gp, x, buf, n), x = buf;
            tr_sumsq_lanes(simd, acc, x, n);
        }
        o->partial[c] = tr_sumsq_total(acc);
    }
}

/* Pass 2: per slice, the prepared gradient (its sum of squares too when want_norm), the
 * gradient zeroed, the update. */
static void update_pass(tr_optim *o, const tr_step_consts *k, const gprep *gp, bool want_norm) {
    bool transform = gp->scaled || gp->clip;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        float *g = o->ps[ch->param].grad;
        double acc[TR_SUMSQ_LANES] = {0};
        _Alignas(64) float buf[TR_FUSE_SUB];
        for (size_t a = ch->start; a < ch->end; a += TR_FUSE_SUB) {
            size_t n = ch->end - a < TR_FUSE_SUB ? ch->end - a : TR_FUSE_SUB;
            if (!transform) memcpy(buf, g + a, n * sizeof(float));
            else prep(k->simd, gp, g + a, buf, n);
            if (want_norm) tr_sumsq_lanes(k->simd, acc, buf, n);
            memset(g + a, 0, n * sizeof(float));
            tr_step_range(o, k, ch->param, a, n, buf);
        }
        if (want_norm) o->partial[c] = tr_sumsq_total(acc);
    }
}

float tr_optim_fused_step(tr_optim *o, double grad_scale, double max_norm, double lr) {
    gprep gp = {.scale = grad_scale, .coef = 1.0f, .scaled = grad_scale != 1.0, .clip = max_norm > 0};
    float total = 0;
    bool simd = tr_use_simd();
    if (gp.clip) {
        norm_pass(o, simd, &gp);
        total = tr_norm_from_partials(o);
        gp.coef = tr_clip_coef(total, max_norm);
    }
    o->step++;
    tr_step_consts k;
    tr_step_consts_init(o, lr, &k);
    update_pass(o, &k, &gp, !gp.clip);
    return gp.clip ? total : tr_norm_from_partials(o);
}
