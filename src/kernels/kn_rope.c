/* Rotary position embedding with adjacent (interleaved) pairs, YaRN inverse frequencies and
 * the Llama-4 query temperature. The tables reproduce transformers' float32 arithmetic step
 * by step (the reference computes them in float32 even for a float64 model), so positions in
 * the 10⁵ range rotate by the same angles as the reference. */
#include <math.h>

#include "kernels/kernels.h"

static void default_inv_freq(const kn_rope_params *p, float *inv) {
    for (int64_t i = 0; i < p->dim / 2; i++) {
        float e = (float)(2 * i) / (float)p->dim;
        float pf = (float)pow(p->theta, (double)e);
        inv[i] = 1.0f / pf;
    }
}

/* YaRN: dims whose wavelength is short (below beta_fast rotations over the original context)
 * keep their frequency, long ones are divided by factor, a linear ramp in between. */
static double corr_dim(double rot, double dim, double base, double max_pos) {
    return dim * log(max_pos / (rot * 2 * M_PI)) / (2 * log(base));
}

void kn_rope_inv_freq(const kn_rope_params *p, float *inv) {
    if (!p->yarn) {
        default_inv_freq(p, inv);
        return;
    }
    double dim = (double)p->dim, omax = (double)p->original_max;
    double low = floor(corr_dim(p->beta_fast, dim, p->theta, omax));
    double high = ceil(corr_dim(p->beta_slow, dim, p->theta, omax));
    if (low < 0) low = 0;
    if (high > dim - 1) high = dim - 1;
    if (low == high) high += 0.001;
    float fac = (float)p->factor;
    for (int64_t i = 0; i < p->dim / 2; i++) {
        float e = (float)(2 * i) / (float)p->dim;
        float pf = (float)pow(p->theta, (double)e);
        float extra = 1.0f / pf, inter = 1.0f / (fac * pf);
        float ramp = ((float)i - (float)low) / (float)(high - low);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        float ext_factor = 1.0f - ramp;
        inv[i] = inter * (1.0f - ext_factor) + extra * ext_factor;
    }
}

void kn_rope_table(const int64_t *pos, int64_t n, const float *inv_freq, int64_t half,
                   float attention_factor, float *cos_t, float *sin_t) {
#pragma omp parallel for schedule(static) if (n * half > 65536)
    for (int64_t t = 0; t < n; t++) {
        float pf = (float)pos[t];
        for (int64_t i = 0; i < half; i++) {
            float ang = pf * inv_freq[i];
            cos_t[t * half + i] = (float)cos((double)ang) * attention_factor;
            sin_t[t * half + i] = (float)sin((double)ang) * attention_factor;
        }
    }
}

/* sign = +1 rotates by θ, −1 by −θ (the transpose, for backward). */
static void rotate(float *x, int64_t n, int64_t row_stride, int64_t nh, int64_t head_stride,
                   int64_t rot_off, int64_t half, const float *cos_t, const float *sin_t,
                   float sign) {
#pragma omp parallel for schedule(static) if (n * nh * half > 65536)
    for (int64_t t = 0; t < n; t++) {
        const float *c = cos_t + t * half, *s = sin_t + t * half;
        for (int64_t h = 0; h < nh; h++) {
            float *r = x + t * row_stride + h * head_stride + rot_off;
            for (int64_t i = 0; i < half; i++) {
                float a = r[2 * i], b = r[2 * i + 1], si = sign * s[i];
                r[2 * i] = a * c[i] - b * si;
                r[2 * i + 1] = b * c[i] + a * si;
            }
        }
    }
}

void kn_rope_fwd(float *x, int64_t n, int64_t row_stride, int64_t nh, int64_t head_stride,
                 int64_t rot_off, int64_t half, const float *cos_t, const float *sin_t) {
    rotate(x, n, row_stride, nh, head_stride, rot_off, half, cos_t, sin_t, 1.0f);
}

void kn_rope_bwd(float *dx, int64_t n, int64_t row_stride, int64_t nh, int64_t head_stride,
                 int64_t rot_off, int64_t half, const float *cos_t, const float *sin_t) {
    rotate(dx, n, row_stride, nh, head_stride, rot_off, half, cos_t, sin_t, -1.0f);
}

float kn_llama4_qscale(int64_t pos, float beta, int64_t original_max) {
    if (beta == 0.0f || original_max <= 0) return 1.0f;
    float q = floorf((float)pos / (float)original_max);
    return 1.0f + beta * logf(1.0f + q);
}
