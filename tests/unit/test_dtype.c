/* dtypes and scalar/row conversions (src/tensor/dtype.h, fp.h, convert.h).
 * Expected values are hand-derived (comments show the arithmetic) or come from the
 * independent Python reference tests/unit/oracles/dtype_ref.py (exact rationals, struct). */
#include <stdint.h>

#include "test.h"
#include "py_oracle.h"
#include "tensor/convert.h"
#include "tensor/dtype.h"
#include "tensor/fp.h"

static float fb(uint32_t u) { return tn_f32_from_bits(u); }

TEST(dtype_names_roundtrip) {
    static const struct { tn_dtype dt; const char *name, *st, *torch; int bits; } k[] = {
        {TN_F32, "f32", "F32", "float32", 32},       {TN_F64, "f64", "F64", "float64", 64},
        {TN_F16, "f16", "F16", "float16", 16},       {TN_BF16, "bf16", "BF16", "bfloat16", 16},
        {TN_F8_E4M3, "f8_e4m3", "F8_E4M3", "float8_e4m3fn", 8},
        {TN_I64, "i64", "I64", "int64", 64},         {TN_I32, "i32", "I32", "int32", 32},
        {TN_I16, "i16", "I16", "int16", 16},         {TN_I8, "i8", "I8", "int8", 8},
        {TN_U8, "u8", "U8", "uint8", 8},             {TN_BOOL, "bool", "BOOL", "bool", 8},
        {TN_NF4, "nf4", NULL, "nf4", 4},
    };
    CHECK_EQ_INT(sizeof k / sizeof k[0], TN_DTYPE_COUNT);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        tn_dtype dt = TN_DTYPE_COUNT;
        CHECK_EQ_STR(tn_dtype_name(k[i].dt), k[i].name);
        CHECK_EQ_STR(tn_dtype_torch_name(k[i].dt), k[i].torch);
        CHECK_EQ_INT(tn_dtype_bits(k[i].dt), k[i].bits);
        CHECK_EQ_INT(tn_dtype_from_name(k[i].name, &dt, NULL), NT_OK);
        CHECK_EQ_INT(dt, k[i].dt);
        dt = TN_DTYPE_COUNT;
        CHECK_EQ_INT(tn_dtype_from_name(k[i].torch, &dt, NULL), NT_OK);
        CHECK_EQ_INT(dt, k[i].dt);
        if (k[i].st) {
            CHECK_EQ_STR(tn_dtype_st_name(k[i].dt), k[i].st);
            dt = TN_DTYPE_COUNT;
            CHECK_EQ_INT(tn_dtype_from_st(k[i].st, &dt, NULL), NT_OK);
            CHECK_EQ_INT(dt, k[i].dt);
        } else {
            CHECK(tn_dtype_st_name(k[i].dt) == NULL);
        }
    }
    CHECK_EQ_STR(tn_dtype_name((tn_dtype)99), "?");
    CHECK(tn_dtype_is_float(TN_BF16) && tn_dtype_is_float(TN_F8_E4M3));
    CHECK(!tn_dtype_is_float(TN_NF4) && !tn_dtype_is_float(TN_U8));
}

TEST(dtype_sizes) {
    CHECK_EQ_INT(tn_dtype_nbytes(TN_BF16, 10), 20);
    CHECK_EQ_INT(tn_dtype_nbytes(TN_F8_E4M3, 10), 10);
    CHECK_EQ_INT(tn_dtype_nbytes(TN_I64, 3), 24);
    CHECK_EQ_INT(tn_dtype_nbytes(TN_BOOL, 3), 3);
    CHECK_EQ_INT(tn_dtype_nbytes(TN_NF4, 4), 2);
    CHECK_EQ_INT(tn_dtype_nbytes(TN_NF4, 3), 2); /* odd count: last low nibble is padding */
    CHECK_EQ_INT(tn_dtype_nbytes(TN_NF4, 0), 0);
}

TEST(dtype_parse_errors) {
    nt_err err = {0};
    tn_dtype dt;
    CHECK_EQ_INT(tn_dtype_from_st("F8_E5M2", &dt, &err), NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "F8_E5M2");
    CHECK_EQ_INT(tn_dtype_from_st("f32", &dt, &err), NT_EPARSE); /* safetensors is upper case */
    CHECK_CONTAINS(err.msg, "'f32'");
    CHECK_EQ_INT(tn_dtype_from_st("", &dt, &err), NT_EPARSE);
    CHECK_EQ_INT(tn_dtype_from_name("float8", &dt, &err), NT_EINVAL);
    CHECK_CONTAINS(err.msg, "float8");
    CHECK_EQ_INT(tn_dtype_from_name(NULL, &dt, &err), NT_EINVAL);
}

