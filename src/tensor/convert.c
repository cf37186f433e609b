/* Row conversions: portable loops (simple enough for gcc to vectorize where it can) and the
 * dispatch to the AVX2 kernels of simd_x86.c. */
#include "tensor/convert.h"

#include "tensor/fp.h"
#include "tensor/simd.h"

void tn_bf16_to_f32_row_portable(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = tn_bf16_to_f32(src[i]);
}

void tn_f16_to_f32_row_portable(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = tn_f16_to_f32(src[i]);
}

void tn_f8e4m3_scaled_to_f32_portable(const uint8_t *src, float scale, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = tn_f8e4m3_to_f32(src[i]) * scale;
}

const char *tn_convert_impl(void) { return tn_simd_avx2() ? "avx2" : "portable"; }

void tn_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n) {
    if (tn_simd_avx2()) tn_bf16_to_f32_avx2(src, dst, n);
    else tn_bf16_to_f32_row_portable(src, dst, n);
}

void tn_f16_to_f32_row(const uint16_t *src, float *dst, size_t n) {
    if (tn_simd_avx2()) tn_f16_to_f32_avx2(src, dst, n);
    else tn_f16_to_f32_row_portable(src, dst, n);
}

void tn_fp8_dequant(const uint8_t *src, float scale, float *dst, size_t n) {
    if (tn_simd_avx2()) tn_f8e4m3_scaled_to_f32_avx2(src, scale, dst, n);
    else tn_f8e4m3_scaled_to_f32_portable(src, scale, dst, n);
}

void tn_fp8_dequant_rows(const uint8_t *src, size_t cols, size_t rows_per_slice,
                         const float *scales, size_t row0, size_t nrows, float *dst) {
    size_t r = 0;
    while (r < nrows) {
        size_t row = row0 + r, slice = row / rows_per_slice;
        size_t run = (slice + 1) * rows_per_slice - row; /* rows left in this slice */
        if (run > nrows - r) run = nrows - r;
        tn_fp8_dequant(src + row * cols, scales[slice], dst + r * cols, run * cols);
        r += run;
    }
}

void tn_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = tn_f32_to_bf16(src[i]);
}

void tn_f32_to_f16_row(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = tn_f32_to_f16(src[i]);
}

/* Integer and bool sources: plain C conversions (int64 -> f32 rounds to nearest). */
#define TN_CAST_LOOP(T)                                            \
    do {                                                           \
        const T *s_ = (const T *)src;                              \
        for (size_t i = 0; i < n; i++) dst[i] = (float)s_[i];      \
    } while (0)

nt_status tn_to_f32(tn_dtype dt, const void *src, float *dst, size_t n, nt_err *err) {
    switch (dt) {
    case TN_F32: memmove(dst, src, n * sizeof(float)); return NT_OK;
    case TN_F64: TN_CAST_LOOP(double); return NT_OK;
    case TN_F16: tn_f16_to_f32_row((const uint16_t *)src, dst, n); return NT_OK;
    case TN_BF16: tn_bf16_to_f32_row((const uint16_t *)src, dst, n); return NT_OK;
    case TN_F8_E4M3: tn_fp8_dequant((const uint8_t *)src, 1.0f, dst, n); return NT_OK;
    case TN_I64: TN_CAST_LOOP(int64_t); return NT_OK;
    case TN_I32: TN_CAST_LOOP(int32_t); return NT_OK;
    case TN_I16: TN_CAST_LOOP(int16_t); return NT_OK;
    case TN_I8: TN_CAST_LOOP(int8_t); return NT_OK;
    case TN_U8: TN_CAST_LOOP(uint8_t); return NT_OK;
    case TN_BOOL: {
        const uint8_t *s = (const uint8_t *)src;
        for (size_t i = 0; i < n; i++) dst[i] = s[i] ? 1.0f : 0.0f;
        return NT_OK;
    }
    default:
        return nt_err_set(err, NT_EUNSUPPORTED, "cannot convert %s to f32 without its "
                          "quantization state", tn_dtype_name(dt));
    }
}

nt_status tn_from_f32(tn_dtype dt, const float *src, void *dst, size_t n, nt_err *err) {
    switch (dt) {
    case TN_F32: memmove(dst, src, n * sizeof(float)); return NT_OK;
    case TN_F64: {
        double *d = (double *)dst;
        for (size_t i = 0; i < n; i++) d[i] = (double)src[i];
        return NT_OK;
    }
    case TN_F16: tn_f32_to_f16_row(src, (uint16_t *)dst, n); return NT_OK;
    case TN_BF16: tn_f32_to_bf16_row(src, (uint16_t *)dst, n); return NT_OK;
    case TN_F8_E4M3: {
        uint8_t *d = (uint8_t *)dst;
        for (size_t i = 0; i < n; i++) d[i] = tn_f32_to_f8e4m3(src[i]);
        return NT_OK;
    }
    default:
        return nt_err_set(err, NT_EUNSUPPORTED, "conversion from f32 to %s is not supported",
                          tn_dtype_name(dt));
    }
}
