/* The one call site of every linear layer: y = x·Wᵀ and its backward, with W either f32 in the
 * parameter allocation or compact (bf16 / NF4). A compact weight is dequantized a tile of rows
 * at a time into scratch right before the GEMM that uses it, so its f32 matrix never exists:
 * the forward writes the tile's output columns, the backward adds the tile's share of dx
 * (dx = Σ_tiles dy[:, tile]·W[tile, :]). Compact weights are frozen: no weight gradient. */
#include <omp.h>

#include "model/m4_internal.h"
#include "tensor/convert.h"

/* 2 MiB of f32 rows per tile: large enough for efficient GEMMs (K = 4096 gives 128 rows),
 * small enough to stay in L2/L3 while both the dequantization and the GEMM touch it. */
#define TILE_FLOATS ((int64_t)1 << 19)
#define DEQ_CHUNK_ROWS 16

m4_wt m4_weight(const m4_model *m, int64_t l, size_t field_off) {
    int32_t idx = m->lidx[(size_t)l * M4_LAYER_FIELDS + field_off / sizeof(float *)];
    const float *f = *(float *const *)((const char *)&m->p.layers[l] + field_off);
    return (m4_wt){.f = f, .s = idx >= 0 && !f ? &m->store[idx] : NULL, .row0 = 0, .lrow = 0,
                   .idx = idx};
}

m4_wt m4_wt_rows(m4_wt w, int64_t row0, int64_t K) {
    if (w.f) w.f += row0 * K;
    else w.row0 += row0;
    w.lrow += row0;
    return w;
}

/* Rows [row0, row0+n) of a compact [·, K] weight into dst (n·K floats). */
static void dequant_rows(const m4_store *s, int64_t K, int64_t row0, int64_t n, float *dst) {
#pragma omp parallel for schedule(static) if (n * K > 65536)
    for (int64_t r = 0; r < n; r += DEQ_CHUNK_ROWS) {
        int64_t nr = n - r < DEQ_CHUNK_ROWS ? n - r : DEQ_CHUNK_ROWS;
        if (s->dtype == TN_BF16)
            tn_bf16_to_f32_row(s->bf16 + (row0 + r) * K, dst + r * K, (size_t)(nr * K));
        else
            tn_nf4_dequant_rows(&s->nf4, (size_t)(row0 + r), (size_t)nr, dst + r * K);
    }
}

static int64_t tile_rows(const m4_model *m, int64_t N, int64_t K) {
    int64_t budget = m->tile_floats > 0 ? m->tile_floats : TILE_FLOATS;
    int64_t t = K > 0 ? budget / K : N;
    return t < 1 ? 1 : t > N ? N : t;
}

static void base_fwd(m4_model *m, float *y, int64_t ldy, const float *x, int64_t ldx, m4_wt w,
                     int64_t M, int64_t N, int64_t K, bool accumulate) {
    if (w.f) {
        kn_linear_fwd_ld(y, ldy, x, ldx, w.f, K, M, N, K, accumulate);
        return;
    }
    if (M <= 0 || N <= 0) return;
    nt_arena_pos pos = nt_arena_mark(&m->scratch);
    int64_t nt = tile_rows(m, N, K);
    float *tile = m4_scratch(m, nt * K, false);
    for (int64_t n0 = 0; n0 < N; n0 += nt) {
        int64_t nb = N - n0 < nt ? N - n0 : nt;
        dequant_rows(w.s, K, w.row0 + n0, nb, tile);
        kn_linear_fwd_ld(y + n0, ldy, x, ldx, tile, K, M, nb, K, accumulate);
    }
    nt_arena_rollback(&m->scratch, pos);
}

static void base_bwd(m4_model *m, float *dx, int64_t lddx, float *dw, const float *dy,
                     int64_t lddy, const float *x, int64_t ldx, m4_wt w, int64_t M, int64_t N,
                     int64_t K) {
    if (!dx && !dw) return;
    if (w.f) {
        kn_linear_bwd_ld(dx, lddx, dw, K, dy, lddy, x, ldx, w.f, K, M, N, K);
        return;
    }
    if (!dx || M <= 0 || N <= 0) return; /* compact means frozen: dw is always NULL here */
    nt_arena_pos pos = nt_arena_mark(&m->scratch);
    int64_t nt = tile_rows(m, N, K);
    float *tile = m4_scratch(m, nt * K, false);
    for (int64_t n0 = 0; n0 < N; n0 += nt) {
        int64_t nb = N - n0 < nt ? N - n0 : nt;
        dequant_rows(w.s, K, w.row0 + n0, nb, tile);
        kn_linear_bwd_ld(dx, lddx, NULL, 0, dy + n0, lddy, NULL, 0, tile, K, M, nb, K);
    }
    nt_arena_rollback(&m->scratch, pos);
}

void m4_lin_fwd(m4_model *m, float *y, int64_t ldy, const float *x, int64_t ldx, m4_wt w,
                int64_t M, int64_t N, int64_t K, bool accumulate) {
    base_fwd(m, y, ldy, x, ldx, w, M, N, K, accumulate);
    if (m->lora) m4_lora_fwd(m, y, ldy, x, ldx, w, M, N, K);
}

void m4_lin_bwd(m4_model *m, float *dx, int64_t lddx, float *dw, const float *dy, int64_t lddy,
                const float *x, int64_t ldx, m4_wt w, int64_t M, int64_t N, int64_t K) {
    if (m->lora) m4_lora_bwd(m, dx, lddx, dy, lddy, x, ldx, w, M, N, K);
    base_bwd(m, dx, lddx, dw, dy, lddy, x, ldx, w, M, N, K);
}
