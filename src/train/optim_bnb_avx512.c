/* One full 256-block of bnb's 8-bit AdamW (optim_bnb.c, bnb8_block) with AVX-512F, 16 lanes
 * at a time: dequantize (the 1 KiB maps in registers), update, absmax, parameter update, and
 * the requantization by the lookup tables (tr_qtable; one gather per 16 values instead of
 * the search's seven dependent levels). Every float operation is the scalar kernel's, in
 * its order (no FMA contraction), and IEEE-exact per lane, so the bits are the same:
 *  - max: vmaxps(a, b) is "a > b ? a : b", the scalar loop's rule, so a NaN |m| is skipped;
 *    the lanes never hold a NaN, so the order of the final reduction does not matter;
 *  - a non-finite g zeroes m and v (+0) and leaves p as it was. */
#include <float.h>
#include <math.h>

#include "train/optim_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TR_AVX512 __attribute__((target("avx512f")))

/* A table's fields, broadcast once per block. */
typedef struct {
    __m512i absmask, nanbits, mb0, klo, khi, within, low8, one, nneg;
    __m128i shift;
    const uint32_t *tab;
} qt_vec;

TR_AVX512 static qt_vec qt_vec_of(const tr_qtable *t) {
    return (qt_vec){.absmask = _mm512_set1_epi32(0x7fffffff),
                    .nanbits = _mm512_set1_epi32(0x7f800000),
                    .mb0 = _mm512_set1_epi32((int)t->mb0),
                    .klo = _mm512_set1_epi32(t->klo),
                    .khi = _mm512_set1_epi32(t->khi),
                    .within = _mm512_set1_epi32((int)((1u << t->shift) - 1)),
                    .low8 = _mm512_set1_epi32(0xff),
                    .one = _mm512_set1_epi32(1),
                    .nneg = _mm512_set1_epi32(t->nneg),
                    .shift = _mm_cvtsi32_si128((int)t->shift),
                    .tab = t->tab};
}

/* tr_qtable_quantize for 16 values. */
TR_AVX512 static inline __m512i qt_lookup(const qt_vec *q, __m512 x) {
    __m512i bits = _mm512_castps_si512(x);
    __m512i mag = _mm512_and_si512(bits, q->absmask);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(mag, q->nanbits);
    mag = _mm512_sub_epi32(_mm512_max_epu32(mag, q->mb0), q->mb0);
    __m512i key = _mm512_xor_si512(mag, _mm512_srai_epi32(bits, 31));
    key = _mm512_min_epi32(_mm512_max_epi32(key, q->klo), q->khi);
    __m512i rel = _mm512_sub_epi32(key, q->klo);
    __m512i e = _mm512_i32gather_epi32(_mm512_srl_epi32(rel, q->shift), q->tab, 4);
    __mmask16 up = _mm512_cmpge_epu32_mask(_mm512_and_si512(rel, q->within), _mm512_srli_epi32(e, 8));
    __m512i r = _mm512_and_si512(e, q->low8);
    r = _mm512_mask_add_epi32(r, up, r, q->one);
    return _mm512_mask_mov_epi32(r, nan, _mm512_setzero_si512());
}

/* The parameter update of 16 lanes where g was finite (fin). */
TR_AVX512 static inline void update_p(float *p, __m512 m, __m512 v, __mmask16 fin, __m512 ss,
                                      __m512 c2eps, bool decay, __m512 keep) {
    __m512 p0 = _mm512_loadu_ps(p);
    __m512 np = _mm512_add_ps(p0, _mm512_mul_ps(ss, _mm512_div_ps(m, _mm512_add_ps(_mm512_sqrt_ps(v), c2eps))));
    if (decay) np = _mm512_mul_ps(np, keep);
    _mm512_storeu_ps(p, _mm512_mask_mov_ps(p0, fin, np));
}

/* out[j] = map[q[j]] for a block, without gathers (a 16-lane gather costs more than the eight
 * permutes and seven blends here): the 1 KiB map held in 16 registers, each 32-entry pair
 * indexed by the code's low 5 bits (vpermt2ps), the pair picked by bits 5, 6, 7. */
