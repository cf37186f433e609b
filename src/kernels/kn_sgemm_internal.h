/* Internal to the SGEMM (kn_sgemm*.c): micro-tile sizes, the packed-panel layouts and the
 * AVX-512 pieces the driver calls.
 *
 * Packed layouts (GotoBLAS/BLIS): op(A) block rows [i0, i0+mc) × cols [k0, k0+kc) is stored as
 * ceil(mc/MR) micro-panels, each kc steps of MR consecutive values (rows past mc are zero);
 * op(B) block [k0, k0+kc) × [n0, n0+nc) as ceil(nc/NR) micro-panels, each kc steps of NR
 * consecutive values (columns past nc are zero). The micro-kernel then reads both with unit
 * stride whatever the transposes and strides of the caller's matrices were. */
#ifndef NEWT_KERNELS_SGEMM_INTERNAL_H
#define NEWT_KERNELS_SGEMM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define KN_MR 12 /* rows of a micro-tile: 12 × 2 accumulators + 2 B vectors + 1 broadcast */
#define KN_NR 32 /* columns: two 16-float zmm vectors */

/* Thread scratch slots (base/scratch.h): 0-2 the SGEMM's packing buffers, 3 the frozen
 * head's logits tile (kn_xent.c), which calls the SGEMM while it holds it. */
#define KN_SLOT_XENT 3

#if defined(__x86_64__) && defined(__GNUC__)
#define KN_HAVE_X86 1
#define KN_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#else
#define KN_HAVE_X86 0
#define KN_AVX512
/* The OpenBLAS path of kn_sgemm_w (kn_sgemm_blas.c): compact W dequantized a tile at a
 * time into thread scratch, then cblas_sgemm. */
void kn_sgemm_blas_w(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const kn_wsrc *W, float beta, float *C,
                     int64_t ldc);

#endif

/* How C is updated by one K block: the first applies the caller's beta (beta0: C unread),
 * later ones add (beta 1). */
typedef struct {
    float alpha, beta;
    bool beta0;
} kn_cupd;

/* True when kn_sgemm runs the own kernel now (not OpenBLAS): the caller-packed B
 * (kn_bpack) and kn_sgemm_narrow are its only. */
bool kn_sgemm_own(void);

/* True when the CPU runs the AVX-512 kernels (F, VL, BW, DQ and the OS saves zmm state). */
bool kn_sgemm_cpu_ok(void);

void kn_pack_a(const float *A, int64_t lda, kn_trans ta, int64_t i0, int64_t mc, int64_t k0,
               int64_t kc, float *dst);
/* One NR-wide micro-panel of op(W) columns [n0, n0+nr) × rows [k0, k0+kc); tmp: 16·kc floats
 * (transposed compact sources are decoded there first). */
void kn_pack_b_panel(const kn_wsrc *W, kn_trans tb, int64_t k0, int64_t kc, int64_t n0,
                     int64_t nr, float *dst, float *tmp);
/* C[mc, panels p0..p1) update from packed A (mc rows) and packed B panels; nc: valid columns
 * from panel 0 of pb (for the edge mask). */
void kn_macro(const float *pa, const float *pb, int64_t mc, int64_t p0, int64_t p1, int64_t nc,
              int64_t kc, float *C, int64_t ldc, kn_cupd u);

/* op(B) packed once by the caller and reused by many GEMMs (attention packs each head's Kᵀ
 * and Vᵀ once for all its query tiles). Layout: for each of the K blocks the SGEMM would cut
 * (equal blocks of at most its KC), ceil(N/NR) micro-panels of kc × NR; block b starts at
 * float k0(b)·np·NR. kn_sgemm_bpacked then runs exactly the sums kn_sgemm runs (same K
 * blocks, same micro-kernel, same k order): bit-identical results. AVX-512 path only. */
typedef struct {
    const float *p; /* 64-byte aligned */
    int64_t K, N, np, nkb, kc_max;
} kn_bpack;

/* Where op(A)'s nonzeros may be (causal attention): element (i, k) only when
 * i − lo ≤ k ≤ i + hi. The banded products skip the micro-tiles and k steps outside; those
 * terms are exact zeros and change no sum (a sum that starts at +0 never becomes −0, and
 * x + ±0 = x for any other x), so the results keep their bits. KN_BAND_ALL: no skipping. */
typedef struct {
    int64_t lo, hi;
} kn_band;
#define KN_BAND_ALL ((kn_band){INT64_MAX / 4, INT64_MAX / 4})

/* Floats the packed op(B) [K, N] takes. */
size_t kn_bpack_floats(int64_t K, int64_t N);
/* Packs op(B) (B f32, row stride ldb) into dst (64-byte aligned, kn_bpack_floats). K > 0. */
kn_bpack kn_bpack_fill(kn_trans tb, const float *B, int64_t ldb, int64_t K, int64_t N, float *dst);
/* kn_bpack_fill's share `part` of `parts` (a contiguous run of micro-panels): threads that
 * call it with parts = their count and part = their number fill dst together (the returned
 * layout is the same for every part). */
