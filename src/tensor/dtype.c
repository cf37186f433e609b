/* dtype names and sizes: one table, so the three spellings can never drift apart. */
#include "tensor/dtype.h"

#include <string.h>

typedef struct {
    const char *name, *st, *torch;
    int bits;
} dtype_info;

static const dtype_info k_info[TN_DTYPE_COUNT] = {
    [TN_F32] = {"f32", "F32", "float32", 32},
    [TN_F64] = {"f64", "F64", "float64", 64},
    [TN_F16] = {"f16", "F16", "float16", 16},
    [TN_BF16] = {"bf16", "BF16", "bfloat16", 16},
    [TN_F8_E4M3] = {"f8_e4m3", "F8_E4M3", "float8_e4m3fn", 8},
    [TN_I64] = {"i64", "I64", "int64", 64},
    [TN_I32] = {"i32", "I32", "int32", 32},
    [TN_I16] = {"i16", "I16", "int16", 16},
    [TN_I8] = {"i8", "I8", "int8", 8},
    [TN_U8] = {"u8", "U8", "uint8", 8},
    [TN_BOOL] = {"bool", "BOOL", "bool", 8},
    [TN_NF4] = {"nf4", NULL, "nf4", 4},
};

/* safetensors dtypes that exist but newt does not handle. */
static const char *const k_st_unsupported[] = {"F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2",
                                               "F4",      "U16",     "U32",     "U64",
                                               "C64",     NULL};

bool tn_dtype_valid(tn_dtype dt) { return (unsigned)dt < TN_DTYPE_COUNT; }

const char *tn_dtype_name(tn_dtype dt) { return tn_dtype_valid(dt) ? k_info[dt].name : "?"; }

const char *tn_dtype_st_name(tn_dtype dt) { return tn_dtype_valid(dt) ? k_info[dt].st : NULL; }

const char *tn_dtype_torch_name(tn_dtype dt) {
    return tn_dtype_valid(dt) ? k_info[dt].torch : "?";
}

nt_status tn_dtype_from_name(const char *s, tn_dtype *out, nt_err *err) {
    for (int i = 0; s && i < TN_DTYPE_COUNT; i++) {
        if (strcmp(s, k_info[i].name) == 0 || strcmp(s, k_info[i].torch) == 0) {
            *out = (tn_dtype)i;
            return NT_OK;
        }
    }
    return nt_err_set(err, NT_EINVAL, "unknown dtype '%s' (expected f32, f64, f16, bf16, "
                      "f8_e4m3, i64, i32, i16, i8, u8, bool or nf4)", s ? s : "(null)");
}

nt_status tn_dtype_from_st(const char *s, tn_dtype *out, nt_err *err) {
    for (int i = 0; s && i < TN_DTYPE_COUNT; i++) {
        if (k_info[i].st && strcmp(s, k_info[i].st) == 0) {
            *out = (tn_dtype)i;
            return NT_OK;
        }
    }
    for (int i = 0; s && k_st_unsupported[i]; i++)
        if (strcmp(s, k_st_unsupported[i]) == 0)
            return nt_err_set(err, NT_EUNSUPPORTED, "safetensors dtype '%s' is not supported", s);
    return nt_err_set(err, NT_EPARSE, "unknown safetensors dtype '%s'", s ? s : "(null)");
}

int tn_dtype_bits(tn_dtype dt) { return tn_dtype_valid(dt) ? k_info[dt].bits : 0; }

size_t tn_dtype_nbytes(tn_dtype dt, size_t n) {
    size_t bits = (size_t)tn_dtype_bits(dt);
    return bits == 4 ? n / 2 + (n & 1) : n * (bits / 8);
}

bool tn_dtype_is_float(tn_dtype dt) {
    return dt == TN_F32 || dt == TN_F64 || dt == TN_F16 || dt == TN_BF16 || dt == TN_F8_E4M3;
}