#define PAIR(k) _mm512_permutex2var_ps(t##k##a, c, t##k##b)
#define LOADPAIR(k) __m512 t##k##a = _mm512_loadu_ps(map + 32 * k), t##k##b = _mm512_loadu_ps(map + 32 * k + 16)
TR_AVX512 static void dequant_block(const float *map, const uint8_t *q, float *out) {
    LOADPAIR(0); LOADPAIR(1); LOADPAIR(2); LOADPAIR(3);
    LOADPAIR(4); LOADPAIR(5); LOADPAIR(6); LOADPAIR(7);
    __m512i b5 = _mm512_set1_epi32(32), b6 = _mm512_set1_epi32(64), b7 = _mm512_set1_epi32(128);
    for (size_t j = 0; j < TR_BNB_BLOCK; j += 16) {
        __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + j)));
        __mmask16 m5 = _mm512_test_epi32_mask(c, b5), m6 = _mm512_test_epi32_mask(c, b6);
        __m512 r0 = _mm512_mask_mov_ps(_mm512_mask_mov_ps(PAIR(0), m5, PAIR(1)), m6,
                                       _mm512_mask_mov_ps(PAIR(2), m5, PAIR(3)));
        __m512 r1 = _mm512_mask_mov_ps(_mm512_mask_mov_ps(PAIR(4), m5, PAIR(5)), m6,
                                       _mm512_mask_mov_ps(PAIR(6), m5, PAIR(7)));
        _mm512_store_ps(out + j, _mm512_mask_mov_ps(r0, _mm512_test_epi32_mask(c, b7), r1));
    }
}
#undef PAIR
#undef LOADPAIR

/* New m and v of the block into m, v; the parameters updated; the absmaxes returned. */
TR_AVX512 static void update_block(const tr_optim *o, const tr_step_consts *k, size_t pi,
                                   size_t blk, const float *gb, float *m, float *v, float mx[2]) {
    const tr_param *pp = &o->ps[pi];
    const tr_state *s = &o->st[pi];
    float b1 = (float)o->hp.beta1, b2 = (float)o->hp.beta2, eps = (float)o->hp.eps;
    float wd = (float)pp->weight_decay;
    size_t start = blk * TR_BNB_BLOCK;
    __m512 va1 = _mm512_set1_ps(s->absmax1[blk]), va2 = _mm512_set1_ps(s->absmax2[blk]);
    __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2);
    __m512 vw1 = _mm512_set1_ps(1.0f - b1), vw2 = _mm512_set1_ps(1.0f - b2);
    __m512 ss = _mm512_set1_ps(k->step_size), c2eps = _mm512_set1_ps(k->c2 * eps);
    __m512 keep = _mm512_set1_ps(1.0f - k->lr_f * wd), fmax = _mm512_set1_ps(FLT_MAX);
    __m512 max1 = _mm512_setzero_ps(), max2 = _mm512_setzero_ps();
    _Alignas(64) float dq1[TR_BNB_BLOCK], dq2[TR_BNB_BLOCK];
    dequant_block(o->qmap1, s->q1 + start, dq1);
    dequant_block(o->qmap2, s->q2 + start, dq2);
    for (size_t j = 0; j < TR_BNB_BLOCK; j += 16) {
        __m512 g = _mm512_loadu_ps(gb + j);
        __mmask16 fin = _mm512_cmp_ps_mask(_mm512_abs_ps(g), fmax, _CMP_LE_OQ);
        __m512 d2 = _mm512_load_ps(dq2 + j), d1 = _mm512_load_ps(dq1 + j);
        __m512 vj = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(d2, va2), vb2),
                                  _mm512_mul_ps(_mm512_mul_ps(vw2, g), g));
        __m512 mj = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(d1, va1), vb1), _mm512_mul_ps(vw1, g));
        mj = _mm512_maskz_mov_ps(fin, mj);
        vj = _mm512_maskz_mov_ps(fin, vj);
        _mm512_store_ps(m + j, mj);
        _mm512_store_ps(v + j, vj);
        max1 = _mm512_max_ps(_mm512_abs_ps(mj), max1);
        max2 = _mm512_max_ps(_mm512_abs_ps(vj), max2);
        update_p(pp->param + start + j, mj, vj, fin, ss, c2eps, wd > 0.0f, keep);
    }
    mx[0] = _mm512_reduce_max_ps(max1);
    mx[1] = _mm512_reduce_max_ps(max2);
}

