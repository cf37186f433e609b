/* Causal attention with padding and packing masks, flash-style memory: the forward keeps only
 * the log-sum-exp per query row; the backward recomputes each tile's probabilities from it.
 * Work is split over (sequence, head) pairs; inside one, queries go in tiles of QT rows, and
 * every product of a tile is one small GEMM (single-threaded inside the OpenMP region); the
 * element-wise work between them runs row by row in kn_attn_rows.c. Keys before the segment
 * of the tile's first query are skipped: segments are contiguous, so none of them is visible
 * to the tile. Scratch per thread: two QT × (T + 32) tiles, then (own SGEMM only) this head's
 * Kᵀ and Vᵀ in the SGEMM's packed-B layout: the score products S = Q·Kᵀ and dP = dO·Vᵀ of
 * every tile read them from there instead of re-packing (transposing) all the tile's keys per
 * tile, T²/(2·QT) key rows per head per product; then V (forward) or K (backward) in 64-column
 * strips, the B of P·V and dS·K. The products with the head dimension as N (P·V, dS·K, dSᵀ·Q,
 * Pᵀ·dO) read op(A) in place (kn_sgemm_narrow). Past the causal diagonal nothing is computed
 * that is not needed: score micro-tiles wholly above it are skipped and the narrow products
 * skip the zero k steps, with the same bits as computing everything. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kn_attn_rows.h"
#include "kernels/kn_sgemm_internal.h"

/* Query rows per tile. Before Kᵀ/Vᵀ were packed once per head each tile's GEMMs re-packed the
 * keys and values they read, so small tiles paid that packing once per few queries, while
 * large tiles compute more of the masked half of their diagonal block (QT/2 keys per query).
 * Measured on the benchmark model's LoRA
 * step (2 threads): T = 4096 3166 / 3064 / 2921 / 2955 ms at QT = 32 / 64 / 128 / 256,
 * T = 2048 1092 / 1056 / 1032 ms, T = 1024 471 / 464 / 454 ms, T = 512 236 / 234 ms. With the
 * packing once per head, QT = 64 at T = 4096 still measured slower than 128 (2858 vs 2679 ms,
 * medians of 3). With the fused rows and in-place narrow products (bench/attn_bench, 1 thread,
 * forward + backward at 4096) 96 and 128 measured the same (350-363 ms), 64 about 4 % slower,
 * 192 and 256 16 and 24 % slower. */
static int64_t tile_rows(const kn_attn_shape *s) {
    if (s->qt > 0) return s->qt;
    return s->T >= 1024 ? 128 : 32;
}
#define QT tile_rows(s)

/* Row stride of the score tiles: whole 64-byte lines, an odd number of them. With a stride of
 * a multiple of 4 KiB (nk = 1024·j keys) every row of a 12-row block maps to the same L1 set
 * and the GEMMs reading the tile in place (P·V, dS·K, dSᵀ·Q, Pᵀ·dO) evict their own lines. */
static int64_t tile_ld(int64_t nk) {
    int64_t ld = (nk + 15) / 16 * 16;
    return ld / 16 % 2 ? ld : ld + 16;
}

/* Keys rounded up to whole packed panels. */
static int64_t t_padded(const kn_attn_shape *s) { return (s->T + KN_NR - 1) / KN_NR * KN_NR; }

/* Floats of one score tile: QT rows of at most tile_ld(T) (≤ T + 31). */
static int64_t tile_floats(const kn_attn_shape *s) { return QT * (s->T + 32); }

/* Floats between two 64-column strips of V or K (kn_strips64_fill): all T rows. */
static int64_t strip_stride(const kn_attn_shape *s) { return t_padded(s) * 64; }

/* Floats of the strips of V (forward) or K (backward), whichever is wider. */
static int64_t strips_floats(const kn_attn_shape *s) {
    int64_t w = s->dqk > s->dv ? s->dqk : s->dv;
    return (w + 63) / 64 * strip_stride(s);
}

/* S and dS tiles, slack, then 64-byte alignment slack and the packed Kᵀ, Vᵀ, then the
 * strips. */
size_t kn_attention_scratch(const kn_attn_shape *s) {
    return (size_t)(2 * tile_floats(s) + 16 + 16) + kn_bpack_floats(s->dqk + s->dv, t_padded(s)) +
           (size_t)strips_floats(s);
}

/* The packed area of a thread's scratch slice, 64-byte aligned. */
static float *pack_area(const kn_attn_shape *s, float *slice) {
    uintptr_t a = (uintptr_t)(slice + 2 * tile_floats(s) + 16);
    return (float *)((a + 63) & ~(uintptr_t)63);
}

