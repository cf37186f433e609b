/* bitsandbytes' AdamW (optim_bits 8): the 32-bit path below min_8bit_size and the blockwise
 * 8-bit path (spec formats.md §4.2-§4.5), in f32 with the kernels' order of operations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/optim_internal.h"

/* bnb kOptimizer32bit2State (ADAM) for tensors below min_8bit_size: f32 scalars, decoupled
 * decay after the update. g: the gradient of elements [a, a + n). */
static void bnb32_range(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t a, size_t n,
                        const float *g) {
    const tr_param *pp = &o->ps[pi];
    const tr_state *s = &o->st[pi];
    float b1 = (float)o->hp.beta1, b2 = (float)o->hp.beta2, eps = (float)o->hp.eps;
    float wd = (float)pp->weight_decay, lr = k->lr_f, step_size = k->step_size, c2 = k->c2;
    for (size_t j = 0; j < n; j++) {
        size_t i = a + j;
        float m = s->m[i] * b1 + (1.0f - b1) * g[j];
        float v = s->v[i] * b2 + (1.0f - b2) * (g[j] * g[j]);
        float p = pp->param[i] + step_size * (m / (sqrtf(v) + eps * c2));
        if (wd > 0.0f) p = p * (1.0f - lr * wd);
        pp->param[i] = p;
        s->m[i] = m;
        s->v[i] = v;
    }
}

/* tn_qmap_quantize (bnb's dQuantize / quantize_2D binary search) for up to 256 values at
 * once, one search level for all values at a time so that the searches' dependent loads
 * overlap, with integer masks instead of branches (the comparisons are unpredictable).
 * In the reference search `lower` is always code[lo] and `upper` code[hi] once its final
 * fix-ups (lo == 0, hi == 255) are applied, so only the indices are tracked. Same result as
 * tn_qmap_quantize for every input, NaN included (NaN compares false all the way down). */
#define QUANTIZE_MANY_BODY                                                                \
    int32_t pivot[TR_BNB_BLOCK], lo[TR_BNB_BLOCK], hi[TR_BNB_BLOCK];                      \
    for (size_t j = 0; j < n; j++) pivot[j] = 127, lo[j] = 0, hi[j] = 255;               \
    for (int32_t i = 64; i > 0; i >>= 1) {                                                \
        _Pragma("omp simd") for (size_t j = 0; j < n; j++) {                              \
            int32_t m = -(int32_t)(x[j] > code[pivot[j]]); /* all ones when x > val */    \
            lo[j] = (pivot[j] & m) | (lo[j] & ~m);                                        \
            hi[j] = (hi[j] & m) | (pivot[j] & ~m);                                        \
            pivot[j] = pivot[j] - i + ((2 * i) & m);                                      \
        }                                                                                 \
    }                                                                                     \
    for (size_t j = 0; j < n; j++) {                                                      \
        float val = code[pivot[j]];                                                       \
        int32_t up = x[j] > (code[hi[j]] + val) * 0.5f ? hi[j] : pivot[j];                \
        int32_t down = x[j] < (code[lo[j]] + val) * 0.5f ? lo[j] : pivot[j];              \
        out[j] = (uint8_t)(x[j] > val ? up : down);                                       \
    }

static void quantize_portable(const float *restrict code, const float *restrict x, size_t n,
                              uint8_t *restrict out) {
    QUANTIZE_MANY_BODY
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same loops with AVX2 gathers for the table lookups. */
__attribute__((target("avx2,fma"))) static void quantize_avx2(const float *restrict code,
                                                               const float *restrict x, size_t n,
                                                               uint8_t *restrict out) {
    QUANTIZE_MANY_BODY
}
#endif

void tr_quantize_many(bool simd, const float code[256], const float *x, size_t n, uint8_t *out) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (simd) {
        quantize_avx2(code, x, n, out);
        return;
    }
#endif
    quantize_portable(code, x, n, out);
}

/* The codes of x[0..n) for map (code, t): by the table when the kernel has one, else by the
 * lockstep search. */
static void quantize_block(const tr_step_consts *k, const float *code, const tr_qtable *t,
                           const float *x, size_t n, uint8_t *out) {
    if (k->bnb == TR_BNB_SEARCH) {
        tr_quantize_many(k->simd, code, x, n, out);
        return;
    }
    for (size_t j = 0; j < n; j++) out[j] = tr_qtable_quantize(t, x[j]);
}

/* One 256-block of kOptimizerStatic8bit2StateBlockwise; gb: the block's gradient values.
 * The last block is padded as the kernel pads it (g = 0, m-code 128, v-code 0) and the
 * padding takes part in the absmax. */
