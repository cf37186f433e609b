/* NF4 ("NormalFloat4") exactly as bitsandbytes stores it (spec formats.md §3), so QLoRA bases
 * and prequantized checkpoints round-trip bit for bit.
 *
 *   quantize   row-major flattened tensor (a 3-D expert tensor whole) in blocks of `blocksize`
 *              (64), the last one partial; absmax[b] = max|x| in f32; xs = x * (1/absmax);
 *              code = number of thresholds t_i < xs (strict; NaN and all-zero blocks -> 0).
 *   pack       element 2j in the HIGH nibble, 2j+1 in the low one; odd count: last low = 0.
 *   dequantize w = quant_map[q] * absmax[b], one f32 product.
 *   double quant (bnb_4bit_use_double_quant): offset = mean(absmax); absmax - offset is
 *              8-bit quantized in blocks of 256 with the signed dynamic map (qmap.h); then
 *              absmax[b] = nested_quant_map[absmax_q[b]] * nested_absmax[b/256] + offset.
 *
 * Storage per parameter: 4 bits + 32/64 bits of absmax (4.5 bits), or with double quant
 * 4 + 8/64 + 32/(64*256) = 4.1270 bits, plus fixed tables (16 + 256 floats) per tensor.
 *
 * The struct mirrors the checkpoint tensors of §3.6 (X.weight, X.weight.absmax,
 * X.weight.quant_map, X.weight.nested_absmax, X.weight.nested_quant_map, and the JSON of
 * X.weight.quant_state.bitsandbytes__nf4), so a loader can fill it from a file (owns_data =
 * false for mmapped arrays) and always uses the stored maps, never the built-in tables. */
#ifndef NEWT_TENSOR_NF4_H
#define NEWT_TENSOR_NF4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "tensor/dtype.h"

#define TN_NF4_BLOCKSIZE 64         /* bnb default on CUDA */
#define TN_NF4_NESTED_BLOCKSIZE 256 /* double-quant block */
#define TN_NF4_MAX_DIMS 4

/* The 16 NF4 values (bit-exact, spec §3.1) and the 15 f32 midpoints between them (§3.2). */
extern const float tn_nf4_code[16];
extern const float tn_nf4_thresholds[15];

typedef struct {
    int ndim;
    int64_t shape[TN_NF4_MAX_DIMS]; /* original (unquantized) shape */
    size_t n;                       /* elements */
    size_t blocksize, nblocks;      /* nblocks = ceil(n / blocksize) */
    tn_dtype dtype;                 /* original dtype (quant_state "dtype"): BF16, F16, F32 */
    uint8_t *packed;                /* ceil(n/2) bytes, high nibble first */
    float quant_map[16];
    bool double_quant;
    float *absmax;                  /* [nblocks] f32; NULL when double_quant */
    uint8_t *absmax_q;              /* [nblocks] 8-bit codes (double_quant) */
    float *nested_absmax;           /* [nnested] (double_quant) */
    size_t nested_blocksize, nnested;
    float nested_quant_map[256];
    float nested_offset;
    bool owns_data;                 /* tn_nf4_free frees the arrays */
} tn_nf4;

/* NF4 code of one scaled value xs = x / absmax. */
uint8_t tn_nf4_code_of(float xs);

/* Quantizes n = prod(shape) elements of src (dtype F32, BF16 or F16, row-major). blocksize must
 * be a power of two in 64..4096. qt->dtype is set to src_dt; a caller that quantizes an f32
 * copy of a bf16 weight sets qt->dtype = TN_BF16 afterwards (it only affects the JSON). */
nt_status tn_nf4_quantize(tn_dtype src_dt, const void *src, const int64_t *shape, int ndim,
                          size_t blocksize, bool double_quant, tn_nf4 *qt, nt_err *err);

/* The f32 absmax of block b (dequantizing the 8-bit code under double quant). */
float tn_nf4_block_absmax(const tn_nf4 *qt, size_t b);

/* dst[i] = w[start + i] for i < count (flattened element indices; any alignment). */
void tn_nf4_dequant(const tn_nf4 *qt, size_t start, size_t count, float *dst);

/* Rows row0 .. row0+nrows of the tensor viewed as [n / cols, cols] with cols = last dim:
 * the tile a GEMM needs, nrows*cols floats. Rows must exist. */
void tn_nf4_dequant_rows(const tn_nf4 *qt, size_t row0, size_t nrows, float *dst);

/* The X.weight.quant_state.bitsandbytes__nf4 bytes: Python json.dumps of bnb's dict, key
 * order and float repr exact. Fresh heap string (nt_xmalloc); *len (optional) its length. */
char *tn_nf4_quant_state_json(const tn_nf4 *qt, size_t *len);

/* Reads quant_state JSON (the bytes of X.weight.quant_state.bitsandbytes__nf4) into qt's
 * metadata: ndim, shape, n, blocksize, nblocks, dtype, double_quant, nested_blocksize, nnested,
 * nested_offset. Arrays and maps are left NULL/zero for the loader to attach. Errors name the
 * key at fault; FP4 states are NT_EUNSUPPORTED. */
nt_status tn_nf4_parse_quant_state(const char *json, size_t len, tn_nf4 *qt, nt_err *err);

/* Storage bits per parameter (packed nibbles + absmax / codes + nested absmax, tables not
 * counted): 4.5 for blocksize 64, 4.127 with double quant. */
double tn_nf4_bits_per_param(const tn_nf4 *qt);

/* Frees owned arrays and zeroes the struct (safe on a zeroed struct). */
void tn_nf4_free(tn_nf4 *qt);

#endif
