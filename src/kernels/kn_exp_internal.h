/* Internal to the kernels: glibc's expf evaluation (kn_exp.c explains it) on sixteen floats
 * per AVX-512 call, for kn_exp_shift and the fused softmax rows of attention
 * (kn_attn_rows.c). Same operations as the AVX2 version, on eight doubles per register; the
 * 32-entry table is read with two permutes and a blend instead of a gather. */
#ifndef NEWT_KERNELS_EXP_INTERNAL_H
#define NEWT_KERNELS_EXP_INTERNAL_H

#include <math.h>

#include "kernels/kn_sgemm_internal.h"

/* 2^(i/32) as double bits, minus i << 47 (the exponent bits k adds back); kn_exp.c. */
extern const uint64_t kn_exp_tab[32];

#if KN_HAVE_X86
#include <immintrin.h>

/* The table and the constants in registers, set up once per row. */
typedef struct {
    __m512d t0, t1, t2, t3;
    __m512d inv_ln2_n, shift, c0, c1, c2, one;
    __m512i bit4;
    __m512 big;
} kn_exp_regs;

KN_AVX512 static inline kn_exp_regs kn_exp_regs_load(void) {
    const double *t = (const double *)kn_exp_tab;
    return (kn_exp_regs){_mm512_loadu_pd(t), _mm512_loadu_pd(t + 8), _mm512_loadu_pd(t + 16),
                         _mm512_loadu_pd(t + 24), _mm512_set1_pd(0x1.71547652b82fep+5),
                         _mm512_set1_pd(0x1.8p+52), _mm512_set1_pd(0x1.c6af84b912394p-20),
                         _mm512_set1_pd(0x1.ebfce50fac4f3p-13), _mm512_set1_pd(0x1.62e42ff0c52d6p-6),
                         _mm512_set1_pd(1.0), _mm512_set1_epi64(16), _mm512_set1_ps(88.0f)};
}

/* exp of eight doubles that came from floats with |x| < 88, rounded once to float. */
KN_AVX512 static inline __m256 kn_exp8(__m512d xd, const kn_exp_regs *e) {
    __m512d kd = _mm512_fmadd_pd(xd, e->inv_ln2_n, e->shift);
    __m512i ki = _mm512_castpd_si512(kd);
    kd = _mm512_sub_pd(kd, e->shift);
    __m512d r = _mm512_fmsub_pd(e->inv_ln2_n, xd, kd);
    __m512d lo = _mm512_permutex2var_pd(e->t0, ki, e->t1); /* low 4 bits of k pick 1 of 16 */
    __m512d hi = _mm512_permutex2var_pd(e->t2, ki, e->t3);
    __mmask8 upper = _mm512_test_epi64_mask(ki, e->bit4); /* bit 4: entries 16..31 */
    __m512i t = _mm512_castpd_si512(_mm512_mask_blend_pd(upper, lo, hi));
    __m512d s = _mm512_castsi512_pd(_mm512_add_epi64(t, _mm512_slli_epi64(ki, 47)));
    __m512d z = _mm512_fmadd_pd(r, e->c0, e->c1);
    __m512d r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(r, e->c2, e->one);
    y = _mm512_fmadd_pd(z, r2, y);
    return _mm512_cvtpd_ps(_mm512_mul_pd(y, s));
}

/* expf of the lanes of v in `valid`; other lanes and −inf lanes give +0. Lanes outside the
 * fast path's range (|x| ≥ 88 or NaN, but not −inf: overflow, underflow, NaN) make the whole
 * vector take the C library's expf, lane by lane. */
KN_AVX512 __attribute__((noinline, cold)) static __m512 kn_exp16_libm(__m512 v, __mmask16 live) {
    float tmp[16];
    _mm512_storeu_ps(tmp, v);
    for (int j = 0; j < 16; j++) tmp[j] = (live >> j) & 1 ? expf(tmp[j]) : 0.0f;
    return _mm512_loadu_ps(tmp);
}

KN_AVX512 static inline __m512 kn_exp16(__m512 v, __mmask16 valid, const kn_exp_regs *e) {
    __mmask16 big = valid & _mm512_cmp_ps_mask(_mm512_abs_ps(v), e->big, _CMP_NLT_UQ);
    __mmask16 live = valid;
    if (big) {
        live &= ~_mm512_cmp_ps_mask(v, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
        if (big & live) return kn_exp16_libm(v, live); /* out of line: the hot loop's
                                                         * constants stay in registers */
    }
    __m256 lo = kn_exp8(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), e);
    __m256 hi = kn_exp8(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), e);
    __m512 p = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    return live == 0xFFFF ? p : _mm512_maskz_mov_ps(live, p);
}

static inline __mmask16 kn_mask16(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}
#endif

#endif
