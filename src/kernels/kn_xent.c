/* lm_head + cross-entropy fused over token chunks: for each chunk of rows the logits are one
 * GEMM into scratch, turned in place into (softmax − onehot)·grad_scale, and pushed back
 * through the head (dh) and into its weight (dw) by two more GEMMs. Peak memory is
 * chunk × V floats, never n × V. A frozen head takes the vocabulary-block path below. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "base/scratch.h"
#include "kernels/kn_sgemm_internal.h"

/* One row: returns the loss −log softmax(l)[y]; turns l into grad_scale·(softmax − onehot)
 * when want_grad. Ignored rows (y < 0) get a zero gradient row. One float exp per logit (kept
 * in l for the gradient pass; kn_exp_shift gives expf's bits, vectorized), summed in double:
 * expf's error (< 1 ulp) is far below the float rounding of the result, and it halves the work
 * of the former two double exps. */
static double row_xent(float *l, int64_t V, int32_t y, float grad_scale, bool want_grad) {
    if (y < 0) {
        if (want_grad) memset(l, 0, (size_t)V * sizeof(float));
        return 0;
    }
    float m = kn_max(l, V), ly = l[y];
    kn_exp_shift(l, V, m); /* the row is scratch (already copied out when asked) */
    double s = kn_sum_f64(l, V);
    double loss = log(s) + m - ly;
    if (want_grad) {
        double inv = 1.0 / s;
#pragma omp simd
        for (int64_t j = 0; j < V; j++) l[j] = (float)(l[j] * inv) * grad_scale;
        l[y] -= grad_scale;
    }
    return loss;
}

/* ---- frozen head: vocabulary blocks with an online softmax ----
 * With no weight gradient and no logits wanted, the head is walked a block of vocabulary rows
 * at a time for all the rows of h, so each block of W is read (and packed) once per call
 * instead of once per token chunk: re-reading the whole W for every chunk is what made the
 * token-chunked path slower than materializing the logits at V = 131072. Per row i the pass
 * keeps the running max m_i, the running sum s_i of exp(l − m_i) (double) and
 * acc_i = Σ_v exp(l_v − m_i)·W_v; when a block raises the max, s_i and acc_i are rescaled by
 * exp(m_old − m_new) (the online softmax of flash attention, with W in the role of V). At the
 * end lse_i = m_i + log s_i, loss_i = lse_i − l_i[y_i] and
 * dh_i += grad_scale·(acc_i / s_i − W[y_i]). The results differ from the chunked path only by
 * rounding.
 *
 * Two ways to walk a block, by row count (never by thread count, so the bits do not depend on
 * it). Below XENT_TILE_ROWS rows, all rows at once: the block's logits (n × vb floats of
 * scratch, vb as large as the scratch allows) are one GEMM, the update runs row-parallel, and
 * acc is a second GEMM — the SGEMM keeps its B panels in L2 across each thread's rows. From
 * XENT_TILE_ROWS on, that n × vb block and acc (24 + 8 MiB at 4096 rows) went through memory
 * between the three passes, so instead the threads split the rows and walk their share
 * XENT_RB rows at a time: the tile's logits (XENT_RB × vb floats, thread scratch), their
 * update and their product into acc run back to back while the tile is in L2, the block of W
 * packed once for all threads (on the own SGEMM; each packs a share of both layouts).
 * Measured, µs per token (the frozen head of the benchmark model, V 32768, D 512, 2 threads,
 * forward + dh; quiet machine / busy machine): all rows 167 / 168 at n = 512, 172 / 168 at
 * 4096; tiles 163 / 196 at 512, 152 / 159 at 4096; on the busy machine at 1024 all rows 164,
 * tiles 175, at 2048 171 against 162. The tiles read the packed block from L3 once per 96
 * rows, which a busy L3 makes dear when the rows are few. */
#define XENT_TILE_ROWS 2048

