/* The LoRA branch at one linear call site (formats.md §1.6, §2.2): forward
 *     y += (s·drop(x)·A_eᵀ)·B_eᵀ
 * and backward, with t = s·drop(x)·A_eᵀ [M, r] recomputed (rank r: a small GEMM) instead of
 * kept, so checkpointing and activation memory are unaffected:
 *     dB_e += dyᵀ·t,   dt = s·dy·B_e,   dA_e += dtᵀ·drop(x),   dx += drop'(dt·A_e).
 * A_e is contiguous (rows e·r..); B_e's columns are strided (k·E + e), so for a fused expert
 * parameter B_e is gathered into scratch and its gradient scattered back. */
#include <omp.h>
#include <string.h>

#include "model/m4_lora_internal.h"

typedef struct {
    const tr_target *t;
    int64_t r, e, E, tensor;
    float *A, *B, *dA, *dB;   /* A_e (contiguous); B, dB the whole [out, r·E] */
} branch;

static bool get_branch(const m4_model *m, m4_wt w, branch *b) {
    if (!m4_lora_on(m, w.idx)) return false;
    const m4_lora *l = m->lora;
    int32_t j = l->of_tensor[w.idx];
    const tr_target *t = &l->tg[j];
    b->t = t;
    b->r = l->r;
    b->E = t->experts;
    b->e = t->experts > 1 ? w.lrow / t->out : 0;
    b->tensor = w.idx;
    float *A = l->p + l->off[j], *dA = l->g + l->off[j];
    b->A = A + b->e * b->r * t->in;
    b->dA = dA + b->e * b->r * t->in;
    b->B = A + b->r * b->E * t->in;
    b->dB = dA + b->r * b->E * t->in;
    return true;
}

/* B_e [out, r] with B_e[o, k] = B[o, k·E + e]; for E = 1 B itself. */
static const float *gather_b(m4_model *m, const branch *b) {
    if (b->E == 1) return b->B;
    int64_t out = b->t->out, r = b->r, E = b->E;
    float *Be = m4_scratch(m, out * r, false);
    for (int64_t o = 0; o < out; o++)
        for (int64_t k = 0; k < r; k++) Be[o * r + k] = b->B[o * r * E + k * E + b->e];
    return Be;
}

/* Counter-based keep decision: a splitmix64 finalizer over (key, element). */
static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool dropping(const m4_model *m) { return m->lora->training && m->lora->p_drop > 0; }

/* The mask of (row, col) depends only on (seed, step, micro, tensor, expert, row, col). For
 * rows [i0, i1), with dx == NULL: xd[i, ·] = mask ⊙ x / (1 − p); otherwise dx[i, ·] +=
 * mask ⊙ xd / (1 − p) (the backward through the dropout, in the same pass). */
static void apply_mask(const m4_model *m, const branch *b, float *xd, const float *x,
                       int64_t ldx, float *dx, int64_t i0, int64_t i1, int64_t K) {
    const m4_lora *l = m->lora;
    uint64_t key = mix(mix(mix(mix(l->seed) ^ (uint64_t)l->step) ^ (uint64_t)l->micro) ^
                       ((uint64_t)b->tensor << 20 ^ (uint64_t)b->e));
    uint64_t thr = (uint64_t)(l->p_drop * 18446744073709551616.0);
    float inv = (float)(1.0 / (1.0 - l->p_drop));
    for (int64_t i = i0; i < i1; i++) {
        uint64_t rk = mix(key ^ (uint64_t)i * 0xd1b54a32d192ed03ull);
        for (int64_t c = 0; c < K; c++) {
            float keep = mix(rk + (uint64_t)c) >= thr ? inv : 0.0f;
            if (dx) dx[i * ldx + c] += keep * xd[i * K + c];
            else xd[i * K + c] = keep * x[i * ldx + c];
        }
    }
}

/* The branch is row-parallel except for its weight gradients: every row's t, dt and dx
 * depend on that row only. So one parallel region runs a static share of the rows per
 * thread, each with single-threaded GEMMs (OpenBLAS's OpenMP build runs serially inside a
 * region), instead of a string of rank-r GEMMs each split over the threads with a barrier
 * after it. Inside an enclosing region (one expert per thread) it is that thread's rows. */
#define ROW_PARALLEL_MIN 16

static void row_share(int64_t M, int64_t *i0, int64_t *i1) {
    int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    *i0 = M * id / nt;
    *i1 = M * (id + 1) / nt;
}

/* t[i0:i1] = s·drop(x)·A_eᵀ; with dropout xd[i0:i1] receives drop(x). */
static void lora_t(const m4_model *m, const branch *b, float *t, float *xd, const float *x,
                   int64_t ldx, int64_t i0, int64_t i1, int64_t K) {
    const float *src = x + i0 * ldx;
    int64_t ld = ldx;
    if (xd) {
        apply_mask(m, b, xd, x, ldx, NULL, i0, i1, K);
        src = xd + i0 * K;
        ld = K;
    }
    kn_linear_fwd_ld(t + i0 * b->r, b->r, src, ld, b->A, K, i1 - i0, b->r, K, false);
    float s = (float)m->lora->scale;
    for (int64_t i = i0 * b->r; i < i1 * b->r; i++) t[i] *= s;
}