/* The strips area, after Kᵀ and Vᵀ (whole panels of 32·64-byte lines: still aligned). */
static float *strips_area(const kn_attn_shape *s, float *slice) {
    return pack_area(s, slice) + kn_bpack_floats(s->dqk + s->dv, t_padded(s));
}

/* Whether the products read caller-packed Kᵀ/Vᵀ: only on the own AVX-512 SGEMM (the
 * OpenBLAS path keeps plain calls). Decided once per call, outside the parallel region. */
static bool use_packed(const kn_attn_shape *s) {
    return s->dqk > 0 && s->dv > 0 && kn_sgemm_own();
}

typedef struct {
    const kn_attn_shape *s;
    const float *qb, *kb, *vb, *qscale; /* bases of this (b, h) */
    const int32_t *seg;
    const uint8_t *keep;                /* per row of this sequence */
    int64_t t0, nq, ks, nk;             /* query tile [t0, t0+nq), keys [ks, ks+nk) */
    int64_t s0;                         /* first key of t0's sample (ks ≤ s0 ≤ t0) */
    int64_t ld;                         /* row stride of the S, P, dS tiles (tile_ld) */
    const kn_bpack *kp, *vp;            /* packed Kᵀ, Vᵀ of all T keys, or NULL: plain GEMMs */
    const float *bs;                    /* V (forward) or K (backward) of all T keys in strips */
} tile;

/* C = op(A)·B + beta·C for the products whose N is a head dimension (P·V, dS·K, dSᵀ·Q,
 * Pᵀ·dO): on the own SGEMM read in place with no packing (kn_sgemm_narrow, the same bits as
 * kn_sgemm), B from the head's strips when it is V or K (`strips`: B is rows ks.. of them),
 * else plain kn_sgemm. */