/* Floats of W per vocabulary block (vb = XENT_VB_FLOATS / D rows: 2048 at D = 512, 256 for
 * Mistral Small 4's 4096) and rows per tile. Measured (the frozen head of the benchmark model,
 * V 32768, D 512, 2 threads, forward + dh, µs per token at n = 512 / 4096): the former
 * all-rows blocks 167 / 172; vb × rb = 1024 × 128 190 / 164, 2048 × 64 176 / 166,
 * 2048 × 96 163 / 152, 2048 × 128 165 / 157, 2048 × 192 171 / 161, 3072 × 128 185 / 166,
 * 8192 × 128 198 / 172. rb = 96 is 8 micro-tiles of 12 rows. At D = 1024 (bench/train --loss:
 * n 2048, V 131072) 2048 rows per block took 3134 / 3196 ms, 1024 2952 / 2874: the packed
 * block, not the row count, is what has to stay near the cores. */
#define XENT_VB_FLOATS (1 << 20)
#define XENT_RB 96

typedef struct {
    float *acc, *m;       /* [rows, D], [rows] */
    double *s;            /* [rows] */
    float *ly;            /* target logit per row */
    float *lg;            /* all rows: [rows, vb] logits block; tiles: NULL */
    float *pk_t, *pk_n;   /* tiles: W's block packed as the logits' B (Wᵀ) and acc's (W), or NULL */
    int64_t rows, vb;
} xent_online;

/* Carves the buffers out of scratch (floats); false when the scratch cannot hold a useful
 * vocabulary block (then the chunked path runs). */
static bool online_plan(xent_online *o, float *scratch, int64_t floats, int64_t n, int64_t D,
                        bool packed) {
    int64_t fixed = n * D + 5 * n + 1 + 2 * 16; /* acc, m, s, ly; double and 64-byte padding */
    bool tiles = n >= XENT_TILE_ROWS;
    /* per vocabulary row: all rows, the logits column; tiles, both packed layouts of W's row */
    int64_t per_v = !tiles ? n : packed ? D + (D + 31) / 32 * 32 : 0;
    if (floats - fixed < (tiles ? 32 : 256) * per_v) return false;
    int64_t vmax = tiles ? XENT_VB_FLOATS / D / 32 * 32 : INT64_MAX;
    vmax = vmax < 32 ? 32 : vmax;
    o->rows = n;
    o->vb = per_v ? (floats - fixed) / per_v : vmax;
    o->vb = o->vb < vmax ? o->vb / 32 * 32 : vmax;
    o->acc = scratch;
    o->m = o->acc + n * D;
    int64_t off = n * D + n; /* s: doubles, so at an even float offset (scratch is aligned) */
    o->s = (double *)(void *)(scratch + off + (off & 1));
    o->ly = (float *)(void *)(o->s + n);
    float *rest = (float *)(((uintptr_t)(o->ly + n) + 63) & ~(uintptr_t)63);
    o->lg = tiles ? NULL : rest;
    o->pk_t = o->pk_n = NULL;
    if (tiles && packed) {
        o->pk_t = rest;
        o->pk_n = (float *)(((uintptr_t)(o->pk_t + kn_bpack_floats(D, o->vb)) + 63) & ~(uintptr_t)63);
    }
    return true;
}

/* Row i's logits l of block [v0, v0 + nb): max/sum update, exp in place, acc rescale. */
static void online_row(const xent_online *o, int32_t y, int64_t i, float *l, int64_t v0,
                       int64_t nb, int64_t D, bool grad) {
    if (y < 0) { /* ignored row: contributes nothing (zeros keep acc finite) */
        if (grad) memset(l, 0, (size_t)nb * sizeof(float));
        return;
    }
    if (y >= v0 && y < v0 + nb) o->ly[i] = l[y - v0];
    float mb = kn_max(l, nb), mo = o->m[i], mn = mb > mo ? mb : mo;
    kn_exp_shift(l, nb, mn);
    double add = kn_sum_f64(l, nb);
    if (mn != mo) { /* the first block (mo = −inf) scales zeros */
        float f = expf(mo - mn);
        o->s[i] *= (double)f;
        for (int64_t k = 0; grad && k < D; k++) o->acc[i * D + k] *= f;
    }
    o->s[i] += add;
    o->m[i] = mn;
}

