/* Internal to attention (kn_attention.c): the per-row element-wise work of a query tile, one
 * pass per step over a row that stays in L1, vectorized on AVX-512 (kn_attn_rows.c).
 *
 * A score row r[0..n) comes from the GEMM as raw dot products q·k. The keys [lo, hi) are
 * visible and the rest masked (causal tiles: the keys of other samples before lo, those after
 * the query from hi); r is multiplied by `scale` (the query's qscale) first. A caller that
 * masks key by key (padding inside the range) writes qscale·q·k and −inf itself and passes
 * lo = 0, hi = n, scale = 1 (x·1 = x exactly). Every value is the one the plain sequence of
 * steps on the whole row gives (scale, −inf outside [lo, hi), kn_max, kn_exp_shift,
 * kn_sum_f64, normalise): same operations, same order, bit for bit. */
#ifndef NEWT_KERNELS_ATTN_ROWS_H
#define NEWT_KERNELS_ATTN_ROWS_H

#include <stdint.h>

/* Softmax in place: r[j] = P = exp(s_j − m) / Σ for lo ≤ j < hi, 0 elsewhere (s_j =
 * scale·r[j]). Returns the row's log-sum-exp m + log Σ; −inf with a zero row when nothing is
 * visible. */
float kn_attn_softmax_row(float *r, int64_t n, int64_t lo, int64_t hi, float scale);

/* Backward of one row: r holds the raw scores, ds the products dO·vⱼ. Writes
 * r[j] = P = exp(scale·r[j] − lse) (0 outside [lo, hi) or when lse = −inf) and
 * ds[j] = P·(ds[j] − D)·qs, D = Σ dO⊙O of the row. */
void kn_attn_grad_row(float *r, float *ds, int64_t n, int64_t lo, int64_t hi, float scale,
                      float lse, float D, float qs);

#endif