static void gemm_b(const tile *c, kn_trans ta, int64_t M, int64_t N, int64_t K, const float *A,
                   int64_t lda, const float *B, int64_t ldb, bool strips, float beta, float *C,
                   int64_t ldc) {
    /* P and dS are zero past the causal diagonal (key ks + j > query t0 + i, j > i + diag):
     * op(A) = P, dS is lower (k ≤ i + diag), op(A) = Pᵀ, dSᵀ upper (k ≥ i − diag) */
    int64_t diag = c->t0 - c->ks;
    kn_band band = ta == KN_N ? (kn_band){KN_BAND_ALL.lo, diag} : (kn_band){diag, KN_BAND_ALL.hi};
    if (c->kp && strips)
        kn_sgemm_narrow_strips(ta, M, N, K, 1.0f, A, lda, c->bs + c->ks * 64, strip_stride(c->s),
                               beta, C, ldc, band);
    else if (c->kp) kn_sgemm_narrow_band(ta, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc, band);
    else kn_sgemm(ta, KN_N, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

static inline bool allowed(const tile *c, int64_t t, int64_t s) {
    if (s > t) return false;
    if (c->keep && !c->keep[s]) return false;
    return !c->seg || c->seg[s] == c->seg[t];
}

/* First key that can be visible to query t0: its segment's start. */
static int64_t key_start(const int32_t *seg, int64_t t0) {
    int64_t s = t0;
    while (seg && s > 0 && seg[s - 1] == seg[t0]) s--;
    return seg ? s : 0;
}

/* The keys row i sees, [lo, hi) of the tile's: from its sample's first key (samples are
 * contiguous) to its own. *start carries the sample start from row i − 1 to row i (rows go
 * in order; row 0 takes the tile's s0), so finding it costs O(1) per row. False when a padded
 * key (keep = 0) falls inside: that row is masked key by key (allowed()) instead. */
static bool row_range(const tile *c, int64_t i, int64_t *start, int64_t *lo, int64_t *hi) {
    int64_t t = c->t0 + i;
    if (i == 0) *start = c->s0;
    else if (c->seg && c->seg[t] != c->seg[t - 1]) *start = t;
    *lo = *start - c->ks, *hi = t - c->ks + 1;
    return !c->keep || !memchr(c->keep + *start, 0, (size_t)(t + 1 - *start));
}

/* S = Q·Kᵀ of the tile. The rows stay raw dot products: the row kernels scale them and treat
 * the keys outside row_range as masked. Rows with padding inside their range are scaled and
 * masked (−inf) here. On the packed path the micro-tiles wholly past the causal diagonal are
 * not computed: those scores are never read (the row kernels stop at the row's own key). */
static void scores(float *S, const tile *c) {
    const kn_attn_shape *s = c->s;
    if (c->kp)
        kn_sgemm_bpacked_lower(KN_N, c->nq, c->ks, c->nk, 1.0f, c->qb + c->t0 * s->q_tok, s->q_tok,
                               c->kp, 0.0f, S, c->ld, c->t0 - c->ks);
    else
        kn_sgemm(KN_N, KN_T, c->nq, c->nk, s->dqk, 1.0f, c->qb + c->t0 * s->q_tok, s->q_tok,
                 c->kb + c->ks * s->k_tok, s->k_tok, 0.0f, S, c->ld);
    if (!c->keep) return;
    int64_t start = 0, lo, hi;
    for (int64_t i = 0; i < c->nq; i++) {
        if (row_range(c, i, &start, &lo, &hi)) continue;
        float qs = c->qscale[c->t0 + i], *r = S + i * c->ld;
        for (int64_t j = 0; j < c->nk; j++)
            r[j] = allowed(c, c->t0 + i, c->ks + j) ? qs * r[j] : -INFINITY;
    }
}

/* The row kernels' view of row i: its visible keys and scale; when scores() masked it key by
 * key, the row up to its own key (no later one is computed), already scaled. */
typedef struct {
    int64_t lo, hi;
    float scale;
} row_view;

static row_view view_of(const tile *c, int64_t i, int64_t *start) {
    int64_t lo, hi;
    if (row_range(c, i, start, &lo, &hi)) return (row_view){lo, hi, c->qscale[c->t0 + i]};
    return (row_view){0, hi, 1.0f};
}

static void fwd_tile(float *o, float *lse, const tile *c, float *S) {
    const kn_attn_shape *s = c->s;
    scores(S, c);
    int64_t start = 0;
    for (int64_t i = 0; i < c->nq; i++) {
        row_view w = view_of(c, i, &start);
        lse[c->t0 + i] = kn_attn_softmax_row(S + i * c->ld, c->nk, w.lo, w.hi, w.scale);
    }
    gemm_b(c, KN_N, c->nq, s->dv, c->nk, S, c->ld, c->vb + c->ks * s->v_tok, s->v_tok, true, 0.0f,
           o + c->t0 * s->o_tok, s->o_tok);
}

static tile tile_at(const kn_attn_shape *s, int64_t bh, const float *q, const float *k,
                    const float *v, const float *qscale, const int32_t *seg, const uint8_t *keep) {
    int64_t b = bh / s->H, h = bh % s->H, row0 = b * s->T;
    return (tile){.s = s, .qb = q + row0 * s->q_tok + h * s->q_head,
                  .kb = k + row0 * s->k_tok + h * s->k_head, .vb = v + row0 * s->v_tok + h * s->v_head,
                  .qscale = qscale + row0, .seg = seg ? seg + row0 : NULL, .keep = keep ? keep + row0 : NULL};
}

static void set_range(tile *c, int64_t t0) {
    c->t0 = t0;
    int64_t qt = tile_rows(c->s);
    c->nq = c->s->T - t0 < qt ? c->s->T - t0 : qt;
    c->ks = c->s0 = key_start(c->seg, t0);
    /* Packed panels start at multiples of NR: a segment starting elsewhere (packing) takes
     * the keys before it from the aligned-down start too, masked by allowed() like any key
     * of another segment (their P and dS are 0, so they add exact zeros to dK, dV). */
    if (c->kp) c->ks -= c->ks % KN_NR;
    c->nk = t0 + c->nq - c->ks;
    c->ld = tile_ld(c->nk);
}

void kn_attention_fwd(float *o, float *lse, const float *q, const float *k, const float *v,
                      const float *qscale, const int32_t *seg, const uint8_t *keep,
                      const kn_attn_shape *s, float *scratch) {
    int64_t BH = s->B * s->H;
    bool packed = use_packed(s);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < BH; bh++) {
        float *S = scratch + (size_t)omp_get_thread_num() * kn_attention_scratch(s);
        int64_t b = bh / s->H, h = bh % s->H;
        tile c = tile_at(s, bh, q, k, v, qscale, seg, keep);
        kn_bpack kp;
        if (packed) {
            kp = kn_bpack_fill(KN_T, c.kb, s->k_tok, s->dqk, s->T, pack_area(s, S));
            c.kp = &kp;
            float *bs = strips_area(s, S);
            kn_strips64_fill(bs, strip_stride(s), c.vb, s->v_tok, s->T, s->dv);
            c.bs = bs;
        }
        float *ob = o + b * s->T * s->o_tok + h * s->o_head;
        for (int64_t t0 = 0; t0 < s->T; t0 += QT) {
            set_range(&c, t0);
            fwd_tile(ob, lse + bh * s->T, &c, S);
        }
    }
}

typedef struct {
    float *dqb, *dkb, *dvb;
    const float *dob, *ob, *lse;
} grads;

/* P = exp(S − lse) recomputed; dS = P⊙(dO·Vᵀ − rowsum(dO⊙O))·qscale; then three GEMMs. */
static void bwd_tile(const tile *c, const grads *g, float *P, float *dS) {
    const kn_attn_shape *s = c->s;
    int64_t nq = c->nq, nk = c->nk, ld = c->ld;
    scores(P, c);
    const float *dot = g->dob + c->t0 * s->o_tok;
    if (c->vp)
        kn_sgemm_bpacked_lower(KN_N, nq, c->ks, nk, 1.0f, dot, s->o_tok, c->vp, 0.0f, dS, ld,
                               c->t0 - c->ks);
    else
        kn_sgemm(KN_N, KN_T, nq, nk, s->dv, 1.0f, dot, s->o_tok, c->vb + c->ks * s->v_tok, s->v_tok,
                 0.0f, dS, ld);
    int64_t start = 0;
    for (int64_t i = 0; i < nq; i++) {
        const float *doi = dot + i * s->o_tok, *oi = g->ob + (c->t0 + i) * s->o_tok;
        float D = 0;
        for (int64_t j = 0; j < s->dv; j++) D += doi[j] * oi[j];
        row_view w = view_of(c, i, &start);
        kn_attn_grad_row(P + i * ld, dS + i * ld, nk, w.lo, w.hi, w.scale, g->lse[c->t0 + i], D,
                         c->qscale[c->t0 + i]);
    }
    if (g->dqb)
        gemm_b(c, KN_N, nq, s->dqk, nk, dS, ld, c->kb + c->ks * s->k_tok, s->k_tok, true, 1.0f,
               g->dqb + c->t0 * s->q_tok, s->q_tok);
    if (g->dkb)
        gemm_b(c, KN_T, nk, s->dqk, nq, dS, ld, c->qb + c->t0 * s->q_tok, s->q_tok, false, 1.0f,
               g->dkb + c->ks * s->k_tok, s->k_tok);
    if (g->dvb)
        gemm_b(c, KN_T, nk, s->dv, nq, P, ld, dot, s->o_tok, false, 1.0f, g->dvb + c->ks * s->v_tok,
               s->v_tok);
}

void kn_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, const float *o, const float *lse,
                      const float *qscale, const int32_t *seg, const uint8_t *keep,
                      const kn_attn_shape *s, float *scratch) {
    int64_t BH = s->B * s->H;
    bool packed = use_packed(s);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t bh = 0; bh < BH; bh++) {
        float *P = scratch + (size_t)omp_get_thread_num() * kn_attention_scratch(s);
        int64_t b = bh / s->H, h = bh % s->H, row0 = b * s->T;
        tile c = tile_at(s, bh, q, k, v, qscale, seg, keep);
        kn_bpack kp, vp;
        if (packed) {
            float *area = pack_area(s, P);
            kp = kn_bpack_fill(KN_T, c.kb, s->k_tok, s->dqk, s->T, area);
            vp = kn_bpack_fill(KN_T, c.vb, s->v_tok, s->dv, s->T, area + kn_bpack_floats(s->dqk, s->T));
            c.kp = &kp, c.vp = &vp;
            if (dq) {
                float *bs = strips_area(s, P);
                kn_strips64_fill(bs, strip_stride(s), c.kb, s->k_tok, s->T, s->dqk);
                c.bs = bs;
            }
        }
        grads g = {.dqb = dq ? dq + row0 * s->q_tok + h * s->q_head : NULL,
                   .dkb = dk ? dk + row0 * s->k_tok + h * s->k_head : NULL,
                   .dvb = dv ? dv + row0 * s->v_tok + h * s->v_head : NULL,
                   .dob = dout + row0 * s->o_tok + h * s->o_head,
                   .ob = o + row0 * s->o_tok + h * s->o_head, .lse = lse + bh * s->T};
        for (int64_t t0 = 0; t0 < s->T; t0 += QT) {
            set_range(&c, t0);
            bwd_tile(&c, &g, P, P + tile_floats(s));
        }
    }
}

void kn_segments_from_positions(const int64_t *pos, int64_t B, int64_t T, int32_t *seg) {
    for (int64_t b = 0; b < B; b++) {
        int32_t id = 0;
        for (int64_t t = 0; t < T; t++) {
            if (t > 0 && pos[b * T + t] - pos[b * T + t - 1] != 1) id++;
            seg[b * T + t] = id;
        }
    }
}
