/* Element types of tensors: names, safetensors dtype strings, sizes.
 *
 * Three spellings per dtype:
 *   name        newt's own, lower case ("f32", "bf16", "f8_e4m3", "nf4") — configs, logs;
 *   st name     the safetensors header string ("F32", "BF16", "F8_E4M3"); NF4 has none
 *               (bitsandbytes stores packed NF4 as U8, see nf4.h);
 *   torch name  what torch / bitsandbytes write in JSON ("float32", "bfloat16",
 *               "float8_e4m3fn"), e.g. quant_state's "dtype" key.
 * NF4 is 4 bits per element, two per byte; every other dtype is a whole number of bytes. */
#ifndef NEWT_TENSOR_DTYPE_H
#define NEWT_TENSOR_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum {
    TN_F32,
    TN_F64,
    TN_F16,
    TN_BF16,
    TN_F8_E4M3, /* "fn" variant: no infinities, 0x7f/0xff NaN, max 448 */
    TN_I64,
    TN_I32,
    TN_I16,
    TN_I8,
    TN_U8,
    TN_BOOL,
    TN_NF4, /* bitsandbytes NormalFloat4, packed 2 per byte (high nibble first) */
    TN_DTYPE_COUNT
} tn_dtype;

/* newt's name ("f32", ...); "?" for an out-of-range value. */
const char *tn_dtype_name(tn_dtype dt);
/* safetensors string ("F32", ...); NULL for NF4 (no safetensors dtype). */
const char *tn_dtype_st_name(tn_dtype dt);
/* torch name ("float32", "bfloat16", "float8_e4m3fn", "uint8", "bool"); "nf4" for NF4. */
const char *tn_dtype_torch_name(tn_dtype dt);

/* Parse newt's name; also accepts the torch name. Errors name the string. */
nt_status tn_dtype_from_name(const char *s, tn_dtype *out, nt_err *err);
/* Parse a safetensors dtype string (exact, upper case). Known-but-unsupported strings
 * (F8_E5M2, U16, U32, U64, C64, ...) give NT_EUNSUPPORTED, anything else NT_EPARSE. */
nt_status tn_dtype_from_st(const char *s, tn_dtype *out, nt_err *err);

/* Bits per element: 32, 64, 16, 16, 8, 64, 32, 16, 8, 8, 8 (bool is a byte), 4. */
int tn_dtype_bits(tn_dtype dt);
/* Bytes needed for n elements (rounded up: 3 NF4 elements take 2 bytes). */
size_t tn_dtype_nbytes(tn_dtype dt, size_t n);
bool tn_dtype_is_float(tn_dtype dt); /* F32 F64 F16 BF16 F8_E4M3 (not NF4) */
bool tn_dtype_valid(tn_dtype dt);

#endif