void m4_lora_fwd(m4_model *m, float *y, int64_t ldy, const float *x, int64_t ldx, m4_wt w,
                 int64_t M, int64_t N, int64_t K) {
    branch b;
    if (M <= 0 || !get_branch(m, w, &b)) return;
    nt_arena_pos pos = m4_scratch_mark(m);
    const float *Be = gather_b(m, &b);
    float *t = m4_scratch(m, M * b.r, false), *xd = dropping(m) ? m4_scratch(m, M * K, false) : NULL;
#pragma omp parallel if (M >= ROW_PARALLEL_MIN && !omp_in_parallel())
    {
        int64_t i0, i1;
        row_share(M, &i0, &i1);
        if (i1 > i0) {
            lora_t(m, &b, t, xd, x, ldx, i0, i1, K);
            kn_linear_fwd_ld(y + i0 * ldy, ldy, t + i0 * b.r, b.r, Be, b.r, i1 - i0, N, b.r, true);
        }
    }
    m4_scratch_rollback(m, pos);
}

/* dB_e += dyᵀ·t (scattered into B's strided columns for experts). */
static void grad_b(m4_model *m, const branch *b, const float *dy, int64_t lddy, const float *t,
                   int64_t M, int64_t N) {
    if (b->E == 1) {
        kn_linear_bwd_ld(NULL, 0, b->dB, b->r, dy, lddy, t, b->r, b->B, b->r, M, N, b->r);
        return;
    }
    float *dBe = m4_scratch(m, N * b->r, true);
    kn_linear_bwd_ld(NULL, 0, dBe, b->r, dy, lddy, t, b->r, b->B, b->r, M, N, b->r);
    for (int64_t o = 0; o < N; o++)
        for (int64_t k = 0; k < b->r; k++) b->dB[o * b->r * b->E + k * b->E + b->e] += dBe[o * b->r + k];
}

/* Rows [i0, i1): t (when x is given), dt = s·dy·B_e, and dx += drop'(dt·A_e). */
static void bwd_rows(const m4_model *m, const branch *b, const float *Be, float *t, float *xd,
                     float *dt, float *dxd, float *dx, int64_t lddx, const float *dy,
                     int64_t lddy, const float *x, int64_t ldx, int64_t i0, int64_t i1,
                     int64_t N, int64_t K) {
    int64_t r = b->r, n = i1 - i0;
    if (x) lora_t(m, b, t, xd, x, ldx, i0, i1, K);
    memset(dt + i0 * r, 0, (size_t)(n * r) * sizeof(float));
    kn_linear_bwd_ld(dt + i0 * r, r, NULL, 0, dy + i0 * lddy, lddy, NULL, 0, Be, r, n, N, r);
    float s = (float)m->lora->scale;
    for (int64_t i = i0 * r; i < i1 * r; i++) dt[i] *= s;
    if (!dx) return;
    if (!dxd) {
        kn_linear_bwd_ld(dx + i0 * lddx, lddx, NULL, 0, dt + i0 * r, r, NULL, 0, b->A, K, n, r, K);
        return;
    }
    memset(dxd + i0 * K, 0, (size_t)(n * K) * sizeof(float));
    kn_linear_bwd_ld(dxd + i0 * K, K, NULL, 0, dt + i0 * r, r, NULL, 0, b->A, K, n, r, K);
    apply_mask(m, b, dxd, NULL, lddx, dx, i0, i1, K);
}

/* The row-parallel part in one region, then the two weight gradients (sums over all rows)
 * as whole GEMMs: dB_e += dyᵀ·t, dA_e += dtᵀ·drop(x). */
void m4_lora_bwd(m4_model *m, float *dx, int64_t lddx, const float *dy, int64_t lddy,
                 const float *x, int64_t ldx, m4_wt w, int64_t M, int64_t N, int64_t K) {
    branch b;
    if (M <= 0 || (!dx && !x) || !get_branch(m, w, &b)) return;
    nt_arena_pos pos = m4_scratch_mark(m);
    bool drop = dropping(m);
    const float *Be = gather_b(m, &b);
    float *t = x ? m4_scratch(m, M * b.r, false) : NULL, *dt = m4_scratch(m, M * b.r, false);
    float *xd = x && drop ? m4_scratch(m, M * K, false) : NULL;
    float *dxd = dx && drop ? m4_scratch(m, M * K, false) : NULL;
#pragma omp parallel if (M >= ROW_PARALLEL_MIN && !omp_in_parallel())
    {
        int64_t i0, i1;
        row_share(M, &i0, &i1);
        if (i1 > i0) bwd_rows(m, &b, Be, t, xd, dt, dxd, dx, lddx, dy, lddy, x, ldx, i0, i1, N, K);
    }
    if (x) {
        grad_b(m, &b, dy, lddy, t, M, N);
        kn_linear_bwd_ld(NULL, 0, b.dA, K, dt, b.r, xd ? xd : x, xd ? K : ldx, b.A, K, M, b.r, K);
    }
    m4_scratch_rollback(m, pos);
}