/* f32 bits -> expected bf16 bits. */
TEST(bf16_rounding_cases) {
    static const uint32_t k[][2] = {
        {0x3f800000, 0x3f80}, /* 1.0 exact */
        {0x3f808000, 0x3f80}, /* 1 + 2^-8: tie, 0x3f80 is even -> stays */
        {0x3f818000, 0x3f82}, /* tie between 0x3f81 (odd) and 0x3f82 -> even */
        {0x3f808001, 0x3f81}, /* just above the tie -> up */
        {0x3f807fff, 0x3f80}, /* just below the tie -> down */
        {0x3fff8000, 0x4000}, /* tie, 0x3fff odd -> carries into the exponent: 2.0 */
        {0x7f7f7fff, 0x7f7f}, /* below half an ulp under max: stays finite */
        {0x7f7fffff, 0x7f80}, /* f32 max rounds past bf16 max -> +inf */
        {0xff7fffff, 0xff80}, /* ... and -inf */
        {0x7f800000, 0x7f80}, {0xff800000, 0xff80},       /* infinities */
        {0x7fc00000, 0x7fc0}, {0xffc00001, 0x7fc0},       /* NaN -> canonical quiet NaN */
        {0x7f800001, 0x7fc0}, /* signalling NaN with a low payload must not become inf */
        {0x00000001, 0x0000}, /* tiny subnormal -> +0 */
        {0x00008000, 0x0000}, /* subnormal tie -> even (0) */
        {0x00018000, 0x0002}, /* subnormal tie between 1 and 2 -> 2 */
        {0x00010000, 0x0001}, /* smallest bf16 subnormal, exact */
        {0x807fffff, 0x8080}, /* largest f32 subnormal rounds up to -min normal */
        {0x80000000, 0x8000}, /* -0 */
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        CHECK_MSG(tn_f32_to_bf16(fb(k[i][0])) == k[i][1], "%08x -> %04x, want %04x",
                  k[i][0], tn_f32_to_bf16(fb(k[i][0])), k[i][1]);
    CHECK_EQ_INT(tn_f32_bits(tn_bf16_to_f32(0x3f80)), 0x3f800000);
    CHECK_EQ_INT(tn_f32_bits(tn_bf16_to_f32(0x0001)), 0x00010000); /* subnormal kept */
    CHECK_EQ_INT(tn_f32_bits(tn_bf16_to_f32(0xff80)), 0xff800000);
    CHECK_EQ_INT(tn_f32_bits(tn_bf16_to_f32(0x7fc1)), 0x7fc10000); /* NaN payload kept */
}

TEST(f16_rounding_cases) {
    static const uint32_t k[][2] = {
        {0x3f800000, 0x3c00}, /* 1.0 */
        {0x477fe000, 0x7bff}, /* 65504 = max half */
        {0x477fef00, 0x7bff}, /* 65519: below the 65520 midpoint */
        {0x477ff000, 0x7c00}, /* 65520: tie, 0x7bff odd -> up = inf */
        {0x501502f9, 0x7c00}, /* 1e10 -> inf */
        {0x7f800000, 0x7c00}, {0xff800000, 0xfc00},
        {0x7fc00000, 0x7e00}, {0xffc00000, 0xfe00}, {0x7f800001, 0x7e00}, /* NaNs stay NaN */
        {0x3f801000, 0x3c00}, /* 1 + 2^-11: tie -> even 0x3c00 */
        {0x3f803000, 0x3c02}, /* 1 + 3*2^-11: tie between 0x3c01/0x3c02 -> 0x3c02 */
        {0x3f801001, 0x3c01}, /* just above the tie */
        {0x3ffff000, 0x4000}, /* 2 - 2^-11: tie, 0x3bff odd -> carries to 2.0 */
        {0x38800000, 0x0400}, /* 2^-14: smallest normal */
        {0x387fc000, 0x03ff}, /* 1023 * 2^-24: largest subnormal */
        {0x387fe000, 0x0400}, /* 1023.5 * 2^-24: tie, 0x3ff odd -> smallest normal */
        {0x33800000, 0x0001}, /* 2^-24: smallest subnormal */
        {0x33000000, 0x0000}, /* 2^-25: tie between 0 and 1 -> 0 */
        {0x33000001, 0x0001}, /* just above -> 1 */
        {0x33c00000, 0x0002}, /* 3 * 2^-25 = 1.5 * 2^-24: tie between 1 and 2 -> 2 */
        {0x32800000, 0x0000}, /* 2^-26 -> 0 */
        {0x80000000, 0x8000}, {0xb3800000, 0x8001},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        CHECK_MSG(tn_f32_to_f16(fb(k[i][0])) == k[i][1], "%08x -> %04x, want %04x", k[i][0],
                  tn_f32_to_f16(fb(k[i][0])), k[i][1]);
    CHECK_EQ_INT(tn_f32_bits(tn_f16_to_f32(0x0001)), 0x33800000);
    CHECK_EQ_INT(tn_f32_bits(tn_f16_to_f32(0x03ff)), 0x387fc000);
    CHECK_EQ_INT(tn_f32_bits(tn_f16_to_f32(0x7bff)), 0x477fe000);
    CHECK_EQ_INT(tn_f32_bits(tn_f16_to_f32(0xfc00)), 0xff800000);
    CHECK_EQ_INT(tn_f32_bits(tn_f16_to_f32(0x7e00)), 0x7fc00000);
    CHECK_EQ_INT(tn_f32_bits(tn_f16_to_f32(0x7c01)), 0x7fc02000); /* sNaN made quiet */
}

TEST(fp8_encode_cases) {
    static const struct { uint32_t f; uint8_t q; } k[] = {
        {0x43e00000, 0x7e}, /* 448 = max */
        {0x43e80000, 0x7e}, /* 464: tie between 448 (m=6, even) and "480" -> 448 */
        {0x43e80001, 0x7f}, /* just above 464 rounds to the NaN pattern (torch: no saturation) */
        {0x43f00000, 0x7f}, /* 480 */
        {0x4e6e6b28, 0x7f}, /* 1e9 */
        {0x7f800000, 0x7f}, {0xff800000, 0xff}, {0x7fc00000, 0x7f}, {0xffc00000, 0xff},
        {0xc3e00000, 0xfe}, /* -448 */
        {0x43700000, 0x77}, /* 240 = 1.875 * 2^7: e=14, m=7 (not NaN) */
        {0x43800000, 0x78}, /* 256: e=15, m=0 */
        {0x3f800000, 0x38}, /* 1.0 */
        {0x3f880000, 0x38}, /* 1.0625: tie between m=0 and m=1 -> even m=0 */
        {0x3f980000, 0x3a}, /* 1.1875: tie between m=1 and m=2 -> m=2 */
        {0x3b000000, 0x01}, /* 2^-9: smallest subnormal */
        {0x3a800000, 0x00}, /* 2^-10: tie between 0 and 2^-9 -> 0 */
        {0x3a800001, 0x01},
        {0x3b400000, 0x02}, /* 3 * 2^-10: tie between 1 and 2 -> 2 */
        {0x3c700000, 0x08}, /* 15 * 2^-10: tie between 7*2^-9 and 2^-6 -> 0x08 */
        {0x3c800000, 0x08}, /* 2^-6: smallest normal */
        {0x00000000, 0x00}, {0x80000000, 0x80}, {0x0da24260, 0x00}, {0x8da24260, 0x80},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        CHECK_MSG(tn_f32_to_f8e4m3(fb(k[i].f)) == k[i].q, "%08x -> %02x, want %02x", k[i].f,
                  tn_f32_to_f8e4m3(fb(k[i].f)), k[i].q);
    CHECK_EQ_INT(tn_f32_to_f8e4m3_sat(1000.0f), 0x7e);
    CHECK_EQ_INT(tn_f32_to_f8e4m3_sat(-1000.0f), 0xfe);
    CHECK_EQ_INT(tn_f32_to_f8e4m3_sat(fb(0x43e80001)), 0x7e);
    CHECK_EQ_INT(tn_f32_to_f8e4m3_sat(fb(0x7fc00000)), 0x7f);
    CHECK_EQ_INT(tn_f32_to_f8e4m3_sat(1.0f), 0x38);
    /* Every finite code survives decode -> encode. */
    for (int c = 0; c < 256; c++)
        if ((c & 0x7f) != 0x7f) CHECK_EQ_INT(tn_f32_to_f8e4m3(tn_f8e4m3_to_f32((uint8_t)c)), c);
}

/* All 256 e4m3fn codes against the Python reference (exact rationals). */
TEST(fp8_decode_all_codes_vs_python) {
    if (!py_oracle_available()) SKIP("/usr/bin/python3 not found");
    FILE *p = py_oracle_open("dtype_ref.py", "fp8_decode");
    CHECK(p != NULL);
    if (!p) return;
    char line[64];
    int c = 0, nan = 0;
    while (c < 256 && fgets(line, sizeof line, p)) {
        float v = tn_f8e4m3_to_f32((uint8_t)c);
        if (strncmp(line, "nan", 3) == 0) {
            nan++;
            CHECK_MSG(isnan(v), "code %02x should be NaN", c);
        } else {
            uint32_t want = (uint32_t)strtoul(line, NULL, 16);
            CHECK_MSG(tn_f32_bits(v) == want, "code %02x: %08x, python %08x", c,
                      tn_f32_bits(v), want);
        }
        c++;
    }
    CHECK_EQ_INT(pclose(p), 0);
    CHECK_EQ_INT(c, 256);
    CHECK_EQ_INT(nan, 2); /* 0x7f and 0xff only: no infinities in e4m3fn */
    CHECK_EQ_INT(tn_f32_bits(tn_f8e4m3_to_f32(0x7e)), 0x43e00000); /* 448 by hand */
    CHECK_EQ_INT(tn_f32_bits(tn_f8e4m3_to_f32(0x01)), 0x3b000000); /* 2^-9 */
    CHECK_EQ_INT(tn_f32_bits(tn_f8e4m3_to_f32(0x80)), 0x80000000); /* -0 */
}

/* All 65536 halves against Python's struct 'e' (and the dispatched row path). */
TEST(f16_decode_all_codes_vs_python) {
    if (!py_oracle_available()) SKIP("/usr/bin/python3 not found");
    FILE *p = py_oracle_open("dtype_ref.py", "f16_decode");
    CHECK(p != NULL);
    if (!p) return;
    char line[64];
    int c = 0, bad = 0;
    while (c < 65536 && fgets(line, sizeof line, p)) {
        float v = tn_f16_to_f32((uint16_t)c);
        bool ok = strncmp(line, "nan", 3) == 0 ? isnan(v)
                                               : tn_f32_bits(v) == strtoul(line, NULL, 16);
        if (!ok && bad++ < 5) CHECK_MSG(ok, "half %04x -> %08x, python %s", c, tn_f32_bits(v), line);
        c++;
    }
    CHECK_EQ_INT(pclose(p), 0);
    CHECK_EQ_INT(c, 65536);
    CHECK_EQ_INT(bad, 0);
}

/* Random and tie-pattern f32 inputs: bf16 / f16 / e4m3fn encodings against the reference. */
TEST(f32_encode_vs_python) {
    if (!py_oracle_available()) SKIP("/usr/bin/python3 not found");
    enum { N = 6000 };
    static float x[N];
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < N; i++) {
        uint32_t u = (uint32_t)py_oracle_rand(&s);
        switch (i % 6) {
        case 1: u = (u & 0xffff0000u) | 0x8000u; break;           /* bf16 ties */
        case 2: u = (u & 0xffffe000u) | 0x1000u; break;           /* f16 ties */
        case 3: u = (u & 0x80000000u) | (0x33000000u + u % 0x0c000000u); break; /* f16 range */
        case 4: u = (u & 0x80000000u) | (0x3a000000u + u % 0x0a000000u); break; /* fp8 range */
        case 5: { /* e4m3fn midpoints between adjacent codes, and one f32 ulp either side */
            int c = (int)(u % 127u); /* 0x7e's upper neighbour is the 480 grid point */
            float lo = tn_f8e4m3_to_f32((uint8_t)c);
            float up = c == 0x7e ? 480.0f : tn_f8e4m3_to_f32((uint8_t)(c + 1));
            uint32_t mid = tn_f32_bits((lo + up) * 0.5f) + (u >> 8) % 3u - 1u;
            u = (u & 0x80000000u) | mid;
            break;
        }
        default: break;
        }
        x[i] = fb(u);
        if (isnan(x[i])) x[i] = 1.0f; /* NaN cases are hand-checked above */
    }
    const char *path = py_oracle_write_f32("encode.bin", x, N);
    CHECK(path != NULL);
    char args[600];
    snprintf(args, sizeof args, "round %s", path);
    FILE *p = py_oracle_open("dtype_ref.py", args);
    CHECK(p != NULL);
    if (!p) return;
    char line[64];
    int i = 0, bad = 0;
    while (i < N && fgets(line, sizeof line, p)) {
        unsigned bf, h, q;
        if (sscanf(line, "%x %x %x", &bf, &h, &q) != 3) break;
        bool ok = tn_f32_to_bf16(x[i]) == bf && tn_f32_to_f16(x[i]) == h &&
                  tn_f32_to_f8e4m3(x[i]) == q;
        if (!ok && bad++ < 5)
            CHECK_MSG(ok, "%08x: bf16 %04x/%04x f16 %04x/%04x e4m3 %02x/%02x", tn_f32_bits(x[i]),
                      tn_f32_to_bf16(x[i]), bf, tn_f32_to_f16(x[i]), h, tn_f32_to_f8e4m3(x[i]), q);
        i++;
    }
    CHECK_EQ_INT(pclose(p), 0);
    CHECK_EQ_INT(i, N);
    CHECK_EQ_INT(bad, 0);
}

/* The AVX2 paths (when this CPU has them) equal the portable loops on every 16-bit input,
 * at every tail length. */
TEST(row_paths_agree_exhaustively) {
    static uint16_t h[65536 + 7];
    static float a[65536 + 7], b[65536 + 7];
    for (int i = 0; i < 65536 + 7; i++) h[i] = (uint16_t)(i * 40503u);
    for (size_t n = 65536; n < 65536 + 7; n++) {
        tn_bf16_to_f32_row(h, a, n);
        tn_bf16_to_f32_row_portable(h, b, n);
        CHECK(memcmp(a, b, n * 4) == 0);
        tn_f16_to_f32_row(h, a, n);
        tn_f16_to_f32_row_portable(h, b, n);
        CHECK(memcmp(a, b, n * 4) == 0);
    }
    uint8_t q[256 + 9];
    for (int i = 0; i < 256 + 9; i++) q[i] = (uint8_t)(i * 7);
    for (size_t n = 250; n < 256 + 9; n++) {
        tn_fp8_dequant(q, 0.75f, a, n);
        tn_f8e4m3_scaled_to_f32_portable(q, 0.75f, b, n);
        CHECK(memcmp(a, b, n * 4) == 0);
    }
    CHECK(strcmp(tn_convert_impl(), "avx2") == 0 || strcmp(tn_convert_impl(), "portable") == 0);
}

/* w = f32(fp8) * scale with one rounding: the double product of two floats is exact, so
 * rounding it once to f32 is the reference. */
TEST(fp8_dequant_scale) {
    uint8_t q[256];
    float w[256];
    for (int i = 0; i < 256; i++) q[i] = (uint8_t)i;
    const float scales[] = {1.0f, 0.0123456789f, 3.5e-3f, 1e-30f};
    for (size_t s = 0; s < 4; s++) {
        tn_fp8_dequant(q, scales[s], w, 256);
        for (int i = 0; i < 256; i++) {
            float want = (float)((double)tn_f8e4m3_to_f32((uint8_t)i) * (double)scales[s]);
            if ((i & 0x7f) == 0x7f) CHECK(isnan(w[i]));
            else CHECK_MSG(tn_f32_bits(w[i]) == tn_f32_bits(want), "code %02x scale %g", i, scales[s]);
        }
    }
}

/* Fused experts [E=3, R=5, C=7] with scale_inv [3,1,1]: a tile crossing expert boundaries. */
TEST(fp8_dequant_rows_per_expert) {
    enum { E = 3, R = 5, C = 7 };
    uint8_t q[E * R * C];
    float scales[E] = {0.5f, 0.001f, 7.0f}, out[E * R * C];
    for (int i = 0; i < E * R * C; i++) q[i] = (uint8_t)((i * 37) & 0x7e);
    tn_fp8_dequant_rows(q, C, R, scales, 3, 9, out); /* rows 3..11: experts 0, 1, 2 */
    for (int r = 0; r < 9; r++)
        for (int c = 0; c < C; c++) {
            int row = 3 + r, e = row / R;
            float want = (float)((double)tn_f8e4m3_to_f32(q[row * C + c]) * (double)scales[e]);
            CHECK_MSG(tn_f32_bits(out[r * C + c]) == tn_f32_bits(want), "row %d col %d", row, c);
        }
    tn_fp8_dequant_rows(q, C, E * R, scales, 0, E * R, out); /* one per-tensor scale */
    CHECK_EQ_INT(tn_f32_bits(out[E * R * C - 1]),
                 tn_f32_bits(tn_f8e4m3_to_f32(q[E * R * C - 1]) * 0.5f));
}

TEST(to_f32_all_dtypes) {
    nt_err err = {0};
    float out[4];
    const double f64[4] = {1.5, -2.0, 0.1, 1e300};
    CHECK_EQ_INT(tn_to_f32(TN_F64, f64, out, 4, &err), NT_OK);
    CHECK(out[0] == 1.5f && out[1] == -2.0f && out[2] == 0.1f && isinf(out[3]));
    const int64_t i64[4] = {1, -3, 16777217, INT64_MIN}; /* 2^24+1 rounds to even 2^24 */
    CHECK_EQ_INT(tn_to_f32(TN_I64, i64, out, 4, &err), NT_OK);
    CHECK(out[0] == 1.0f && out[1] == -3.0f && out[2] == 16777216.0f && out[3] == -0x1p63f);
    const int32_t i32[2] = {-7, 100};
    CHECK_EQ_INT(tn_to_f32(TN_I32, i32, out, 2, &err), NT_OK);
    CHECK(out[0] == -7.0f && out[1] == 100.0f);
    const int16_t i16[2] = {-32768, 5};
    CHECK_EQ_INT(tn_to_f32(TN_I16, i16, out, 2, &err), NT_OK);
    CHECK(out[0] == -32768.0f && out[1] == 5.0f);
    const int8_t i8[2] = {-128, 127};
    CHECK_EQ_INT(tn_to_f32(TN_I8, i8, out, 2, &err), NT_OK);
    CHECK(out[0] == -128.0f && out[1] == 127.0f);
    const uint8_t u8[3] = {255, 0, 2};
    CHECK_EQ_INT(tn_to_f32(TN_U8, u8, out, 3, &err), NT_OK);
    CHECK(out[0] == 255.0f && out[1] == 0.0f && out[2] == 2.0f);
    CHECK_EQ_INT(tn_to_f32(TN_BOOL, u8, out, 3, &err), NT_OK);
    CHECK(out[0] == 1.0f && out[1] == 0.0f && out[2] == 1.0f);
    const uint16_t bf[2] = {0x3f80, 0xc000}, hf[2] = {0x3c00, 0xc000};
    CHECK_EQ_INT(tn_to_f32(TN_BF16, bf, out, 2, &err), NT_OK);
    CHECK(out[0] == 1.0f && out[1] == -2.0f);
    CHECK_EQ_INT(tn_to_f32(TN_F16, hf, out, 2, &err), NT_OK);
    CHECK(out[0] == 1.0f && out[1] == -2.0f);
    const uint8_t f8[2] = {0x38, 0xfe};
    CHECK_EQ_INT(tn_to_f32(TN_F8_E4M3, f8, out, 2, &err), NT_OK);
    CHECK(out[0] == 1.0f && out[1] == -448.0f);
    CHECK_EQ_INT(tn_to_f32(TN_NF4, u8, out, 2, &err), NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "nf4");
}

TEST(from_f32_float_dtypes) {
    nt_err err = {0};
    const float x[3] = {1.0f, -2.5f, 65520.0f};
    uint16_t h[3];
    uint8_t q[3];
    double d[3];
    CHECK_EQ_INT(tn_from_f32(TN_BF16, x, h, 3, &err), NT_OK);
    CHECK(h[0] == 0x3f80 && h[1] == 0xc020 && h[2] == 0x4780); /* 65520 = 1.99951*2^15 -> 0x4780 */
    CHECK_EQ_INT(tn_from_f32(TN_F16, x, h, 3, &err), NT_OK);
    CHECK(h[0] == 0x3c00 && h[1] == 0xc100 && h[2] == 0x7c00);
    CHECK_EQ_INT(tn_from_f32(TN_F8_E4M3, x, q, 3, &err), NT_OK);
    CHECK(q[0] == 0x38 && q[1] == 0xc2 && q[2] == 0x7f);
    CHECK_EQ_INT(tn_from_f32(TN_F64, x, d, 3, &err), NT_OK);
    CHECK(d[1] == -2.5);
    CHECK_EQ_INT(tn_from_f32(TN_I32, x, d, 3, &err), NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "i32");
}

TEST_MAIN()
