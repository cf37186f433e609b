/* Internal to src/tensor: the x86-64 AVX2/F16C kernels (simd_x86.c) and the check that picks
 * them. On other architectures tn_simd_avx2() is false and the kernels are never called.
 * Each kernel matches its portable loop bit for bit. */
#ifndef NEWT_TENSOR_SIMD_H
#define NEWT_TENSOR_SIMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the CPU has AVX2, FMA and F16C (every x86-64 since Haswell / Zen) and the
 * environment does not say NEWT_SIMD=portable (how tests and benchmarks exercise the portable
 * loops on such CPUs). Reads the environment: call it once per row or tensor, not per element. */
bool tn_simd_avx2(void);

void tn_bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n);
void tn_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n);
void tn_f8e4m3_scaled_to_f32_avx2(const uint8_t *src, float scale, float *dst, size_t n);
/* dst[2j] = lut[src[j] >> 4], dst[2j+1] = lut[src[j] & 15] for j < nbytes. */
void tn_nibbles_lut_avx2(const uint8_t *src, const float lut[16], float *dst, size_t nbytes);

/* max|x| over x[0..n) ignoring NaNs (CUDA fmaxf semantics), starting from 0. */
float tn_absmax_avx2(const float *x, size_t n);
/* q[i] = number of thresholds[0..15) strictly below x[i] * inv (NaN -> 0). */
void tn_nf4_codes_avx2(const float *x, size_t n, float inv, const float thresholds[15],
                       uint8_t *q);

#endif