TR_AVX512 static void block_avx512(const tr_optim *o, const tr_step_consts *k, size_t pi,
                                   size_t blk, const float *gb) {
    const tr_state *s = &o->st[pi];
    _Alignas(64) float m[TR_BNB_BLOCK], v[TR_BNB_BLOCK];
    float mx[2];
    update_block(o, k, pi, blk, gb, m, v, mx);
    s->absmax1[blk] = mx[0];
    s->absmax2[blk] = mx[1];
    qt_vec t1 = qt_vec_of(&o->qt1), t2 = qt_vec_of(&o->qt2);
    __m512 vm1 = _mm512_set1_ps(mx[0]), vm2 = _mm512_set1_ps(mx[1]), zero = _mm512_setzero_ps();
    __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    uint8_t *q1 = s->q1 + blk * TR_BNB_BLOCK, *q2 = s->q2 + blk * TR_BNB_BLOCK;
    for (size_t j = 0; j < TR_BNB_BLOCK; j += 16) {
        __m512 mj = _mm512_load_ps(m + j);
        __m512i r = qt_lookup(&t1, _mm512_div_ps(mj, vm1));
        /* the code's value has the other sign than m: one code toward m (the codes with
         * the sign bit are those below nneg) */
        __mmask16 mneg = _mm512_test_epi32_mask(_mm512_castps_si512(mj), sign);
        __mmask16 flip = _mm512_cmplt_epi32_mask(r, t1.nneg) ^ mneg;
        __mmask16 pos = _mm512_cmp_ps_mask(mj, zero, _CMP_GT_OQ);
        r = _mm512_mask_add_epi32(r, flip & pos, r, t1.one);
        r = _mm512_mask_sub_epi32(r, flip & (__mmask16)~pos, r, t1.one);
        _mm_storeu_si128((__m128i *)(q1 + j), _mm512_cvtepi32_epi8(r)); /* wraps as uint8_t */
        __m512i rv = qt_lookup(&t2, _mm512_div_ps(_mm512_load_ps(v + j), vm2));
        _mm_storeu_si128((__m128i *)(q2 + j), _mm512_cvtepi32_epi8(rv));
    }
}

bool tr_bnb8_block_avx512(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                          const float *gb) {
    block_avx512(o, k, pi, blk, gb);
    return true;
}

TR_AVX512 static void quantize_avx512(const tr_qtable *t, const float *x, size_t n, uint8_t *out) {
    qt_vec q = qt_vec_of(t);
    for (size_t j = 0; j < n; j += 16)
        _mm_storeu_si128((__m128i *)(out + j), _mm512_cvtepi32_epi8(qt_lookup(&q, _mm512_loadu_ps(x + j))));
}

bool tr_qtable_quantize_avx512(const tr_qtable *t, const float *x, size_t n, uint8_t *out) {
    if (!__builtin_cpu_supports("avx512f") || n % 16) return false;
    quantize_avx512(t, x, n, out);
    return true;
}

#else

bool tr_qtable_quantize_avx512(const tr_qtable *t, const float *x, size_t n, uint8_t *out) {
    (void)t, (void)x, (void)n, (void)out;
    return false;
}

bool tr_bnb8_block_avx512(const tr_optim *o, const tr_step_consts *k, size_t pi, size_t blk,
                          const float *gb) {
    (void)o, (void)k, (void)pi, (void)blk, (void)gb;
    return false;
}

#endif