static void bnb8_block(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                       const float *gb) {
    const tr_param *pp = &o->ps[pi];
    const tr_state *s = &o->st[pi];
    float b1 = (float)o->hp.beta1, b2 = (float)o->hp.beta2, eps = (float)o->hp.eps;
    float wd = (float)pp->weight_decay, lr = k->lr_f, step_size = k->step_size, c2 = k->c2;
    size_t start = blk * TR_BNB_BLOCK, cnt = pp->numel - start;
    if (cnt > TR_BNB_BLOCK) cnt = TR_BNB_BLOCK;
    float m[TR_BNB_BLOCK], v[TR_BNB_BLOCK], a1 = s->absmax1[blk], a2 = s->absmax2[blk];
    float max1 = 0.0f, max2 = 0.0f;
    for (size_t j = 0; j < TR_BNB_BLOCK; j++) {
        float g = j < cnt ? gb[j] : 0.0f;
        uint8_t c1 = j < cnt ? s->q1[start + j] : 128, cv = j < cnt ? s->q2[start + j] : 0;
        if (isfinite(g)) {
            v[j] = o->qmap2[cv] * a2 * b2 + (1.0f - b2) * g * g;
            m[j] = o->qmap1[c1] * a1 * b1 + (1.0f - b1) * g;
        } else {
            m[j] = v[j] = 0.0f;
        }
        /* fmaxf(max, |x|) without the libm call: a NaN |x| leaves max as fmaxf does */
        max1 = fabsf(m[j]) > max1 ? fabsf(m[j]) : max1;
        max2 = fabsf(v[j]) > max2 ? fabsf(v[j]) : max2;
    }
    for (size_t j = 0; j < cnt; j++) {
        float *p = &pp->param[start + j];
        if (!isfinite(gb[j])) continue;
        *p = *p + step_size * (m[j] / (sqrtf(v[j]) + c2 * eps));
        if (wd > 0.0f) *p = *p * (1.0f - lr * wd);
    }
    s->absmax1[blk] = max1;
    s->absmax2[blk] = max2;
    /* requantize; an m code whose value has the other sign than m (a small negative m
     * rounding to code 127 = +0) moves one code toward m */
    float x[TR_BNB_BLOCK] = {0};
    uint8_t *q1 = s->q1 + start;
    for (size_t j = 0; j < cnt; j++) x[j] = m[j] / max1;
    quantize_block(k, o->qmap1, &o->qt1, x, cnt, q1);
    for (size_t j = 0; j < cnt; j++)
        if (signbit(o->qmap1[q1[j]]) != signbit(m[j]))
            q1[j] = (uint8_t)(m[j] > 0.0f ? q1[j] + 1 : q1[j] - 1);
    for (size_t j = 0; j < cnt; j++) x[j] = v[j] / max2;
    quantize_block(k, o->qmap2, &o->qt2, x, cnt, s->q2 + start);
}

/* The kernel for this step: the search where asked for or where a map has no table. */
static tr_bnb_kernel pick_kernel(const tr_optim *o, bool simd) {
    const char *e = getenv("NEWT_BNB_QUANT");
    if ((e && strcmp(e, "search") == 0) || !o->qt1.ok || !o->qt2.ok) return TR_BNB_SEARCH;
#if defined(__x86_64__) && defined(__GNUC__)
    const char *force = getenv("NEWT_SIMD");
    bool avx2_only = force && strcmp(force, "avx2") == 0;
    if (simd && !avx2_only && __builtin_cpu_supports("avx512f")) return TR_BNB_AVX512;
    if (simd) return TR_BNB_AVX2;
#endif
    return TR_BNB_TABLE;
}

void tr_bnb_consts(const tr_optim *o, double lr_d, tr_step_consts *k) {
    float lr = (float)lr_d, step = (float)o->step;
    float c1 = 1.0f - powf((float)o->hp.beta1, step);
    k->lr_f = lr;
    k->c2 = sqrtf(1.0f - powf((float)o->hp.beta2, step));
    k->step_size = -lr * k->c2 / c1;
    k->bnb = pick_kernel(o, k->simd);
}

/* Elements [a, a + n) of parameter pi; for an 8-bit tensor a is a block start and n a
 * multiple of the block unless the range ends the tensor. */
void tr_bnb_apply(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t a, size_t n,
                  const float *g) {
    if (!o->st[pi].is8) {
        bnb32_range(o, k, pi, a, n, g);
        return;
    }
    for (size_t off = 0; off < n; off += TR_BNB_BLOCK) {
        size_t blk = (a + off) / TR_BNB_BLOCK;
        bool full = n - off >= TR_BNB_BLOCK, done = false;
        if (full && k->bnb == TR_BNB_AVX512) done = tr_bnb8_block_avx512(o, k, pi, blk, g + off);
        if (full && k->bnb == TR_BNB_AVX2) done = tr_bnb8_block_avx2(o, k, pi, blk, g + off);
        if (!done) bnb8_block(o, k, pi, blk, g + off);
    }
}
