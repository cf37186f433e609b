/* AVX2/F16C kernels behind run-time dispatch (see simd.h). Compiled with per-function target
 * attributes so the rest of the build stays baseline x86-64 and runs on any CPU. Each loop
 * handles whole vectors and leaves the tail to the portable scalar code of fp.h. */
#include "tensor/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/fp.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TN_AVX2 __attribute__((target("avx2,fma,f16c")))

bool tn_simd_avx2(void) {
    const char *force = getenv("NEWT_SIMD");
    if (force && strcmp(force, "portable") == 0) return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
}

TN_AVX2 void tn_bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(w));
    }
    for (; i < n; i++) dst[i] = tn_bf16_to_f32(src[i]);
}

TN_AVX2 void tn_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = tn_f16_to_f32(src[i]);
}

/* e4m3fn decode without a table: normal numbers are a shift plus an exponent rebias,
 * subnormals (e=0) are m * 2^-9 computed exactly by an int->float convert, 0x7f is NaN. */
TN_AVX2 void tn_f8e4m3_scaled_to_f32_avx2(const uint8_t *src, float scale, float *dst, size_t n) {
    const __m256i m7f = _mm256_set1_epi32(0x7f), bias = _mm256_set1_epi32(120 << 23);
    const __m256i qnan = _mm256_set1_epi32(0x7fc00000);
    const __m256 sub_step = _mm256_set1_ps(0x1p-9f), vscale = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(src + i)));
        __m256i em = _mm256_and_si256(x, m7f);
        __m256i sign = _mm256_slli_epi32(_mm256_andnot_si256(m7f, x), 24);
        __m256i normal = _mm256_add_epi32(_mm256_slli_epi32(em, 20), bias);
        __m256i sub = _mm256_castps_si256(_mm256_mul_ps(_mm256_cvtepi32_ps(em), sub_step));
        __m256i v = _mm256_blendv_epi8(normal, sub, _mm256_cmpgt_epi32(_mm256_set1_epi32(8), em));
        v = _mm256_blendv_epi8(v, qnan, _mm256_cmpeq_epi32(em, m7f));
        __m256 f = _mm256_castsi256_ps(_mm256_or_si256(v, sign));
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(f, vscale));
    }
    for (; i < n; i++) dst[i] = tn_f8e4m3_to_f32(src[i]) * scale;
}

/* 16-entry float lookup = two 8-entry permutes blended on bit 3 of the index. */
TN_AVX2 void tn_nibbles_lut_avx2(const uint8_t *src, const float lut[16], float *dst,
                                 size_t nbytes) {
    const __m256 lo_tab = _mm256_loadu_ps(lut), hi_tab = _mm256_loadu_ps(lut + 8);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    size_t j = 0;
    for (; j + 8 <= nbytes; j += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(src + j));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4), lo = _mm_and_si128(b, low4);
        __m128i idx = _mm_unpacklo_epi8(hi, lo); /* 16 codes in element order */
        for (int half = 0; half < 2; half++) {
            __m256i q = _mm256_cvtepu8_epi32(half ? _mm_srli_si128(idx, 8) : idx);
            __m256 a = _mm256_permutevar8x32_ps(lo_tab, q);
            __m256 c = _mm256_permutevar8x32_ps(hi_tab, q);
            __m256 sel = _mm256_castsi256_ps(_mm256_slli_epi32(q, 28)); /* bit 3 -> sign */
            _mm256_storeu_ps(dst + 2 * j + 8 * half, _mm256_blendv_ps(a, c, sel));
        }
    }
    for (; j < nbytes; j++) {
        dst[2 * j] = lut[src[j] >> 4];
        dst[2 * j + 1] = lut[src[j] & 15];
    }
}

TN_AVX2 float tn_absmax_avx2(const float *x, size_t n) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    /* maxps returns its second operand when either is NaN: a NaN x leaves acc unchanged. */
    for (; i + 8 <= n; i += 8) acc = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), acc);
    float lanes[8], m = 0.0f;
    _mm256_storeu_ps(lanes, acc);
    for (int k = 0; k < 8; k++) m = fmaxf(m, lanes[k]);
    for (; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

TN_AVX2 void tn_nf4_codes_avx2(const float *x, size_t n, float inv, const float thresholds[15],
                               uint8_t *q) {
    __m256 t[15];
    for (int k = 0; k < 15; k++) t[k] = _mm256_set1_ps(thresholds[k]);
    const __m256 vinv = _mm256_set1_ps(inv);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xs = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
        __m256i c = _mm256_setzero_si256();
        for (int k = 0; k < 15; k++) /* a true compare is all ones = -1 */
            c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(xs, t[k], _CMP_GT_OQ)));
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_packus_epi16(w, w));
    }
    for (; i < n; i++) {
        float xs = x[i] * inv;
        int c = 0;
        for (int k = 0; k < 15; k++) c += xs > thresholds[k];
        q[i] = (uint8_t)c;
    }
}

#else

bool tn_simd_avx2(void) { return false; }
void tn_bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) { (void)src, (void)dst, (void)n; }
void tn_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) { (void)src, (void)dst, (void)n; }
void tn_f8e4m3_scaled_to_f32_avx2(const uint8_t *src, float scale, float *dst, size_t n) {
    (void)src, (void)scale, (void)dst, (void)n;
}
void tn_nibbles_lut_avx2(const uint8_t *src, const float lut[16], float *dst, size_t nbytes) {
    (void)src, (void)lut, (void)dst, (void)nbytes;
}
float tn_absmax_avx2(const float *x, size_t n) { (void)x, (void)n; return 0.0f; }
void tn_nf4_codes_avx2(const float *x, size_t n, float inv, const float thresholds[15],
                       uint8_t *q) {
    (void)x, (void)n, (void)inv, (void)thresholds, (void)q;
}

#endif
