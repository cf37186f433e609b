/* The optimizer side of a training step in at most two passes over memory (optim.h,
 * tr_optim_fused_step). Each chunk is handled TR_FUSE_SUB gradient values at a time: they are
 * scaled and clipped into a small buffer on the thread's stack (it stays in L1), the
 * gradient slice is set to zero, and the update kernels of tr_optim_step run on the buffer.
 * Every value goes through the same float operations as in the unfused sequence and the norm
 * uses the same fixed-order sums (tr_sumsq_lanes), so the results are the same bits. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

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

/* ---- the update in ranges, during the backward (optim.h, tr_optim_range_*) ----
 * The fused step's per-element work (prep, then tr_step_range on the prepared copy) on the
 * caller's gradient. The sum of squares keeps each chunk's lanes across calls: a chunk cut
 * by range ends (multiples of 8) is met in element order in runs of multiples of 8, which is
 * exactly how the fused pass meets it, so the norm comes out with the same bits. */
struct tr_range {
    tr_step_consts k;
    gprep gp;
};

void tr_optim_range_begin(tr_optim *o, double grad_scale, double lr) {
    if (!o->range) o->range = nt_xcalloc(1, sizeof *o->range);
    if (!o->lanes) o->lanes = nt_xcalloc((o->nchunks ? o->nchunks : 1) * TR_SUMSQ_LANES, sizeof(double));
    memset(o->lanes, 0, o->nchunks * TR_SUMSQ_LANES * sizeof(double));
    o->range->gp = (gprep){.scale = grad_scale, .coef = 1.0f, .scaled = grad_scale != 1.0};
    o->step++;
    tr_step_consts_init(o, lr, &o->range->k);
}

/* Elements [a, b) of parameter pi, all inside chunk c. */
static void range_piece(tr_optim *o, size_t c, size_t pi, size_t a, size_t b, const float *g) {
    const struct tr_range *r = o->range;
    double *acc = o->lanes + c * TR_SUMSQ_LANES;
    _Alignas(64) float buf[TR_FUSE_SUB];
    for (size_t x = a; x < b; x += TR_FUSE_SUB) {
        size_t n = b - x < TR_FUSE_SUB ? b - x : TR_FUSE_SUB;
        const float *src = g + (x - a);
        if (r->gp.scaled) prep(r->k.simd, &r->gp, src, buf, n);
        else memcpy(buf, src, n * sizeof(float));
        tr_sumsq_lanes(r->k.simd, acc, buf, n);
        tr_step_range(o, &r->k, pi, x, n, buf);
    }
}

void tr_optim_range_update(tr_optim *o, size_t pi, size_t off, size_t n, const float *g) {
    if (!o->range || pi >= o->n || off + n > o->ps[pi].numel) abort(); /* caller's bug */
    size_t c0 = o->pchunk[pi] + off / TR_CHUNK, c1 = o->pchunk[pi] + (off + n + TR_CHUNK - 1) / TR_CHUNK;
#pragma omp parallel for schedule(dynamic, 1) if (n > TR_CHUNK)
    for (size_t c = c0; c < c1; c++) {
        const tr_chunk *ch = &o->chunks[c];
        size_t a = ch->start > off ? ch->start : off, b = ch->end < off + n ? ch->end : off + n;
        range_piece(o, c, pi, a, b, g + (a - off));
    }
}

float tr_optim_range_end(tr_optim *o) {
    for (size_t c = 0; c < o->nchunks; c++) o->partial[c] = tr_sumsq_total(o->lanes + c * TR_SUMSQ_LANES);
    return tr_norm_from_partials(o);
}
