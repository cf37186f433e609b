/* The torch update kernels (AdamW, SGD), applied to one slice of one parameter given its
 * gradient values (tr_step_range; optim.c and optim_fused.c run them over the fixed chunks of
 * tr_optim); the order of float operations follows torch exactly (spec formats.md §5.1), so
 * that a step equals torch's to the last bit. bitsandbytes' 8-bit AdamW is in optim_bnb.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/optim_internal.h"

/* AVX2 + FMA loops when the CPU has them, unless NEWT_SIMD=portable (as for src/tensor's
 * kernels: how tests compare both paths on one machine). Read once per step. */
bool tr_use_simd(void) {
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
static void adamw_consts(const tr_optim *o, double lr, tr_step_consts *k) {
    double step = (double)o->step;
    double bc1 = 1.0 - pow(o->hp.beta1, step), bc2 = 1.0 - pow(o->hp.beta2, step);
    k->neg_step_size = (float)(-(lr / bc1));
    k->bc2_sqrt = (float)sqrt(bc2);
    k->eps = (float)o->hp.eps;
    k->w1 = (float)(1.0 - o->hp.beta1), k->b2 = (float)o->hp.beta2, k->w2 = (float)(1.0 - o->hp.beta2);
}

static void adamw_apply(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t a, size_t n,
                        const float *g) {
    const tr_param *pp = &o->ps[pi];
    const tr_state *s = &o->st[pi];
    adamw_range(k->simd, pp->param + a, s->m + a, s->v + a, g, n,
                pp->weight_decay != 0 ? (float)(1.0 - k->lr * pp->weight_decay) : 1.0f, k->w1, k->b2,
                k->w2, k->bc2_sqrt, k->eps, k->neg_step_size);
}

/* torch.optim.SGD (dampening 0, no nesterov): L2 weight decay added to the gradient,
 * momentum buffer initialised to the first d_p. torch's add_(x, alpha=a) is one fused
 * multiply-add on CPU (checked against torch); with alpha 1 it is a plain add. */
static void sgd_apply(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t a, size_t n,
                      const float *g) {
    const tr_param *pp = &o->ps[pi];
    float *buf = o->st[pi].m;
    sgd_range(k->simd, pp->param + a, g, buf ? buf + a : NULL, n, (float)pp->weight_decay,
              (float)o->hp.momentum, o->step == 1, (float)-k->lr);
}

void tr_step_consts_init(const tr_optim *o, double lr, tr_step_consts *k) {
    *k = (tr_step_consts){.simd = tr_use_simd(), .lr = lr};
    if (o->hp.kind == TR_OPT_ADAMW) adamw_consts(o, lr, k);
    if (o->hp.kind == TR_OPT_ADAMW_8BIT) tr_bnb_consts(o, lr, k);
}

void tr_step_range(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t start, size_t n,
                   const float *g) {
    switch (o->hp.kind) {
    case TR_OPT_ADAMW: adamw_apply(o, k, pi, start, n, g); break;
    case TR_OPT_ADAMW_8BIT: tr_bnb_apply(o, k, pi, start, n, g); break;
    case TR_OPT_SGD: sgd_apply(o, k, pi, start, n, g); break;
    }
}
