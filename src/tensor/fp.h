/* Scalar conversions between f32 and the narrow float formats, bit-exact with PyTorch's CPU
 * casts (c10/util/BFloat16.h, Half.h, Float8_e4m3fn.h — semantics read from there, code our
 * own). Header-only so row loops inline them; convert.h has the whole-row versions.
 *
 * Rounding is round-to-nearest-even everywhere (integer bias tricks for normal numbers, an
 * FPU add for subnormal ones, so the default rounding mode is assumed).
 *
 *   f32 -> bf16: RNE, overflow rounds to ±inf, subnormals kept, any NaN -> 0x7fc0 (c10 returns
 *                that one canonical quiet NaN, sign dropped).
 *   f32 -> f16:  RNE, |x| >= 65520 -> ±inf, subnormals (step 2^-24) kept, NaN -> sign|0x7e00.
 *   f32 -> e4m3fn: RNE; NOT saturating, as torch's `.to(torch.float8_e4m3fn)`: a magnitude
 *                >= 480 (incl. inf) or one that rounds above 448 (> 464; 464 itself ties to
 *                448) becomes NaN 0x7f|sign; NaN -> 0x7f|sign. Quantizers that want clamping
 *                (FP8 training recipes clamp to ±448 first) use tn_f32_to_f8e4m3_sat.
 *   bf16/f16/e4m3fn -> f32: exact. NaN payloads are kept and made quiet (f16: bit 22 set, as
 *                the x86 F16C instruction does); bf16 -> f32 is a plain shift (payload as is). */
#ifndef NEWT_TENSOR_FP_H
#define NEWT_TENSOR_FP_H

#include <stdint.h>
#include <string.h>

static inline uint32_t tn_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float tn_f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- bf16 ---- */
static inline float tn_bf16_to_f32(uint16_t h) { return tn_f32_from_bits((uint32_t)h << 16); }

static inline uint16_t tn_f32_to_bf16(float f) {
    uint32_t u = tn_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    u += 0x7fffu + ((u >> 16) & 1u); /* ties go to the even (low bit 0) result */
    return (uint16_t)(u >> 16);
}

/* ---- f16 (IEEE binary16) ---- */
static inline float tn_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) /* inf, or NaN made quiet */
        return tn_f32_from_bits(sign | 0x7f800000u | (m << 13) | (m ? 0x00400000u : 0));
    if (e == 0) { /* zero or subnormal: m * 2^-24, exact in f32 */
        float v = (float)m * 0x1p-24f;
        return tn_f32_from_bits(sign | tn_f32_bits(v));
    }
    return tn_f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

static inline uint16_t tn_f32_to_f16(float f) {
    uint32_t u = tn_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return sign | 0x7e00u;  /* NaN */
    if (u >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520 rounds to inf (65504 is max) */
    if (u >= 0x38800000u) {                      /* >= 2^-14: normal half */
        u += 0xfffu + ((u >> 13) & 1u);
        return sign | (uint16_t)((u >> 13) - (112u << 10));
    }
    /* Subnormal half (step 2^-24): adding 0.5f, whose f32 ulp is 2^-24, lets the FPU do the
     * round-to-nearest-even; a result of 1024 is the smallest normal, encoded correctly. */
    float t = tn_f32_from_bits(u) + 0.5f;
    return sign | (uint16_t)(tn_f32_bits(t) - 0x3f000000u);
}

/* ---- f8 e4m3fn: s|eeee|mmm, bias 7, e=0 subnormal (m * 2^-9), 0x7f/0xff NaN ---- */
static inline float tn_f8e4m3_to_f32(uint8_t b) {
    uint32_t sign = (uint32_t)(b & 0x80u) << 24, em = b & 0x7fu;
    if (em == 0x7f) return tn_f32_from_bits(sign | 0x7fc00000u);
    if (em < 8) return tn_f32_from_bits(sign | tn_f32_bits((float)em * 0x1p-9f));
    return tn_f32_from_bits(sign | ((em << 20) + (120u << 23))); /* exponent e-7+127 */
}

static inline uint8_t tn_f32_to_f8e4m3(float f) {
    uint32_t u = tn_f32_bits(f);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80u);
    u &= 0x7fffffffu;
    if (u >= 0x43f00000u) return sign | 0x7fu; /* >= 480, inf, NaN: NaN (no saturation) */
    if (u < 0x3c800000u) {                     /* < 2^-6: subnormal, step 2^-9 */
        /* 16384.0f has an f32 ulp of 2^-9: the add rounds to the e4m3 subnormal grid. */
        float t = tn_f32_from_bits(u) + 16384.0f;
        return sign | (uint8_t)(tn_f32_bits(t) - 0x46800000u);
    }
    u += 0x7ffffu + ((u >> 20) & 1u) - (120u << 23); /* RNE on the 20 dropped bits */
    return sign | (uint8_t)(u >> 20);                /* 0x7f here = rounded past 448 = NaN */
}

/* Saturating variant: finite values beyond ±448 clamp to ±448 (0x7e/0xfe); NaN stays NaN. */
static inline uint8_t tn_f32_to_f8e4m3_sat(float f) {
    if (f > 448.0f) f = 448.0f;
    if (f < -448.0f) f = -448.0f;
    return tn_f32_to_f8e4m3(f);
}

#endif