typedef struct {
    const float *h, *w;
    const int32_t *target;
    int64_t D, v0, nb;
    const kn_bpack *bt, *bn; /* packed W block, or NULL: plain kn_sgemm on W */
} xent_block;

/* Rows [i0, i0 + rows) of one block: logits into l, the online update, acc += l·W. Called
 * for all rows at once from outside a parallel region (then the GEMMs and the row loop use
 * the team) or per tile by each thread. */
static void online_tile(const xent_online *o, const xent_block *k, int64_t i0, int64_t rows,
                        float *l, bool grad) {
    int64_t D = k->D, nb = k->nb;
    if (k->bt) kn_sgemm_bpacked(KN_N, rows, 0, nb, 1.0f, k->h + i0 * D, D, k->bt, 0.0f, l, nb);
    else kn_sgemm(KN_N, KN_T, rows, nb, D, 1.0f, k->h + i0 * D, D, k->w + k->v0 * D, D, 0.0f, l, nb);
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int64_t i = 0; i < rows; i++) online_row(o, k->target[i0 + i], i0 + i, l + i * nb, k->v0, nb, D, grad);
    if (!grad) return;
    if (k->bn) kn_sgemm_bpacked(KN_N, rows, 0, D, 1.0f, l, nb, k->bn, 1.0f, o->acc + i0 * D, D);
    else kn_sgemm(KN_N, KN_N, rows, D, nb, 1.0f, l, nb, k->w + k->v0 * D, D, 1.0f, o->acc + i0 * D, D);
}

/* Thread t of nt: its share of the rows through every vocabulary block; the shares of the
 * packing first, a barrier, the tiles, a barrier (the next block overwrites the packing). */
static void online_share(const xent_online *o, const float *h, const float *w,
                         const int32_t *target, int64_t D, int64_t V, bool grad, int t, int nt) {
    int64_t r0 = o->rows * t / nt, r1 = o->rows * (t + 1) / nt;
    float *l = nt_tls_scratch(KN_SLOT_XENT, (size_t)(XENT_RB * o->vb) * sizeof(float));
    for (int64_t v0 = 0; v0 < V; v0 += o->vb) {
        xent_block k = {.h = h, .w = w, .target = target, .D = D, .v0 = v0,
                        .nb = V - v0 < o->vb ? V - v0 : o->vb};
        kn_bpack bt, bn;
        if (o->pk_t) {
            bt = kn_bpack_fill_part(KN_T, w + v0 * D, D, D, k.nb, o->pk_t, t, nt);
            k.bt = &bt;
            if (grad) {
                bn = kn_bpack_fill_part(KN_N, w + v0 * D, D, k.nb, D, o->pk_n, t, nt);
                k.bn = &bn;
            }
        }
#pragma omp barrier
        for (int64_t i0 = r0; i0 < r1; i0 += XENT_RB)
            online_tile(o, &k, i0, r1 - i0 < XENT_RB ? r1 - i0 : XENT_RB, l, grad);
#pragma omp barrier
    }
}

