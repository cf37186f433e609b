/* NF4 quantization and dequantization (bitsandbytes layout; see nf4.h and spec §3.1-3.4).
 * The quant_state JSON is in nf4_state.c. f32 products and sums are never fused (ISO C mode
 * compiles with -ffp-contract=off): bnb rounds the product and the offset add separately. */
#include "tensor/nf4.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/convert.h"
#include "tensor/qmap.h"
#include "tensor/simd.h"

/* Spec §3.1 values (bit patterns bf800000 ... 3f800000 as exact hex floats). */
const float tn_nf4_code[16] = {
    -0x1p+0f,        -0x1.647362p-1f, -0x1.0cd66p-1f,  -0x1.94654p-2f,
    -0x1.23449ap-2f, -0x1.7a6a7ep-3f, -0x1.74f0e2p-4f, 0.0f,
    0x1.45f5fep-4f,  0x1.4995c6p-3f,  0x1.f809bap-3f,  0x1.5a0674p-2f,
    0x1.c3497p-2f,   0x1.200f56p-1f,  0x1.722766p-1f,  0x1p+0f,
};

/* Spec §3.2: f32 midpoints of adjacent code values (bf591cd8 ... 3f5c89da). */
const float tn_nf4_thresholds[15] = {
    -0x1.b239bp-1f,  -0x1.38a4ep-1f,  -0x1.d709p-2f,   -0x1.5bd4ecp-2f, -0x1.e079d8p-3f,
    -0x1.1a7178p-3f, -0x1.74f0e2p-5f, 0x1.45f5fep-5f,  0x1.ec90c4p-4f,  0x1.a0cfcp-3f,
    0x1.2b05a8p-2f,  0x1.8ea7f2p-2f,  0x1.00da08p-1f,  0x1.491b5ep-1f,  0x1.b913b4p-1f,
};

uint8_t tn_nf4_code_of(float xs) {
    int q = 0; /* NaN compares false everywhere: code 0 */
    for (int i = 0; i < 15; i++) q += xs > tn_nf4_thresholds[i];
    return (uint8_t)q;
}

static nt_status check_args(tn_dtype dt, const int64_t *shape, int ndim, size_t blocksize,
                            size_t *n, nt_err *err) {
    if (dt != TN_F32 && dt != TN_BF16 && dt != TN_F16)
        return nt_err_set(err, NT_EUNSUPPORTED, "NF4: cannot quantize %s data (f32, bf16, f16)",
                          tn_dtype_name(dt));
    if (blocksize < 64 || blocksize > 4096 || (blocksize & (blocksize - 1)))
        return nt_err_set(err, NT_EINVAL, "NF4: blocksize %zu is not a power of two in 64..4096",
                          blocksize);
    if (ndim < 1 || ndim > TN_NF4_MAX_DIMS)
        return nt_err_set(err, NT_EINVAL, "NF4: %d dimensions (1..%d supported)", ndim,
                          TN_NF4_MAX_DIMS);
    *n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0 || (uint64_t)shape[d] > ((uint64_t)1 << 40) / *n)
            return nt_err_set(err, NT_EINVAL, "NF4: bad shape (dimension %d is %lld)", d,
                              (long long)shape[d]);
        *n *= (size_t)shape[d];
    }
    return NT_OK;
}

/* One block: absmax (NaNs ignored, as CUDA fmaxf) and the packed codes. blocksize is even,
 * so a block starts on a byte boundary; x holds the block as f32. */
static float quantize_block(const float *x, size_t len, uint8_t *packed, bool simd) {
    uint8_t q[4096];
    float amax = 0.0f;
    if (simd) {
        amax = tn_absmax_avx2(x, len);
    } else {
        for (size_t i = 0; i < len; i++) amax = fmaxf(amax, fabsf(x[i]));
    }
    float inv = 1.0f / amax; /* 0 -> inf; 0 * inf = NaN -> code 0 -> dequantizes to -0 */
    if (simd) {
        tn_nf4_codes_avx2(x, len, inv, tn_nf4_thresholds, q);
    } else {
        for (size_t i = 0; i < len; i++) q[i] = tn_nf4_code_of(x[i] * inv);
    }
    for (size_t i = 0; i < len; i += 2)
        packed[i / 2] = (uint8_t)(q[i] << 4 | (i + 1 < len ? q[i + 1] : 0));
    return amax;
}

static nt_status quantize_blocks(tn_dtype dt, const void *src, tn_nf4 *qt) {
    size_t esz = tn_dtype_nbytes(dt, 1);
    long long nb = (long long)qt->nblocks;
    bool simd = tn_simd_avx2();
#pragma omp parallel for schedule(static)
    for (long long b = 0; b < nb; b++) {
        float x[4096];
        size_t start = (size_t)b * qt->blocksize;
        size_t len = qt->n - start < qt->blocksize ? qt->n - start : qt->blocksize;
        tn_to_f32(dt, (const char *)src + start * esz, x, len, NULL); /* dt checked */
        qt->absmax[b] = quantize_block(x, len, qt->packed + start / 2, simd);
    }
    return NT_OK;
}

/* Double quantization of qt->absmax (spec §3.4); frees the f32 absmax afterwards. The mean is
 * summed in double, left to right, then rounded once to f32 (torch's GPU reduction order is
 * unspecified; the stored offset is what readers use). */
