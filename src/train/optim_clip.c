/* Gradient norm and clipping as torch.nn.utils.clip_grad_norm_ (spec formats.md §5.4). */
#include <math.h>

#include "train/optim_internal.h"

/* Per-parameter f32 L2 norms into o->norms; returns the f32 norm of those norms. Sums run in
 * double, so each norm is the correctly rounded value torch's f32 reduction approximates. */
static float total_norm(tr_optim *o) {
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        const float *g = o->ps[ch->param].grad;
        double s = 0;
        /* reassociated into vector lanes: a fixed order for a given binary, and in double
         * far below the f32 rounding of the result */
#pragma omp simd reduction(+ : s)
        for (size_t i = ch->start; i < ch->end; i++) s += (double)g[i] * g[i];
        o->partial[c] = s;
    }
    for (size_t i = 0; i < o->n; i++) o->norms[i] = 0;
    double acc = 0;
    for (size_t c = 0, i = 0; i < o->n; i++) {
        double s = 0;
        for (; c < o->nchunks && o->chunks[c].param == i; c++) s += o->partial[c];
        o->norms[i] = (float)sqrt(s);
        acc += (double)o->norms[i] * o->norms[i];
    }
    return (float)sqrt(acc);
}

float tr_optim_grad_norm(tr_optim *o) { return total_norm(o); }

float tr_optim_clip_grad_norm(tr_optim *o, double max_norm) {
    float total = total_norm(o);
    /* max_norm / (total + 1e-6): torch's __rtruediv__ is reciprocal() * max_norm, in f32. */
    float coef = (1.0f / (total + 1e-6f)) * (float)max_norm;
    if (coef > 1.0f) coef = 1.0f; /* clamp(max=1): NaN stays NaN */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        float *g = o->ps[ch->param].grad;
        for (size_t i = ch->start; i < ch->end; i++) g[i] *= coef;
    }
    return total;
}