kn_bpack kn_bpack_fill_part(kn_trans tb, const float *B, int64_t ldb, int64_t K, int64_t N,
                            float *dst, int part, int parts);
/* C[M, nc] = alpha·op(A)[M, K]·op(B)[:, n0:n0+nc] + beta·C on the calling thread alone, from
 * the packed panels; n0 a multiple of KN_NR, n0 + nc ≤ N. */
void kn_sgemm_bpacked(kn_trans ta, int64_t M, int64_t n0, int64_t nc, float alpha, const float *A,
                      int64_t lda, const kn_bpack *bp, float beta, float *C, int64_t ldc);
/* kn_sgemm_bpacked for a C needed only on and below a diagonal: C[i][j] with j ≤ i + diag
 * (j counted from n0). With op(A) = A, micro-tiles wholly past it are not computed and their C
 * is left as it was; every other element gets kn_sgemm_bpacked's bits. */
void kn_sgemm_bpacked_lower(kn_trans ta, int64_t M, int64_t n0, int64_t nc, float alpha,
                            const float *A, int64_t lda, const kn_bpack *bp, float beta, float *C,
                            int64_t ldc, int64_t diag);

/* kn_macro with op(A) = A read in place (row-major, k contiguous; A at the block's row 0,
 * column k0) instead of from a packed copy; bitwise the same C. */
void kn_macro_direct(const float *A, int64_t lda, const float *pb, int64_t mc, int64_t p0,
                     int64_t p1, int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u);
/* kn_macro_direct skipping the micro-tiles whose columns all lie past row + diag (C's row and
 * column 0 at the block's start): kn_sgemm_bpacked_lower's inner loop. */
void kn_macro_direct_lower(const float *A, int64_t lda, const float *pb, int64_t mc, int64_t p0,
                           int64_t p1, int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u,
                           int64_t diag);

/* C[mc, nc ≤ 64] update from op(A) (element (i, k) at a[i·ars + k·acs], read in place) and
 * B's rows (b + k·ldb, nc floats each); bitwise what kn_macro gives on packed copies. The kc
 * steps may be one slice of a K block: first starts the sums at 0, last applies u to C, and
 * in between they are kept in part (mc rounded up to 6, × 64 floats, 64-byte aligned). */
void kn_macro_narrow(const float *a, int64_t ars, int64_t acs, int64_t mc, const float *b,
                     int64_t ldb, int64_t nc, int64_t kc, float *C, int64_t ldc, kn_cupd u,
                     float *part, bool first, bool last, kn_band band);

/* B [K, N] as strips of 64 columns for kn_sgemm_narrow_strips: strip s (columns 64·s ..) at
 * dst + s·stride, row k at + 64·k, zeros past N; dst 64-byte aligned, stride ≥ 64·K. */
void kn_strips64_fill(float *dst, int64_t stride, const float *B, int64_t ldb, int64_t K, int64_t N);
/* kn_sgemm_narrow_band with B already in strips (kn_strips64_fill; Bs at row 0 of this
 * product's k): no per-call copy of B's rows. The same bits. */
void kn_sgemm_narrow_strips(kn_trans ta, int64_t M, int64_t N, int64_t K, float alpha,
                            const float *A, int64_t lda, const float *Bs, int64_t bs_stride,
                            float beta, float *C, int64_t ldc, kn_band band);

/* dst[k·64 + j] = src[k·lds + j] for j < nc ≤ 64, zeros to 64; dst 64-byte aligned. */
void kn_rows64_copy(float *dst, const float *src, int64_t lds, int64_t rows, int64_t nc);

/* C[M, N] = alpha·op(A)[M, K]·B[K, N] + beta·C, B plain (not transposed), on the calling
 * thread alone, nothing packed: op(A) and B are read in place, 64 columns of C at a time.
 * For attention's products with the head dimension as N (P·V, dS·K, dSᵀ·Q, Pᵀ·dO), whose
 * packing transposes cost as much as a fifth of their FMAs. Same K blocks and FMA order as
 * kn_sgemm: bit-identical results. AVX-512 path only. */
void kn_sgemm_narrow(kn_trans ta, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* kn_sgemm_narrow with op(A) zero outside `band`: the same bits, the zero terms skipped
 * (causal attention: P·V and dS·K are lower, dSᵀ·Q and Pᵀ·dO upper). */
void kn_sgemm_narrow_band(kn_trans ta, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc, kn_band band);

/* dst[0..n) = W[r][c0 .. c0+n) in f32, any storage kind; bit-identical to tensor/'s
 * dequantization (kn_sgemm_pack_q.c). avx512: use the AVX-512 decoders. */
void kn_w_row_seg(const kn_wsrc *W, int64_t r, int64_t c0, int64_t n, float *dst, bool avx512);

/* The OpenBLAS path of kn_sgemm_w (kn_sgemm_blas.c): compact W dequantized a tile at a
 * time into thread scratch, then cblas_sgemm. */
void kn_sgemm_blas_w(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const kn_wsrc *W, float beta, float *C,
                     int64_t ldc);

#endif