static nt_status double_quantize(tn_nf4 *qt, nt_err *err) {
    size_t nb = qt->nblocks, nn = (nb + TN_NF4_NESTED_BLOCKSIZE - 1) / TN_NF4_NESTED_BLOCKSIZE;
    double sum = 0.0;
    for (size_t b = 0; b < nb; b++) sum += qt->absmax[b];
    float offset = (float)(sum / (double)nb);
    qt->absmax_q = malloc(nb);
    qt->nested_absmax = malloc(nn * sizeof(float));
    if (!qt->absmax_q || !qt->nested_absmax)
        return nt_err_set(err, NT_ENOMEM, "NF4: out of memory for %zu absmax codes", nb);
    for (size_t b = 0; b < nb; b++) qt->absmax[b] -= offset;
    tn_qmap_dynamic(true, qt->nested_quant_map);
    tn_qmap_quantize_blockwise(qt->nested_quant_map, qt->absmax, nb, TN_NF4_NESTED_BLOCKSIZE,
                               qt->absmax_q, qt->nested_absmax);
    free(qt->absmax);
    qt->absmax = NULL;
    qt->double_quant = true;
    qt->nested_blocksize = TN_NF4_NESTED_BLOCKSIZE;
    qt->nnested = nn;
    qt->nested_offset = offset;
    return NT_OK;
}

nt_status tn_nf4_quantize(tn_dtype src_dt, const void *src, const int64_t *shape, int ndim,
                          size_t blocksize, bool double_quant, tn_nf4 *qt, nt_err *err) {
    size_t n = 0;
    memset(qt, 0, sizeof *qt);
    nt_status st = check_args(src_dt, shape, ndim, blocksize, &n, err);
    if (st) return st;
    qt->ndim = ndim;
    memcpy(qt->shape, shape, (size_t)ndim * sizeof(int64_t));
    qt->n = n;
    qt->blocksize = blocksize;
    qt->nblocks = (n + blocksize - 1) / blocksize;
    qt->dtype = src_dt;
    qt->owns_data = true;
    memcpy(qt->quant_map, tn_nf4_code, sizeof qt->quant_map);
    qt->packed = malloc(n / 2 + (n & 1));
    qt->absmax = malloc(qt->nblocks * sizeof(float));
    if (!qt->packed || !qt->absmax) {
        tn_nf4_free(qt);
        return nt_err_set(err, NT_ENOMEM, "NF4: out of memory for %zu elements", n);
    }
    st = quantize_blocks(src_dt, src, qt);
    if (!st && double_quant) st = double_quantize(qt, err);
    if (st) tn_nf4_free(qt);
    return st;
}

float tn_nf4_block_absmax(const tn_nf4 *qt, size_t b) {
    if (!qt->double_quant) return qt->absmax[b];
    float scaled = qt->nested_quant_map[qt->absmax_q[b]] * qt->nested_absmax[b / qt->nested_blocksize];
    return scaled + qt->nested_offset;
}

/* Elements [start, start+count) that all lie in block b: one scaled table, then nibbles. */
static void dequant_in_block(const tn_nf4 *qt, size_t b, size_t start, size_t count, float *dst,
                             bool simd) {
    float lut[16], amax = tn_nf4_block_absmax(qt, b);
    for (int k = 0; k < 16; k++) lut[k] = qt->quant_map[k] * amax;
    const uint8_t *p = qt->packed;
    size_t i = start, end = start + count;
    if (i < end && (i & 1)) *dst++ = lut[p[i++ / 2] & 15];
    size_t nbytes = (end - i) / 2;
    if (simd) {
        tn_nibbles_lut_avx2(p + i / 2, lut, dst, nbytes);
    } else {
        for (size_t j = 0; j < nbytes; j++) {
            dst[2 * j] = lut[p[i / 2 + j] >> 4];
            dst[2 * j + 1] = lut[p[i / 2 + j] & 15];
        }
    }
    dst += 2 * nbytes;
    i += 2 * nbytes;
    if (i < end) *dst = lut[p[i / 2] >> 4];
}

void tn_nf4_dequant(const tn_nf4 *qt, size_t start, size_t count, float *dst) {
    size_t i = start, end = start + count;
    bool simd = tn_simd_avx2();
    while (i < end) {
        size_t b = i / qt->blocksize, bend = (b + 1) * qt->blocksize;
        size_t len = (bend < end ? bend : end) - i;
        dequant_in_block(qt, b, i, len, dst, simd);
        dst += len;
        i += len;
    }
}

void tn_nf4_dequant_rows(const tn_nf4 *qt, size_t row0, size_t nrows, float *dst) {
    size_t cols = (size_t)qt->shape[qt->ndim - 1];
    tn_nf4_dequant(qt, row0 * cols, nrows * cols, dst);
}

double tn_nf4_bits_per_param(const tn_nf4 *qt) {
    double bits = 4.0 * (double)qt->n;
    if (qt->double_quant) bits += 8.0 * (double)qt->nblocks + 32.0 * (double)qt->nnested;
    else bits += 32.0 * (double)qt->nblocks;
    return bits / (double)qt->n;
}

void tn_nf4_free(tn_nf4 *qt) {
    if (qt->owns_data) {
        free(qt->packed);
        free(qt->absmax);
        free(qt->absmax_q);
        free(qt->nested_absmax);
    }
    memset(qt, 0, sizeof *qt);
}
