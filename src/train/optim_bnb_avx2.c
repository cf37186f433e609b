/* The AVX2 build of optim_bnb_avx512.c's block kernel, 8 lanes at a time, for CPUs without
 * AVX-512: the same operations in the same order (see that file for why the bits equal the
 * scalar kernel's), with blends and sign masks in place of mask registers. */
#include <float.h>
#include <math.h>

#include "train/optim_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TR_AVX2 __attribute__((target("avx2,fma")))

typedef struct {
    __m256i absmask, nanbits, mb0, klo, khi, within, low8, one, nneg;
    __m128i shift;
    const int *tab;
} qt8;

TR_AVX2 static qt8 qt8_of(const tr_qtable *t) {
    return (qt8){.absmask = _mm256_set1_epi32(0x7fffffff),
                 .nanbits = _mm256_set1_epi32(0x7f800000),
                 .mb0 = _mm256_set1_epi32((int)t->mb0),
                 .klo = _mm256_set1_epi32(t->klo),
                 .khi = _mm256_set1_epi32(t->khi),
                 .within = _mm256_set1_epi32((int)((1u << t->shift) - 1)),
                 .low8 = _mm256_set1_epi32(0xff),
                 .one = _mm256_set1_epi32(1),
                 .nneg = _mm256_set1_epi32(t->nneg),
                 .shift = _mm_cvtsi32_si128((int)t->shift),
                 .tab = (const int *)t->tab};
}

/* tr_qtable_quantize for 8 values. rel < 2^31 and the entries' offsets < 2^24 (the build
 * checks), so the signed compares are the unsigned ones. */
TR_AVX2 static inline __m256i qt8_lookup(const qt8 *q, __m256 x) {
    __m256i bits = _mm256_castps_si256(x);
    __m256i mag = _mm256_and_si256(bits, q->absmask);
    __m256i nan = _mm256_cmpgt_epi32(mag, q->nanbits);
    mag = _mm256_sub_epi32(_mm256_max_epu32(mag, q->mb0), q->mb0);
    __m256i key = _mm256_xor_si256(mag, _mm256_srai_epi32(bits, 31));
    key = _mm256_min_epi32(_mm256_max_epi32(key, q->klo), q->khi);
    __m256i rel = _mm256_sub_epi32(key, q->klo);
    __m256i e = _mm256_i32gather_epi32(q->tab, _mm256_srl_epi32(rel, q->shift), 4);
    __m256i below = _mm256_cmpgt_epi32(_mm256_srli_epi32(e, 8), _mm256_and_si256(rel, q->within));
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(_mm256_and_si256(e, q->low8), q->one), below);
    return _mm256_andnot_si256(nan, r);
}

/* The low bytes of 8 codes (each in 0..255) to out[0..8). */
TR_AVX2 static inline void store8(uint8_t *out, __m256i r) {
    __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storel_epi64((__m128i *)out, _mm_packus_epi16(w, w));
}

TR_AVX2 static float hmax(__m256 v) { /* lanes hold no NaN: any order gives the same bits */
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

TR_AVX2 static void update_block8(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                                  const float *gb, float *m, float *v, float mx[2]) {
    const tr_param *pp = &o->ps[pi];
    const tr_state *s = &o->st[pi];
    float b1 = (float)o->hp.beta1, b2 = (float)o->hp.beta2, eps = (float)o->hp.eps;
    float wd = (float)pp->weight_decay;
    size_t start = blk * TR_BNB_BLOCK;
    __m256 va1 = _mm256_set1_ps(s->absmax1[blk]), va2 = _mm256_set1_ps(s->absmax2[blk]);
    __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2);
    __m256 vw1 = _mm256_set1_ps(1.0f - b1), vw2 = _mm256_set1_ps(1.0f - b2);
    __m256 ss = _mm256_set1_ps(k->step_size), c2eps = _mm256_set1_ps(k->c2 * eps);
    __m256 keep = _mm256_set1_ps(1.0f - k->lr_f * wd), fmax = _mm256_set1_ps(FLT_MAX);
    __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 max1 = _mm256_setzero_ps(), max2 = _mm256_setzero_ps();
    for (size_t j = 0; j < TR_BNB_BLOCK; j += 8) {
        __m256 g = _mm256_loadu_ps(gb + j);
        __m256i c1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(s->q1 + start + j)));
        __m256i c2 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(s->q2 + start + j)));
        __m256 fin = _mm256_cmp_ps(_mm256_and_ps(g, absmask), fmax, _CMP_LE_OQ);
        __m256 d2 = _mm256_i32gather_ps(o->qmap2, c2, 4), d1 = _mm256_i32gather_ps(o->qmap1, c1, 4);
        __m256 vj = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(d2, va2), vb2),
                                  _mm256_mul_ps(_mm256_mul_ps(vw2, g), g));
        __m256 mj = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(d1, va1), vb1), _mm256_mul_ps(vw1, g));
        mj = _mm256_and_ps(mj, fin); /* +0 where g is not finite */
        vj = _mm256_and_ps(vj, fin);
        _mm256_store_ps(m + j, mj);
        _mm256_store_ps(v + j, vj);
        max1 = _mm256_max_ps(_mm256_and_ps(mj, absmask), max1);
        max2 = _mm256_max_ps(_mm256_and_ps(vj, absmask), max2);
        float *p = pp->param + start + j;
        __m256 p0 = _mm256_loadu_ps(p);
        __m256 np = _mm256_add_ps(p0, _mm256_mul_ps(ss, _mm256_div_ps(mj, _mm256_add_ps(_mm256_sqrt_ps(vj), c2eps))));
        if (wd > 0.0f) np = _mm256_mul_ps(np, keep);
        _mm256_storeu_ps(p, _mm256_blendv_ps(p0, np, fin));
    }
    mx[0] = hmax(max1);
    mx[1] = hmax(max2);
}

