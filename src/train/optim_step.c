/* The update kernels. Each runs as one OpenMP pass over the fixed chunks of tr_optim; the
 * order of float operations follows the reference implementations exactly (spec formats.md
 * §4.3, §4.4, §5.1), because checkpoints resumed in newt or compared against torch must
 * agree to the last bit where the reference is deterministic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/qmap.h"
#include "train/optim_internal.h"

/* AVX2 + FMA loops when the CPU has them, unless NEWT_SIMD=portable (as for src/tensor's
 * kernels: how tests compare both paths on one machine). Read once per step. */
static bool use_simd(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    const char *e = getenv("NEWT_SIMD");
    if (e && strcmp(e, "portable") == 0) return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

/* decay is 1 when weight_decay is 0: p * 1 is p exactly, as torch's mul_(1 - lr * 0). */
static inline float adamw_elem(float *p, float *m, float *v, float g, float decay, float w1,
                               float b2, float w2, float bc2_sqrt, float eps, float nss) {
    float pi = *p * decay;
    float mi = fmaf(w1, g - *m, *m);     /* lerp_, weight < 0.5 */
    float vi = fmaf(w2 * g, g, *v * b2); /* mul_, addcmul_ */
    float denom = sqrtf(vi) / bc2_sqrt + eps;
    *m = mi;
    *v = vi;
    return pi + (nss * mi) / denom;      /* addcdiv_: value * t1 / t2 */
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* The same operations 8 at a time (sqrtf's errno handling keeps GCC from vectorising the
 * scalar loop). Every operation is IEEE-exact, so the result equals adamw_elem's. */
__attribute__((target("avx2,fma"))) static size_t adamw_avx2(
    float *p, float *m, float *v, const float *g, size_t n, float decay, float w1, float b2,
    float w2, float bc2_sqrt, float eps, float nss) {
    size_t i = 0;
    __m256 vdec = _mm256_set1_ps(decay), vw1 = _mm256_set1_ps(w1), vb2 = _mm256_set1_ps(b2);
    __m256 vw2 = _mm256_set1_ps(w2), vbc = _mm256_set1_ps(bc2_sqrt);
    __m256 veps = _mm256_set1_ps(eps), vnss = _mm256_set1_ps(nss);
    for (; i + 8 <= n; i += 8) {
        __m256 pi = _mm256_mul_ps(_mm256_loadu_ps(p + i), vdec);
        __m256 gi = _mm256_loadu_ps(g + i), mi = _mm256_loadu_ps(m + i);
        mi = _mm256_fmadd_ps(vw1, _mm256_sub_ps(gi, mi), mi);
        __m256 vi = _mm256_fmadd_ps(_mm256_mul_ps(vw2, gi), gi,
                                    _mm256_mul_ps(_mm256_loadu_ps(v + i), vb2));
        __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), vbc), veps);
        _mm256_storeu_ps(p + i, _mm256_add_ps(pi, _mm256_div_ps(_mm256_mul_ps(vnss, mi), den)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
    }
    return i;
}
#endif

static void adamw_range(bool simd, float *p, float *m, float *v, const float *g, size_t n,
                        float decay, float w1, float b2, float w2, float bc2_sqrt, float eps,
                        float nss) {
    size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (simd)
        i = adamw_avx2(p, m, v, g, n, decay, w1, b2, w2, bc2_sqrt, eps, nss);
#endif
    for (; i < n; i++) p[i] = adamw_elem(p + i, m + i, v + i, g[i], decay, w1, b2, w2, bc2_sqrt, eps, nss);
}

/* One loop per case, so that each is branch-free and vectorises. D is d_p: the gradient, plus
 * wd * p only when wd != 0 (torch skips the add, which matters for -0 and non-finite p). */
#define SGD_LOOPS(D)                                                                   \
    if (!buf) {                                                                        \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++) p[i] = fmaf(neg_lr, D, p[i]); \
    } else if (first) {                                                                \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++) {                           \
            float d = buf[i] = D;                                                      \
            p[i] = fmaf(neg_lr, d, p[i]);                                              \
        }                                                                              \
    } else {                                                                           \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++) {                           \
            float d = buf[i] = buf[i] * mom + D;                                       \
            p[i] = fmaf(neg_lr, d, p[i]);                                              \
        }                                                                              \
    }

#define SGD_BODY                       \
    if (wd != 0.0f) {                  \
        SGD_LOOPS(fmaf(wd, p[i], g[i])) \
    } else {                           \
        SGD_LOOPS(g[i])                \
    }

static void sgd_portable(float *restrict p, const float *restrict g, float *restrict buf,
                         size_t n, float wd, float mom, bool first, float neg_lr) {
    SGD_BODY
}

#if defined(__x86_64__) && defined(__GNUC__)
/* fmaf is exact whatever computes it; without FMA in the baseline ISA it is a libm call per
 * element, so the same loops are also built with AVX2 + FMA. Results are identical. */
__attribute__((target("avx2,fma"))) static void sgd_avx2(
    float *restrict p, const float *restrict g, float *restrict buf, size_t n, float wd,
    float mom, bool first, float neg_lr) {
    SGD_BODY
}
#endif

static void sgd_range(bool simd, float *p, const float *g, float *buf, size_t n, float wd,
                      float mom, bool first, float neg_lr) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (simd) {
        sgd_avx2(p, g, buf, n, wd, mom, first, neg_lr);
        return;
    }
#endif
    sgd_portable(p, g, buf, n, wd, mom, first, neg_lr);
}

