/* bitsandbytes' 8-bit "dynamic" quantization maps and blockwise 8-bit quantization
 * (spec formats.md §3.4, §4.5, Appendix A). Used for NF4 double quantization (the absmax of
 * each 64-block stored as a u8 code) and, later, for 8-bit optimizer states. */
#ifndef NEWT_TENSOR_QMAP_H
#define NEWT_TENSOR_QMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Builds create_dynamic_map(signed, max_exponent_bits=7, total_bits=8) the way bnb gets it from
 * torch: for i = 0..6, k = 2^i+1 (signed) or 2^(i+1)+1 points b = linspace_f32(0.1, 1, k)
 * (torch's two-sided linspace, each point rounded once: fmaf), midpoints (b_j+b_{j+1})/2,
 * times f32(10^(i-6)), negated copies if signed, plus 0 and 1; sorted ascending.
 * Signed: out[127] = 0, out[255] = 1, no -1. Unsigned: out[0] = 0, out[255] = 1. */
void tn_qmap_dynamic(bool is_signed, float out[256]);

/* bnb's dQuantize: index of the code nearest to x in a sorted 256-entry map, by the binary
 * search of spec §3.4 (midpoint ties and NaN resolve as that search does: NaN -> 0). */
uint8_t tn_qmap_quantize(const float code[256], float x);

/* Blockwise 8-bit quantization of v[0..n): for each block of `blocksize`, absmax[b] = max|v|
 * (f32; NaNs ignored as CUDA fmaxf does), codes from tn_qmap_quantize(code, v * (1/absmax)).
 * absmax has ceil(n/blocksize) entries. */
void tn_qmap_quantize_blockwise(const float code[256], const float *v, size_t n,
                                size_t blocksize, uint8_t *q, float *absmax);

/* v[i] = code[q[i]] * absmax[i / blocksize] (+ offset), in f32. */
void tn_qmap_dequantize_blockwise(const float code[256], const uint8_t *q, size_t n,
                                  size_t blocksize, const float *absmax, float offset, float *v);

#endif
