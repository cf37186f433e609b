/* Dynamic 8-bit maps and blockwise 8-bit (de)quantization, following bitsandbytes'
 * create_dynamic_map / kQuantizeBlockwise / dQuantize semantics (spec formats.md §3.4, §4.5). */
#include "tensor/qmap.h"

#include <math.h>
#include <stdlib.h>

/* torch.linspace(0.1, 1.0, k, dtype=float32) as the published bnb table was produced:
 * step = (1 - 0.1) / (k-1) in f32; the first half counts up from start, the second half down
 * from end, each point with a single rounding (fused multiply-add). */
static void linspace_f32(int k, float *b) {
    float start = 0.1f, end = 1.0f, step = (end - start) / (float)(k - 1);
    for (int i = 0; i < k; i++)
        b[i] = i < k / 2 ? fmaf(step, (float)i, start) : fmaf(-step, (float)(k - 1 - i), end);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void tn_qmap_dynamic(bool is_signed, float out[256]) {
    /* Python's 10 ** (i - 6) is a double; torch multiplies an f32 tensor by it in f32. */
    static const double k_pow10[7] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
    float b[130];
    int n = 0;
    for (int i = 0; i < 7; i++) {
        int k = is_signed ? (1 << i) + 1 : (1 << (i + 1)) + 1;
        float scale = (float)k_pow10[i];
        linspace_f32(k, b);
        for (int j = 0; j + 1 < k; j++) {
            float mean = (b[j] + b[j + 1]) / 2.0f;
            out[n++] = scale * mean;
            if (is_signed) out[n++] = -scale * mean;
        }
    }
    out[n++] = 0.0f;
    out[n++] = 1.0f;
    while (n < 256) out[n++] = 0.0f; /* never reached for 8 bits; bnb pads the same way */
    qsort(out, 256, sizeof(float), cmp_float);
}

uint8_t tn_qmap_quantize(const float code[256], float x) {
    int pivot = 127, lo = 0, hi = 255;
    float lower = -1.0f, upper = 1.0f, val = code[pivot];
    for (int i = 64; i > 0; i >>= 1) {
        if (x > val) {
            lo = pivot;
            lower = val;
            pivot += i;
        } else {
            hi = pivot;
            upper = val;
            pivot -= i;
        }
        val = code[pivot];
    }
    if (hi == 255) upper = code[255];
    if (lo == 0) lower = code[0];
    if (x > val) return (uint8_t)(x > (upper + val) * 0.5f ? hi : pivot);
    return (uint8_t)(x < (lower + val) * 0.5f ? lo : pivot);
}

void tn_qmap_quantize_blockwise(const float code[256], const float *v, size_t n,
                                size_t blocksize, uint8_t *q, float *absmax) {
    for (size_t start = 0, b = 0; start < n; start += blocksize, b++) {
        size_t end = start + blocksize < n ? start + blocksize : n;
        float m = 0.0f;
        for (size_t i = start; i < end; i++) m = fmaxf(m, fabsf(v[i]));
        absmax[b] = m;
        float inv = 1.0f / m; /* all-zero block: inf, 0*inf = NaN -> code 0, value 0 */
        for (size_t i = start; i < end; i++) q[i] = tn_qmap_quantize(code, v[i] * inv);
    }
}

void tn_qmap_dequantize_blockwise(const float code[256], const uint8_t *q, size_t n,
                                  size_t blocksize, const float *absmax, float offset, float *v) {
    for (size_t i = 0; i < n; i++) v[i] = code[q[i]] * absmax[i / blocksize] + offset;
}
