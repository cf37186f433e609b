/* x[i] = expf(x[i] − m), eight at a time, with the same bits as glibc's expf (the FMA variant
 * it selects on AVX2 + FMA CPUs, glibc ≥ 2.27). Softmax rows in attention and the loss spend
 * most of their time in expf, which glibc only offers as a scalar call; vectorizing it must
 * not change a single result (the parity tests pin the model to the reference), so this is
 * the same evaluation, operation for operation, on four doubles per register:
 *   k = round(x·32/ln2) (by adding 1.5·2^52), r = x·32/ln2 − k,
 *   2^(k/32) from a 32-entry table of 2^(i/32) with the exponent bits of k added in,
 *   exp(x) ≈ 2^(k/32) · (C0·r³ + C1·r² + C2·r + 1), with the FMAs where glibc has them,
 * rounded once to float. −inf (masked scores) gives +0 like expf; other lanes with |x| ≥ 88
 * (overflow, underflow, NaN) take glibc's own expf, so every input gets exactly expf's value
 * (tests/unit/test_kernels.c compares bit patterns against the C library; all 2^32 inputs
 * were checked once). CPUs with AVX-512 (those the own SGEMM runs on) take the same evaluation
 * on eight doubles per register, sixteen floats per step (kn_exp_internal.h); other CPUs run
 * the plain expf loop. */
#include <math.h>
#include <string.h>

#include "kernels/kn_exp_internal.h"

static void exp_shift_scalar(float *x, int64_t n, float m) {
    for (int64_t i = 0; i < n; i++) x[i] = expf(x[i] - m);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define KN_AVX2 __attribute__((target("avx2,fma")))

const uint64_t kn_exp_tab[32] = {
    0x3ff0000000000000ULL,
    0x3fefd9b0d3158574ULL,
    0x3fefb5586cf9890fULL,
    0x3fef9301d0125b51ULL,
    0x3fef72b83c7d517bULL,
    0x3fef54873168b9aaULL,
    0x3fef387a6e756238ULL,
    0x3fef1e9df51fdee1ULL,
    0x3fef06fe0a31b715ULL,
    0x3feef1a7373aa9cbULL,
    0x3feedea64c123422ULL,
    0x3feece086061892dULL,
    0x3feebfdad5362a27ULL,
    0x3feeb42b569d4f82ULL,
    0x3feeab07dd485429ULL,
    0x3feea47eb03a5585ULL,
    0x3feea09e667f3bcdULL,
    0x3fee9f75e8ec5f74ULL,
    0x3feea11473eb0187ULL,
    0x3feea589994cce13ULL,
    0x3feeace5422aa0dbULL,
    0x3feeb737b0cdc5e5ULL,
    0x3feec49182a3f090ULL,
    0x3feed503b23e255dULL,
    0x3feee89f995ad3adULL,
    0x3feeff76f2fb5e47ULL,
    0x3fef199bdd85529cULL,
    0x3fef3720dcef9069ULL,
    0x3fef5818dcfba487ULL,
    0x3fef7c97337b9b5fULL,
    0x3fefa4afa2a490daULL,
    0x3fefd0765b6e4540ULL};

/* exp of four doubles that came from floats with |x| < 88. */
KN_AVX2 static inline __m128 exp4(__m256d xd) {
    const __m256d inv_ln2_n = _mm256_set1_pd(0x1.71547652b82fep+5), shift = _mm256_set1_pd(0x1.8p+52);
    __m256d kd = _mm256_fmadd_pd(xd, inv_ln2_n, shift);
    __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, shift);
    __m256d r = _mm256_fmsub_pd(inv_ln2_n, xd, kd);
    __m256i idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
    __m256i t = _mm256_i64gather_epi64((const long long *)kn_exp_tab, idx, 8);
    __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
    __m256d z = _mm256_fmadd_pd(r, _mm256_set1_pd(0x1.c6af84b912394p-20), _mm256_set1_pd(0x1.ebfce50fac4f3p-13));
    __m256d r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(0x1.62e42ff0c52d6p-6), _mm256_set1_pd(1.0));
    y = _mm256_fmadd_pd(z, r2, y);
    return _mm256_cvtpd_ps(_mm256_mul_pd(y, s));
}

KN_AVX2 static void exp_shift_avx2(float *x, int64_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    const __m256i mask = _mm256_set1_epi32(0x7ff), lim = _mm256_set1_epi32(0x42a); /* top12(88) − 1 */
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
        __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(v), 20), mask);
        __m256 ninf = _mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ); /* masked scores */
        __m256i special = _mm256_andnot_si256(_mm256_castps_si256(ninf), _mm256_cmpgt_epi32(top, lim));
        if (!_mm256_testz_si256(special, special)) {
            float tmp[8];
            _mm256_storeu_ps(tmp, v);
            for (int j = 0; j < 8; j++) x[i + j] = expf(tmp[j]);
            continue;
        }
        __m128 lo = exp4(_mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        __m128 hi = exp4(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        _mm256_storeu_ps(x + i, _mm256_andnot_ps(ninf, _mm256_set_m128(hi, lo))); /* expf(−inf) = +0 */
    }
    exp_shift_scalar(x + i, n - i, m);
}

KN_AVX512 static void exp_shift_avx512(float *x, int64_t n, float m) {
    const kn_exp_regs e = kn_exp_regs_load();
    const __m512 vm = _mm512_set1_ps(m);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = kn_mask16(n - i);
        __m512 v = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm);
        _mm512_mask_storeu_ps(x + i, k, kn_exp16(v, k, &e));
    }
}

void kn_exp_shift(float *x, int64_t n, float m) {
    if (kn_sgemm_cpu_ok()) exp_shift_avx512(x, n, m);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) exp_shift_avx2(x, n, m);
    else exp_shift_scalar(x, n, m);
}
#else
void kn_exp_shift(float *x, int64_t n, float m) { exp_shift_scalar(x, n, m); }
#endif
