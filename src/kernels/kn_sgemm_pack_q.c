/* Compact weight decoding for the GEMM's B packing: a row segment of W (f32, bf16 or NF4)
 * as f32, each value bit-identical to tensor/'s dequantization (bf16: the 16 bits shifted
 * into the top half; NF4: quant_map[code] · absmax, one f32 product). The AVX-512 path
 * decodes 32 NF4 values per step (16 bytes → 32 nibble codes → one 16-entry permutexvar
 * table lookup per 16) whenever the 32 lie in one quantization block. */
#include "kernels/kn_sgemm_internal.h"

#include <string.h>

/* absmax of NF4 block b, in the order tn_nf4_block_absmax rounds it. */
static float nf4_absmax(const kn_wsrc *W, int64_t b) {
    if (W->absmax) return W->absmax[b];
    float scaled = W->nested_quant_map[W->absmax_q[b]] * W->nested_absmax[b / W->nested_blocksize];
    return scaled + W->nested_offset;
}

static float nf4_at(const kn_wsrc *W, int64_t e) {
    uint8_t byte = W->packed[e >> 1];
    int code = e & 1 ? byte & 15 : byte >> 4;
    return W->quant_map[code] * nf4_absmax(W, e / W->blocksize);
}

static float bf16_at(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void row_seg_portable(const kn_wsrc *W, int64_t e, int64_t n, float *dst) {
    if (W->kind == KN_W_F32) memcpy(dst, W->f32 + e, (size_t)n * sizeof(float));
    else if (W->kind == KN_W_BF16)
        for (int64_t i = 0; i < n; i++) dst[i] = bf16_at(W->bf16[e + i]);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = nf4_at(W, e + i);
}

#if KN_HAVE_X86
#include <immintrin.h>

KN_AVX512 static void bf16_avx512(const uint16_t *src, int64_t n, float *dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
    for (; i < n; i++) dst[i] = bf16_at(src[i]);
}

/* 32 values from element e (a multiple of 32, so all in one block of ≥ 32). */
KN_AVX512 static void nf4_decode32(const kn_wsrc *W, int64_t e, float *dst) {
    __m512 lut = _mm512_mul_ps(_mm512_loadu_ps(W->quant_map),
                               _mm512_set1_ps(nf4_absmax(W, e / W->blocksize)));
    __m128i bytes = _mm_loadu_si128((const __m128i *)(W->packed + (e >> 1)));
    __m128i low4 = _mm_set1_epi8(0x0f);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4), lo = _mm_and_si128(bytes, low4);
    __m512i q0 = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(hi, lo)); /* elements 0..15 */
    __m512i q1 = _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(hi, lo)); /* 16..31 */
    _mm512_storeu_ps(dst, _mm512_permutexvar_ps(q0, lut));
    _mm512_storeu_ps(dst + 16, _mm512_permutexvar_ps(q1, lut));
}

KN_AVX512 static void nf4_avx512(const kn_wsrc *W, int64_t e, int64_t n, float *dst) {
    if (W->blocksize % 32) { /* 32-value steps would straddle blocks (bnb's sizes never do) */
        for (int64_t i = 0; i < n; i++) dst[i] = nf4_at(W, e + i);
        return;
    }
    while (n > 0 && (e & 31)) *dst++ = nf4_at(W, e++), n--;
    for (; n >= 32; n -= 32, e += 32, dst += 32) nf4_decode32(W, e, dst);
    for (int64_t i = 0; i < n; i++) dst[i] = nf4_at(W, e + i);
}

void kn_w_row_seg(const kn_wsrc *W, int64_t r, int64_t c0, int64_t n, float *dst, bool avx512) {
    int64_t e = W->off + r * W->ld + c0;
    if (!avx512 || W->kind == KN_W_F32) row_seg_portable(W, e, n, dst);
    else if (W->kind == KN_W_BF16) bf16_avx512(W->bf16 + e, n, dst);
    else nf4_avx512(W, e, n, dst);
}

#else

void kn_w_row_seg(const kn_wsrc *W, int64_t r, int64_t c0, int64_t n, float *dst, bool avx512) {
    row_seg_portable(W, W->off + r * W->ld + c0, n, dst);
}

#endif
