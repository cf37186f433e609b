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

/* ukr reading op(A) = A (row-major, k contiguous) in place: 12 sequential row streams instead
 * of a packed micro-panel. Same FMAs in the same order as ukr on the packed copy: bitwise the
 * same C. Rows past mr re-read row mr−1 (valid memory; their results are not stored). */
KN_AVX512 static void ukr_direct(int64_t kc, const float *a, int64_t lda, const float *restrict b,
                                 float *c, int64_t ldc, int mr, __mmask16 m0, __mmask16 m1,
                                 kn_cupd u) {
    __m512 c0[KN_MR], c1[KN_MR];
    const float *r[KN_MR];
#pragma GCC unroll 16
    for (int i = 0; i < KN_MR; i++) {
        c0[i] = c1[i] = _mm512_setzero_ps();
        r[i] = a + (i < mr ? i : mr - 1) * lda;
    }
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
        for (int i = 0; i < KN_MR; i++) {
            __m512 ai = _mm512_set1_ps(r[i][k]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
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

KN_AVX512 void kn_macro_direct_lower(const float *A, int64_t lda, const float *pb, int64_t mc,
                                     int64_t p0, int64_t p1, int64_t nc, int64_t kc, float *C,
                                     int64_t ldc, kn_cupd u, int64_t diag) {
    for (int64_t p = p0; p < p1; p++) {
        int64_t jr = p * KN_NR, nr = nc - jr < KN_NR ? nc - jr : KN_NR;
        __mmask16 m0 = mask_of(nr), m1 = mask_of(nr - 16);
        for (int64_t ir = 0; ir < mc; ir += KN_MR) {
            int mr = (int)(mc - ir < KN_MR ? mc - ir : KN_MR);
            if (jr - (ir + mr - 1) > diag) continue; /* every column past the last row's diagonal */
            ukr_direct(kc, A + ir * lda, lda, pb + jr * kc, C + ir * ldc + jr, ldc, mr, m0, m1, u);
        }
    }
}

KN_AVX512 void kn_macro_direct(const float *A, int64_t lda, const float *pb, int64_t mc, int64_t p0,
                               int64_t p1, int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u) {
    kn_macro_direct_lower(A, lda, pb, mc, p0, p1, nc, kc, C, ldc, u, KN_BAND_ALL.hi);
}

/* Narrow products (kn_sgemm_narrow): a 6 × 64 micro-tile, 24 accumulators, reading B's rows
 * (4 vectors) and op(A)'s values in place: element (i, k) of op(A) at a[i·ars + k·acs], so
 * one kernel serves A (ars = lda, acs = 1) and Aᵀ (ars = 1, acs = lda). Each C element is
 * the same FMA chain over k as in ukr, then the same store: bitwise kn_sgemm's result. A
 * K block may come in several calls (first / last): between them the partial sums wait in
 * `part` (6 rows of 64) as the floats they are, so the chain is unchanged. Rows past mr
 * re-read row mr−1 (valid memory; their results are not stored). */
#define NARROW_MR 6

KN_AVX512 static void ukr_narrow(int64_t kc, const float *a, int64_t ars, int64_t acs, int mr,
                                 const float *b, int64_t ldb, const __mmask16 m[4], float *c,
                                 int64_t ldc, kn_cupd u, float *part, bool first, bool last) {
    __m512 acc[NARROW_MR][4];
    int64_t off[NARROW_MR];
#pragma GCC unroll 8
    for (int i = 0; i < NARROW_MR; i++) {
        if (last && !u.beta0 && i < mr) /* C's rows (often far apart, out of cache) arrive while the FMAs run */
            for (int j = 0; j < 4; j++) _mm_prefetch((const char *)(c + i * ldc + 16 * j), _MM_HINT_T0);
        off[i] = (i < mr ? i : mr - 1) * ars;
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) acc[i][j] = first ? _mm512_setzero_ps() : _mm512_load_ps(part + i * 64 + 16 * j);
    }
    for (int64_t k = 0; k < kc; k++, a += acs, b += ldb) {
        __m512 b0 = _mm512_maskz_loadu_ps(m[0], b), b1 = _mm512_maskz_loadu_ps(m[1], b + 16);
        __m512 b2 = _mm512_maskz_loadu_ps(m[2], b + 32), b3 = _mm512_maskz_loadu_ps(m[3], b + 48);
#pragma GCC unroll 8
        for (int i = 0; i < NARROW_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[off[i]]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(ai, b2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(ai, b3, acc[i][3]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < NARROW_MR; i++) {
        if (!last) {
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) _mm512_store_ps(part + i * 64 + 16 * j, acc[i][j]);
        } else if (i < mr) {
            store_row(c + i * ldc, acc[i][0], acc[i][1], m[0], m[1], u);
            if (m[2]) store_row(c + i * ldc + 32, acc[i][2], acc[i][3], m[2], m[3], u);
        }
    }
}

/* Each micro-tile runs only the k steps the band allows any of its rows, [ir − lo, ir + mr − 1
 * + hi]; with none it still starts or finishes its sums (kc = 0), so C and part are as with
 * every step run. */
KN_AVX512 void kn_macro_narrow(const float *a, int64_t ars, int64_t acs, int64_t mc, const float *b,
                               int64_t ldb, int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u,
                               float *part, bool first, bool last, kn_band band) {
    const __mmask16 m[4] = {mask_of(nc), mask_of(nc - 16), mask_of(nc - 32), mask_of(nc - 48)};
    for (int64_t ir = 0; ir < mc; ir += NARROW_MR) {
        int mr = (int)(mc - ir < NARROW_MR ? mc - ir : NARROW_MR);
        int64_t k0 = ir - band.lo, k1 = ir + mr + band.hi; /* [k0, k1) */
        k0 = k0 < 0 ? 0 : k0 > kc ? kc : k0;
        k1 = k1 > kc ? kc : k1 < k0 ? k0 : k1;
        ukr_narrow(k1 - k0, a + ir * ars + k0 * acs, ars, acs, mr, b + k0 * ldb, ldb, m, C + ir * ldc,
                   ldc, u, part ? part + ir * 64 : NULL, first, last);
    }
}

KN_AVX512 void kn_rows64_copy(float *dst, const float *src, int64_t lds, int64_t rows, int64_t nc) {
    const __mmask16 m[4] = {mask_of(nc), mask_of(nc - 16), mask_of(nc - 32), mask_of(nc - 48)};
    for (int64_t k = 0; k < rows; k++, dst += 64, src += lds)
        for (int j = 0; j < 4; j++) _mm512_store_ps(dst + 16 * j, _mm512_maskz_loadu_ps(m[j], src + 16 * j));
}

/* op(A) = Aᵀ: the MR values of one k step are contiguous in A's row k0+k. */
KN_AVX512 static void pack_a_t(const float *A, int64_t lda, int64_t i0, int64_t mr, int64_t k0,
                               int64_t kc, float *dst) {
    __mmask16 ld = mask_of(mr), st = mask_of(KN_MR);
    const float *src = A + k0 * lda + i0;
    for (int64_t k = 0; k < kc; k++, src += lda, dst += KN_MR)
        _mm512_mask_storeu_ps(dst, st, _mm512_maskz_loadu_ps(ld, src));
}

/* In-register transpose of 16 rows of 16 floats: pairs interleaved, then 4-row groups
 * within 128-bit lanes, then lanes exchanged. */
KN_AVX512 static void tr16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) { /* u[g + c]: rows g..g+3 of column c of each lane */
        u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        __m512 x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        __m512 y0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        __m512 y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
    }
}

/* dst[k·ldd + j] = rows[j][k] for k < kc, j < 16 (stores masked by smask); a NULL row is
 * zeros. Transposes 16×16 tiles in registers instead of scattering single floats. */
KN_AVX512 static void tr_pack(const float *const rows[16], int64_t kc, float *dst, int64_t ldd,
                              __mmask16 smask) {
    for (int64_t k = 0; k < kc; k += 16) {
        int64_t kr = kc - k < 16 ? kc - k : 16;
        __mmask16 lm = mask_of(kr);
        __m512 r[16];
        for (int j = 0; j < 16; j++)
            r[j] = rows[j] ? _mm512_maskz_loadu_ps(lm, rows[j] + k) : _mm512_setzero_ps();
        tr16(r);
        for (int64_t kk = 0; kk < kr; kk++) _mm512_mask_storeu_ps(dst + (k + kk) * ldd, smask, r[kk]);
    }
}

/* op(A) = A: the panel's rows are contiguous in A; transposed 16 k steps at a time. (Copying
 * the rows into L1 first, as pack_b_cols does, measured the same here.) */
static void pack_a_n(const float *A, int64_t lda, int64_t i0, int64_t mr, int64_t k0, int64_t kc,
                     float *dst) {
    const float *rows[16] = {0};
    for (int64_t r = 0; r < mr; r++) rows[r] = A + (i0 + r) * lda + k0;
    tr_pack(rows, kc, dst, KN_MR, mask_of(KN_MR));
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

/* op(W) = Wᵀ (W is [N, K]): column j of the panel is a row segment of W, decoded (or copied)
 * into tmp first, 16·kc floats — the copy made the f32 lm_head forward 512×32768×512 go from
 * 151 to 175 GFLOP/s (1 thread) against transposing from W's strided rows — then transposed
 * 16 columns at a time. */
static void pack_b_cols(const kn_wsrc *W, int64_t k0, int64_t kc, int64_t n0, int64_t nr,
                        float *dst, float *tmp) {
    for (int h = 0; h < KN_NR / 16; h++) {
        const float *rows[16] = {0};
        for (int64_t j = 0; j < 16 && 16 * h + j < nr; j++) {
            int64_t n = n0 + 16 * h + j;
            kn_w_row_seg(W, n, k0, kc, tmp + j * kc, true);
            rows[j] = tmp + j * kc;
        }
        tr_pack(rows, kc, dst + 16 * h, KN_NR, 0xFFFF);
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
void kn_macro_direct(const float *A, int64_t lda, const float *pb, int64_t mc, int64_t p0,
                     int64_t p1, int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u) {}
void kn_macro_direct_lower(const float *A, int64_t lda, const float *pb, int64_t mc, int64_t p0,
                           int64_t p1, int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u,
                           int64_t diag) {}
void kn_macro_narrow(const float *a, int64_t ars, int64_t acs, int64_t mc, const float *b,
                     int64_t ldb, int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u,
                     float *part, bool first, bool last, kn_band band) {}
void kn_rows64_copy(float *dst, const float *src, int64_t lds, int64_t rows, int64_t nc) {}

#endif
