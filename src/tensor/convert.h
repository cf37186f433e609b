/* Whole-row conversions. Each has a portable loop and, on x86-64 CPUs with AVX2 (+F16C for
 * f16), an intrinsics path chosen at run time; both give bit-identical results (tested
 * exhaustively over every 8/16-bit input). Element-wise semantics are those of fp.h.
 * src and dst must not overlap. */
#ifndef NEWT_TENSOR_CONVERT_H
#define NEWT_TENSOR_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "tensor/dtype.h"

/* dst[i] = f32(src[i]) for every dtype except NF4 (which needs its absmax: see nf4.h).
 * Float types convert exactly (f64 rounds to nearest), integers as C casts, bool as 0/1. */
nt_status tn_to_f32(tn_dtype dt, const void *src, float *dst, size_t n, nt_err *err);

/* dst[i] = dt(src[i]) for float dtypes F32, F64, F16, BF16, F8_E4M3 (torch cast semantics). */
nt_status tn_from_f32(tn_dtype dt, const float *src, void *dst, size_t n, nt_err *err);

/* FP8 weight dequantization: dst[i] = f32(src[i]) * scale, the product rounded once in f32
 * (W = fp8 · weight_scale_inv, per-tensor scale). */
void tn_fp8_dequant(const uint8_t *src, float scale, float *dst, size_t n);

/* Rows row0 .. row0+nrows of a row-major FP8 tensor viewed as [nslices, rows_per_slice, cols]
 * with one scale per slice (fused experts: gate_up_proj_scale_inv is [E,1,1], so slice = expert;
 * a per-tensor scale is nslices=1). Writes nrows*cols floats to dst. The caller guarantees the
 * rows exist and the slice index (row / rows_per_slice) is < the number of scales. */
void tn_fp8_dequant_rows(const uint8_t *src, size_t cols, size_t rows_per_slice,
                         const float *scales, size_t row0, size_t nrows, float *dst);

/* Which implementation the dispatchers pick on this CPU: "avx2" or "portable". */
const char *tn_convert_impl(void);

/* The portable loops, exposed so tests and the benchmark can compare them with the
 * dispatched paths. */
void tn_bf16_to_f32_row_portable(const uint16_t *src, float *dst, size_t n);
void tn_f16_to_f32_row_portable(const uint16_t *src, float *dst, size_t n);
void tn_f8e4m3_scaled_to_f32_portable(const uint8_t *src, float scale, float *dst, size_t n);
void tn_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void tn_f16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void tn_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n);
void tn_f32_to_f16_row(const float *src, uint16_t *dst, size_t n);

#endif