/* torch.optim.AdamW, single-tensor path (torch 2.x): scalars computed in double as Python
 * does, each tensor op rounded to f32 in torch's operand order. torch's CPU kernels for lerp_
 * and addcmul_ are fused multiply-adds (one rounding; checked against torch), and so is what
 * nvcc makes of the CUDA ones, hence fmaf there and nowhere else. */
void tr_step_adamw(tr_optim *o, double lr) {
    bool simd = use_simd();
    double step = (double)o->step;
    double bc1 = 1.0 - pow(o->hp.beta1, step), bc2 = 1.0 - pow(o->hp.beta2, step);
    float neg_step_size = (float)(-(lr / bc1));
    float bc2_sqrt = (float)sqrt(bc2), eps = (float)o->hp.eps;
    float w1 = (float)(1.0 - o->hp.beta1), b2 = (float)o->hp.beta2, w2 = (float)(1.0 - o->hp.beta2);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        const tr_param *pp = &o->ps[ch->param];
        tr_state *s = &o->st[ch->param];
        size_t a = ch->start;
        adamw_range(simd, pp->param + a, s->m + a, s->v + a, pp->grad + a, ch->end - a,
                    pp->weight_decay != 0 ? (float)(1.0 - lr * pp->weight_decay) : 1.0f, w1, b2, w2,
                    bc2_sqrt, eps, neg_step_size);
    }
}

/* bnb kOptimizer32bit2State (ADAM) for tensors below min_8bit_size: f32 scalars, decoupled
 * decay after the update. */
static void bnb32_chunk(tr_optim *o, const tr_chunk *ch, float lr, float step_size, float c2) {
    const tr_param *pp = &o->ps[ch->param];
    tr_state *s = &o->st[ch->param];
    float b1 = (float)o->hp.beta1, b2 = (float)o->hp.beta2, eps = (float)o->hp.eps;
    float wd = (float)pp->weight_decay;
    for (size_t i = ch->start; i < ch->end; i++) {
        float g = pp->grad[i];
        float m = s->m[i] * b1 + (1.0f - b1) * g;
        float v = s->v[i] * b2 + (1.0f - b2) * (g * g);
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

void tr_quantize_many(const float code[256], const float *x, size_t n, uint8_t *out) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (use_simd()) {
        quantize_avx2(code, x, n, out);
        return;
    }
#endif
    quantize_portable(code, x, n, out);
}

/* One 256-block of kOptimizerStatic8bit2StateBlockwise. The last block is padded as the
 * kernel pads it (g = 0, m-code 128, v-code 0) and the padding takes part in the absmax. */
static void bnb8_block(tr_optim *o, size_t pi, size_t blk, float lr, float step_size, float c2) {
    const tr_param *pp = &o->ps[pi];
    tr_state *s = &o->st[pi];
    float b1 = (float)o->hp.beta1, b2 = (float)o->hp.beta2, eps = (float)o->hp.eps;
    float wd = (float)pp->weight_decay;
    size_t start = blk * TR_BNB_BLOCK, cnt = pp->numel - start;
    if (cnt > TR_BNB_BLOCK) cnt = TR_BNB_BLOCK;
    float m[TR_BNB_BLOCK], v[TR_BNB_BLOCK], a1 = s->absmax1[blk], a2 = s->absmax2[blk];
    float max1 = 0.0f, max2 = 0.0f;
    for (size_t j = 0; j < TR_BNB_BLOCK; j++) {
        float g = j < cnt ? pp->grad[start + j] : 0.0f;
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
        if (!isfinite(pp->grad[start + j])) continue;
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
    tr_quantize_many(o->qmap1, x, cnt, q1);
    for (size_t j = 0; j < cnt; j++)
        if (signbit(o->qmap1[q1[j]]) != signbit(m[j]))
            q1[j] = (uint8_t)(m[j] > 0.0f ? q1[j] + 1 : q1[j] - 1);
    for (size_t j = 0; j < cnt; j++) x[j] = v[j] / max2;
    tr_quantize_many(o->qmap2, x, cnt, s->q2 + start);
}

void tr_step_bnb(tr_optim *o, double lr_d) {
    float lr = (float)lr_d, step = (float)o->step;
    float c1 = 1.0f - powf((float)o->hp.beta1, step);
    float c2 = sqrtf(1.0f - powf((float)o->hp.beta2, step));
    float step_size = -lr * c2 / c1;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        if (!o->st[ch->param].is8) {
            bnb32_chunk(o, ch, lr, step_size, c2);
            continue;
        }
        for (size_t b = ch->start / TR_BNB_BLOCK; b * TR_BNB_BLOCK < ch->end; b++)
            bnb8_block(o, ch->param, b, lr, step_size, c2);
    }
}

/* torch.optim.SGD (dampening 0, no nesterov): L2 weight decay added to the gradient,
 * momentum buffer initialised to the first d_p. torch's add_(x, alpha=a) is one fused
 * multiply-add on CPU (checked against torch); with alpha 1 it is a plain add. */
void tr_step_sgd(tr_optim *o, double lr) {
    bool simd = use_simd();
    float neg_lr = (float)-lr, mom = (float)o->hp.momentum;
    bool first = o->step == 1;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        const tr_param *pp = &o->ps[ch->param];
        float *buf = o->st[ch->param].m;
        size_t a = ch->start;
        sgd_range(simd, pp->param + a, pp->grad + a, buf ? buf + a : NULL, ch->end - a,
                  (float)pp->weight_decay, mom, first, neg_lr);
    }
}