TR_AVX2 static void block_avx2(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                               const float *gb) {
    const tr_state *s = &o->st[pi];
    _Alignas(32) float m[TR_BNB_BLOCK], v[TR_BNB_BLOCK];
    float mx[2];
    update_block8(o, k, pi, blk, gb, m, v, mx);
    s->absmax1[blk] = mx[0];
    s->absmax2[blk] = mx[1];
    qt8 t1 = qt8_of(&o->qt1), t2 = qt8_of(&o->qt2);
    __m256 vm1 = _mm256_set1_ps(mx[0]), vm2 = _mm256_set1_ps(mx[1]), zero = _mm256_setzero_ps();
    __m256i minus1 = _mm256_set1_epi32(-1);
    uint8_t *q1 = s->q1 + blk * TR_BNB_BLOCK, *q2 = s->q2 + blk * TR_BNB_BLOCK;
    for (size_t j = 0; j < TR_BNB_BLOCK; j += 8) {
        __m256 mj = _mm256_load_ps(m + j);
        __m256i r = qt8_lookup(&t1, _mm256_div_ps(mj, vm1));
        /* the code's value has the other sign than m: one code toward m */
        __m256i flip = _mm256_xor_si256(_mm256_cmpgt_epi32(t1.nneg, r),
                                        _mm256_srai_epi32(_mm256_castps_si256(mj), 31));
        __m256 pos = _mm256_cmp_ps(mj, zero, _CMP_GT_OQ);
        __m256i step = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(minus1),
                                                             _mm256_castsi256_ps(t1.one), pos));
        r = _mm256_and_si256(_mm256_add_epi32(r, _mm256_and_si256(flip, step)), t1.low8);
        store8(q1 + j, r);
        store8(q2 + j, qt8_lookup(&t2, _mm256_div_ps(_mm256_load_ps(v + j), vm2)));
    }
}

bool tr_bnb8_block_avx2(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                        const float *gb) {
    block_avx2(o, k, pi, blk, gb);
    return true;
}

TR_AVX2 static void quantize_avx2(const tr_qtable *t, const float *x, size_t n, uint8_t *out) {
    qt8 q = qt8_of(t);
    for (size_t j = 0; j < n; j += 8) store8(out + j, qt8_lookup(&q, _mm256_loadu_ps(x + j)));
}

bool tr_qtable_quantize_avx2(const tr_qtable *t, const float *x, size_t n, uint8_t *out) {
    if (!__builtin_cpu_supports("avx2") || n % 8) return false;
    quantize_avx2(t, x, n, out);
    return true;
}

#else

bool tr_bnb8_block_avx2(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                        const float *gb) {
    (void)o, (void)k, (void)pi, (void)blk, (void)gb;
    return false;
}

bool tr_qtable_quantize_avx2(const tr_qtable *t, const float *x, size_t n, uint8_t *out) {
    (void)t, (void)x, (void)n, (void)out;
    return false;
}

#endif
