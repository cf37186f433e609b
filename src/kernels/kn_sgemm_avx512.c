/* AVX-512 micro-kernel, macro-kernel and f32 packing of the SGEMM (layouts in
 * kn_sgemm_internal.h). Compiled with per-function target attributes: the build stays
 * baseline x86-64 and these only run after kn_sgemm_cpu_ok().
 *
 * Micro-kernel 12×32: per k step two 16-float B loads and 12 broadcast A values feed 24
 * independent FMAs into 24 zmm accumulators (28 of 32 registers live), enough in flight to
 * cover the FMA latency (4 cycles × 2 pipes on Zen 5 = 8) three times over. */
#include "kernels/kn_sgemm_internal.h"

#include <string.h>

#if KN_HAVE_X86
#include <immintrin.h>

bool kn_sgemm_cpu_ok(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("fma");
}

KN_AVX512 static inline void store_row(float *c, __m512 r0, __m512 r1, __mmask16 m0,
                                       __mmask16 m1, kn_cupd u) {
    __m512 va = _mm512_set1_ps(u.alpha);
    r0 = _mm512_mul_ps(va, r0);
    r1 = _mm512_mul_ps(va, r1);
    if (!u.beta0) { /* alpha·acc + beta·C, rounded once after the product alpha·acc */
        __m512 vb = _mm512_set1_ps(u.beta);
        r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), r0);
        r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), r1);
    }
    _mm512_mask_storeu_ps(c, m0, r0);
    _mm512_mask_storeu_ps(c + 16, m1, r1);
}

KN_AVX512 static void ukr(int64_t kc, const float *restrict a, const float *restrict b, float *c,
                          int64_t ldc, int mr, __mmask16 m0, __mmask16 m1, kn_cupd u) {
    __m512 c0[KN_MR], c1[KN_MR];
#pragma GCC unroll 16
    for (int i = 0; i < KN_MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
        for (int i = 0; i < KN_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
        a += KN_MR;
        b += KN_NR;
    }
#pragma GCC unroll 16
    for (int i = 0; i < KN_MR; i++)
        if (i < mr) store_row(c + i * ldc, c0[i], c1[i], m0, m1, u);
}

static __mmask16 mask_of(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

KN_AVX512 void kn_macro(const float *pa, const float *pb, int64_t mc, int64_t p0, int64_t p1,
                        int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u) {
    for (int64_t p = p0; p < p1; p++) {
        int64_t jr = p * KN_NR, nr = nc - jr < KN_NR ? nc - jr : KN_NR;
        __mmask16 m0 = mask_of(nr), m1 = mask_of(nr - 16);
        for (int64_t ir = 0; ir < mc; ir += KN_MR) {
            int mr = (int)(mc - ir < KN_MR ? mc - ir : KN_MR);
            ukr(kc, pa + ir * kc, pb + jr * kc, C + ir * ldc + jr, ldc, mr, m0, m1, u);
        }
    }
}

/* op(A) = Aᵀ: the MR values of one k step are contiguous in A's row k0+k. */
KN_AVX512 static void pack_a_t(const float *A, int64_t lda, int64_t i0, int64_t mr, int64_t k0,
                               int64_t kc, float *dst) {
    __mmask16 ld = mask_of(mr), st = mask_of(KN_MR);
    const float *src = A + k0 * lda + i0;
    for (int64_t k = 0; k < kc; k++, src += lda, dst += KN_MR)
        _mm512_mask_storeu_ps(dst, st, _mm512_maskz_loadu_ps(ld, src));
}

/* op(A) = A: row r of the panel is contiguous in A; written down a column of the panel. */
static void pack_a_n(const float *A, int64_t lda, int64_t i0, int64_t mr, int64_t k0, int64_t kc,
                     float *dst) {
    for (int64_t r = 0; r < KN_MR; r++) {
        float *d = dst + r;
        if (r >= mr) {
            for (int64_t k = 0; k < kc; k++) d[k * KN_MR] = 0.0f;
            continue;
        }
        const float *src = A + (i0 + r) * lda + k0;
        for (int64_t k = 0; k < kc; k++) d[k * KN_MR] = src[k];
    }
}

void kn_pack_a(const float *A, int64_t lda, kn_trans ta, int64_t i0, int64_t mc, int64_t k0,
               int64_t kc, float *dst) {
    for (int64_t ir = 0; ir < mc; ir += KN_MR, dst += KN_MR * kc) {
        int64_t mr = mc - ir < KN_MR ? mc - ir : KN_MR;
        if (ta == KN_T) pack_a_t(A, lda, i0 + ir, mr, k0, kc, dst);
        else pack_a_n(A, lda, i0 + ir, mr, k0, kc, dst);
    }
}

/* op(W) = W ([K, N]): each k step is a row segment of W, decoded straight into the panel. */
KN_AVX512 static void pack_b_rows(const kn_wsrc *W, int64_t k0, int64_t kc, int64_t n0,
                                  int64_t nr, float *dst) {
    if (W->kind == KN_W_F32) {
        __mmask16 m0 = mask_of(nr), m1 = mask_of(nr - 16);
        const float *src = W->f32 + W->off + k0 * W->ld + n0;
        for (int64_t k = 0; k < kc; k++, src += W->ld, dst += KN_NR) {
            _mm512_store_ps(dst, _mm512_maskz_loadu_ps(m0, src));
            _mm512_store_ps(dst + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
        return;
    }
    for (int64_t k = 0; k < kc; k++, dst += KN_NR) {
        kn_w_row_seg(W, k0 + k, n0, nr, dst, true);
        for (int64_t j = nr; j < KN_NR; j++) dst[j] = 0.0f;
    }
}

/* op(W) = Wᵀ (W is [N, K]): column j of the panel is a row segment of W (decoded into tmp
 * first when compact), transposed into the panel. */
static void pack_b_cols(const kn_wsrc *W, int64_t k0, int64_t kc, int64_t n0, int64_t nr,
                        float *dst, float *tmp) {
    for (int64_t j = 0; j < KN_NR; j++) {
        float *d = dst + j;
        if (j >= nr) {
            for (int64_t k = 0; k < kc; k++) d[k * KN_NR] = 0.0f;
            continue;
        }
        const float *src;
        if (W->kind == KN_W_F32) {
            src = W->f32 + W->off + (n0 + j) * W->ld + k0;
        } else {
            kn_w_row_seg(W, n0 + j, k0, kc, tmp, true);
            src = tmp;
        }
        for (int64_t k = 0; k < kc; k++) d[k * KN_NR] = src[k];
    }
}

void kn_pack_b_panel(const kn_wsrc *W, kn_trans tb, int64_t k0, int64_t kc, int64_t n0,
                     int64_t nr, float *dst, float *tmp) {
    if (tb == KN_N) pack_b_rows(W, k0, kc, n0, nr, dst);
    else pack_b_cols(W, k0, kc, n0, nr, dst, tmp);
}

#else /* not x86-64: kn_sgemm_cpu_ok() is false and nothing below is called */

bool kn_sgemm_cpu_ok(void) { return false; }
void kn_pack_a(const float *A, int64_t lda, kn_trans ta, int64_t i0, int64_t mc, int64_t k0,
               int64_t kc, float *dst) {}
void kn_pack_b_panel(const kn_wsrc *W, kn_trans tb, int64_t k0, int64_t kc, int64_t n0,
                     int64_t nr, float *dst, float *tmp) {}
void kn_macro(const float *pa, const float *pb, int64_t mc, int64_t p0, int64_t p1, int64_t nc,
              int64_t kc, float *C, int64_t ldc, kn_cupd u) {}

#endif