static kn_xent_result xent_online_run(xent_online *o, const float *h, const float *w,
                                      const int32_t *target, int64_t D, int64_t V,
                                      float grad_scale, float *dh) {
    int64_t n = o->rows;
    for (int64_t i = 0; i < n; i++) o->m[i] = -INFINITY, o->s[i] = 0, o->ly[i] = 0;
    if (dh) memset(o->acc, 0, (size_t)(n * D) * sizeof(float));
    if (o->lg) {
        for (int64_t v0 = 0; v0 < V; v0 += o->vb) {
            xent_block k = {.h = h, .w = w, .target = target, .D = D, .v0 = v0,
                            .nb = V - v0 < o->vb ? V - v0 : o->vb};
            online_tile(o, &k, 0, n, o->lg, dh != NULL);
        }
    } else {
        int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
        online_share(o, h, w, target, D, V, dh != NULL, omp_get_thread_num(), omp_get_num_threads());
    }
    kn_xent_result r = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        int32_t y = target[i];
        if (y < 0) continue;
        r.loss_sum += log(o->s[i]) + o->m[i] - o->ly[i];
        r.count++;
        if (!dh) continue;
        float inv = (float)(1.0 / o->s[i]);
        for (int64_t k = 0; k < D; k++)
            dh[i * D + k] += grad_scale * (o->acc[i * D + k] * inv - w[(int64_t)y * D + k]);
    }
    return r;
}

/* row_xent over the m rows of logits l[m, V] in parallel: the loss summed and the trained rows
 * counted into r. */
static void rows_xent(float *l, const int32_t *target, int64_t m, int64_t V, float grad_scale,
                      bool want_grad, kn_xent_result *r) {
    double sum = 0;
    int64_t cnt = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum, cnt) if (m * V > 65536)
    for (int64_t i = 0; i < m; i++) {
        sum += row_xent(l + i * V, V, target[i], grad_scale, want_grad);
        cnt += target[i] >= 0;
    }
    r->loss_sum += sum;
    r->count += cnt;
}

kn_xent_result kn_lmhead_xent(const float *h, const float *w, const int32_t *target, int64_t n,
                              int64_t D, int64_t V, float grad_scale, float *dh, float *dw,
                              float *logits_out, float *scratch, int64_t chunk) {
    xent_online o;
    if (!dw && !logits_out && n > 0 && online_plan(&o, scratch, chunk * V, n, D, kn_sgemm_own()))
        return xent_online_run(&o, h, w, target, D, V, grad_scale, dh);
    kn_xent_result r = {0, 0};
    bool want_grad = dh || dw;
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        int64_t m = n - c0 < chunk ? n - c0 : chunk;
        const float *hc = h + c0 * D;
        kn_linear_fwd(scratch, hc, w, m, V, D, false);
        if (logits_out) memcpy(logits_out + c0 * V, scratch, (size_t)(m * V) * sizeof(float));
        rows_xent(scratch, target + c0, m, V, grad_scale, want_grad, &r);
        if (want_grad)
            kn_linear_bwd(dh ? dh + c0 * D : NULL, dw, scratch, hc, w, m, V, D);
    }
    return r;
}

/* One logits pass for all rows, then dh by one GEMM and dW a block of vocabulary rows at a
 * time: the GEMM for rows [v0, v0 + nb) of dW is the same K = n sum as kn_linear_bwd's for
 * those rows, so the blocks equal what the chunked path computes with a chunk of n rows. */
kn_xent_result kn_lmhead_xent_dw_blocks(const float *h, const float *w, const int32_t *target,
                                        int64_t n, int64_t D, int64_t V, float grad_scale,
                                        float *dh, float *scratch, int64_t vb, kn_rows_fn fn,
                                        void *ctx) {
    kn_xent_result r = {0, 0};
    if (n <= 0) return r;
    float *dl = scratch, *blk = scratch + n * V;
    kn_linear_fwd(dl, h, w, n, V, D, false);
    rows_xent(dl, target, n, V, grad_scale, true, &r);
    kn_linear_bwd(dh, NULL, dl, h, w, n, V, D);
    for (int64_t v0 = 0; v0 < V; v0 += vb) {
        int64_t nb = V - v0 < vb ? V - v0 : vb;
        kn_sgemm(KN_T, KN_N, nb, D, n, 1.0f, dl + v0, V, h, D, 0.0f, blk, D);
        fn(ctx, v0, nb, blk);
    }
    return r;
}
