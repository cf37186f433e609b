/* Compute kernels: the one interface every backend implements (this CPU one now, a CUDA one
 * later). Plain functions on raw row-major float32 pointers and sizes; no model knowledge.
 *
 * Conventions (llm.c style):
 *   - every op has an explicit forward and backward;
 *   - backward functions ACCUMULATE (+=) into every gradient they produce (dx, dw, ...), so
 *     the caller zeroes gradient buffers once and residual branches add up for free; a NULL
 *     gradient pointer means "not needed";
 *   - forwards write (=) their outputs unless a parameter says to accumulate;
 *   - no kernel allocates: scratch comes from the caller (sizes documented per function);
 *   - "linear" means PyTorch's y = x·Wᵀ with W stored [out, in].
 * Threads: OpenMP inside the kernels and newt's own GEMM (OpenBLAS, OpenMP build, as the
 * fallback), one pool. */
#ifndef NEWT_KERNELS_KERNELS_H
#define NEWT_KERNELS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- SGEMM (kn_sgemm*.c) ----
 * C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C, row-major, exactly cblas_sgemm(CblasRowMajor,
 * ...) semantics: op(X) = X (KN_N) or Xᵀ (KN_T); lda/ldb/ldc are row strides of the stored
 * matrices; beta == 0 means C is not read (NaN in C is overwritten). On CPUs with AVX-512
 * newt's own packed kernel runs (OpenMP team when called outside a parallel region, the
 * calling thread alone inside one); elsewhere, or with NEWT_GEMM=blas in the environment,
 * OpenBLAS. Results are bitwise identical for a given shape whatever the thread count. */
typedef enum { KN_N = 0, KN_T = 1 } kn_trans;

void kn_sgemm(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc);

/* A weight matrix W (the B operand of a linear layer) in f32, bf16 or NF4 storage. Element
 * (r, c) of W is element off + r·ld + c of the flat storage. NF4 is bitsandbytes' layout
 * (tensor/nf4.h): flat element e has code (packed[e/2] >> 4 for even e, & 15 for odd) and
 * value quant_map[code] · absmax(e / blocksize), where absmax(b) = absmax[b], or under double
 * quant nested_quant_map[absmax_q[b]] · nested_absmax[b / nested_blocksize] + nested_offset
 * (each product and sum rounded in f32, as tn_nf4_block_absmax does). */
typedef enum { KN_W_F32, KN_W_BF16, KN_W_NF4 } kn_wkind;
typedef struct {
    kn_wkind kind;
    int64_t off, ld;
    const float *f32;
    const uint16_t *bf16;
    const uint8_t *packed;                 /* NF4 */
    int64_t blocksize;                     /* elements per absmax (bnb: 64 … 4096) */
    const float *quant_map;                /* [16] */
    const float *absmax;                   /* [nblocks], NULL under double quant */
    const uint8_t *absmax_q;               /* double quant */
    const float *nested_absmax, *nested_quant_map;
    int64_t nested_blocksize;
    float nested_offset;
} kn_wsrc;

/* kn_sgemm with op(B) = op(W): tb = KN_T reads W as [N, K] (forward y = x·Wᵀ), KN_N as [K, N]
 * (backward dx = dy·W). Compact W is dequantized straight into the packed panels (no f32 copy
 * of W); each value is bit-identical to tensor/'s dequantization. */
void kn_sgemm_w(kn_trans ta, kn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const kn_wsrc *W, float beta, float *C, int64_t ldc);

/* Which implementation kn_sgemm uses now: "avx512" or "blas" (NEWT_GEMM=blas in the
 * environment, read at every call, or a CPU without AVX-512). */
const char *kn_sgemm_impl(void);

/* ---- GEMM / linear (kn_gemm.c) ---- */

/* y[M,N] (+)= x[M,K] · W[N,K]ᵀ; ld* are row strides in floats. */
void kn_linear_fwd_ld(float *y, int64_t ldy, const float *x, int64_t ldx, const float *w,
                      int64_t ldw, int64_t M, int64_t N, int64_t K, bool accumulate);
void kn_linear_fwd(float *y, const float *x, const float *w, int64_t M, int64_t N, int64_t K,
                   bool accumulate);
/* dx[M,K] += dy[M,N] · W[N,K];  dw[N,K] += dyᵀ · x. Either output may be NULL. */
void kn_linear_bwd_ld(float *dx, int64_t lddx, float *dw, int64_t lddw, const float *dy,
                      int64_t lddy, const float *x, int64_t ldx, const float *w, int64_t ldw,
                      int64_t M, int64_t N, int64_t K);
void kn_linear_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w,
                   int64_t M, int64_t N, int64_t K);

/* ---- RMSNorm (kn_rmsnorm.c) ---- y = w ⊙ x·r, r = (mean(x²) + eps)^-½, per row of d ---- */

/* rstd[n] receives r per row (kept for backward). ldx/ldy: row strides. */
void kn_rmsnorm_fwd(float *y, int64_t ldy, float *rstd, const float *x, int64_t ldx,
                    const float *w, int64_t n, int64_t d, float eps);
/* dx += r·(g − x·r²·mean(g⊙x)), g = dy⊙w;  dw += Σ_rows dy⊙x·r. */
void kn_rmsnorm_bwd(float *dx, int64_t lddx, float *dw, const float *dy, int64_t lddy,
                    const float *x, int64_t ldx, const float *w, const float *rstd, int64_t n,
                    int64_t d);

/* ---- RoPE, interleaved pairs (kn_rope.c) ---- */

typedef struct {
    double theta;                  /* base */
    int64_t dim;                   /* rotary dims (pairs = dim/2) */
    bool yarn;
    double factor;                 /* yarn */
    int64_t original_max;          /* yarn / llama-4 boundary */
    double beta_fast, beta_slow;   /* yarn */
    double attention_factor;       /* multiplies cos and sin (yarn mscale ratio; 1 = none) */
} kn_rope_params;

/* inv_freq[dim/2], computed in float32 exactly as transformers does (YaRN ramp with
 * truncated correction range when p->yarn). */
void kn_rope_inv_freq(const kn_rope_params *p, float *inv_freq);
/* cos/sin tables [n, dim/2] for the given positions: angle = fl32(pos·inv_freq), then
 * cos·attention_factor, sin·attention_factor in float32. */
void kn_rope_table(const int64_t *pos, int64_t n, const float *inv_freq, int64_t half,
                   float attention_factor, float *cos_t, float *sin_t);
/* In place on x: rows n (one per token), each with nh heads at stride head_stride; the rotated
 * part starts at offset rot_off in each head and has 2·half values in adjacent pairs:
 * (a, b) ↦ (a·c − b·s, b·c + a·s). row_stride: floats between tokens. */
void kn_rope_fwd(float *x, int64_t n, int64_t row_stride, int64_t nh, int64_t head_stride,
                 int64_t rot_off, int64_t half, const float *cos_t, const float *sin_t);
/* Backward of the rotation in place (dx = R(−θ)·dy). */
void kn_rope_bwd(float *dx, int64_t n, int64_t row_stride, int64_t nh, int64_t head_stride,
                 int64_t rot_off, int64_t half, const float *cos_t, const float *sin_t);
/* Llama-4 query temperature τ(p) = 1 + β·ln(1 + ⌊p / original_max⌋), in float32 like HF. */
float kn_llama4_qscale(int64_t pos, float beta, int64_t original_max);

/* ---- SwiGLU (kn_swiglu.c): h = silu(a) ⊙ b; a and b rows at stride ldab ---- */

void kn_swiglu_fwd(float *h, const float *a, const float *b, int64_t ldab, int64_t n,
                   int64_t f);
/* da, db (stride ldab) += ...; dh is [n, f]. */
void kn_swiglu_bwd(float *da, float *db, const float *dh, const float *a, const float *b,
                   int64_t ldab, int64_t n, int64_t f);

/* ---- MoE router (kn_router.c) ---- */

typedef struct {
    int64_t n_experts, top_k, n_group, topk_group;
    bool norm_topk_prob;
    float routed_scaling_factor;
} kn_router_params;

/* From router logits z[n, E]: probs[n, E] = softmax(z) (kept for backward), idx[n, k] the
 * selected experts (group-limited: groups ranked by the sum of their two best scores, the
 * topk_group best kept), w[n, k] their weights (renormalized when norm_topk_prob, ×scale).
 * Ties pick the lower index. */
void kn_router_fwd(const float *z, int64_t n, const kn_router_params *p, float *probs,
                   int32_t *idx, float *w);
/* dz[n, E] += gradient of the weights given dw[n, k]. */
void kn_router_bwd(float *dz, const float *dw, const float *probs, const int32_t *idx,
                   const float *w, int64_t n, const kn_router_params *p);

/* ---- causal attention (kn_attention.c) ----
 * Batch of B sequences × T tokens, H heads. Strides (floats) locate row (b, t), head h:
 *   q + (b·T + t)·q_tok + h·q_head, and likewise k, v, o. Query t may attend key s when
 *   s ≤ t, keep[b·T + s] != 0 (NULL: all kept; right padding) and seg[b·T+s] == seg[b·T+t]
 *   (NULL: one segment per row; packing). Scores = qscale[b·T+t] · q·k (qscale folds the
 *   softmax scale and any per-position query temperature). A row with no allowed key gets
 *   o = 0 and lse = −inf. No T×T matrix: lse[B·H·T] (index (b·H + h)·T + t) is kept and tiles
 *   are recomputed in backward. */
typedef struct {
    int64_t B, T, H, dqk, dv;
    int64_t q_tok, q_head, k_tok, k_head, v_tok, v_head, o_tok, o_head;
    int64_t qt; /* query rows per tile; 0: chosen from T (32 below 1024 tokens, else 128) */
} kn_attn_shape;

/* Scratch floats per thread for fwd/bwd; depends on T, dqk, dv and qt (the own SGEMM keeps each
 * head's packed Kᵀ and Vᵀ there). */
size_t kn_attention_scratch(const kn_attn_shape *s);
void kn_attention_fwd(float *o, float *lse, const float *q, const float *k, const float *v,
                      const float *qscale, const int32_t *seg, const uint8_t *keep,
                      const kn_attn_shape *s, float *scratch /* nthreads × scratch() */);
/* dq, dk, dv (same strides as q, k, v) += ...; dout has o's strides. */
void kn_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, const float *o, const float *lse,
                      const float *qscale, const int32_t *seg, const uint8_t *keep,
                      const kn_attn_shape *s, float *scratch);
/* Segment ids from position ids the way transformers detects packed sequences: a new
 * segment starts at t = 0 of each row and wherever pos[t] − pos[t−1] != 1. */
void kn_segments_from_positions(const int64_t *pos, int64_t B, int64_t T, int32_t *seg);

/* ---- fused lm_head + cross-entropy (kn_xent.c) ----
 * Rows h[n, D] predict target[n] (already shifted; < 0 = ignored) through logits h·Wᵀ [n, V],
 * computed chunk rows at a time and never all at once. Returns the loss summed over valid
 * rows (double) and their count. When dh/dw are given, the gradient of grad_scale·(summed
 * loss) is accumulated into them in the same pass (grad_scale = 1/count gives the mean;
 * 1 the sum, for gradient accumulation across micro-batches). logits_out (optional) receives
 * all [n, V] logits. scratch: chunk·V floats. With a frozen head (dw and logits_out NULL) the
 * same scratch instead holds a block of vocabulary rows for all n rows at once (online
 * softmax, kn_xent.c), so W is read once per call rather than once per chunk. */
typedef struct {
    double loss_sum;
    int64_t count;
} kn_xent_result;

kn_xent_result kn_lmhead_xent(const float *h, const float *w, const int32_t *target, int64_t n,
                              int64_t D, int64_t V, float grad_scale, float *dh, float *dw,
                              float *logits_out, float *scratch, int64_t chunk);
/* The same loss and dh (accumulated) with the weight gradient handed out instead of summed
 * into a [V, D] buffer: all n rows' logits at once in scratch (n·V floats, then vb·D for one
 * block), turned into grad_scale·(softmax − onehot), pushed into dh, and then for each block
 * of vb vocabulary rows the block's finished gradient dW[v0 .. v0 + nb) = dlogitsᵀ·h is
 * passed to fn (its buffer is reused after fn returns). Built for an optimizer applied
 * during the backward: at n ≤ D + chunk the n × V logits are smaller than dW plus a chunk. */
typedef void (*kn_rows_fn)(void *ctx, int64_t r0, int64_t nr, const float *rows);
kn_xent_result kn_lmhead_xent_dw_blocks(const float *h, const float *w, const int32_t *target,
                                        int64_t n, int64_t D, int64_t V, float grad_scale,
                                        float *dh, float *scratch, int64_t vb, kn_rows_fn fn,
                                        void *ctx);

/* ---- exp (kn_exp.c) ---- */

/* x[i] = expf(x[i] − m) in place (the subtraction in float), bit-identical to the C library's
 * expf (vectorized on AVX2 + FMA CPUs). */
void kn_exp_shift(float *x, int64_t n, float m);

/* ---- small helpers (kn_util.c) ---- */

/* Largest of x[0..n), n ≥ 1: exactly what a sequential scan with `>` gives. */
float kn_max(const float *x, int64_t n);
/* Σ x[i] accumulated in double, in eight interleaved partial sums. */
double kn_sum_f64(const float *x, int64_t n);
/* y[i] += a·x[i] */
void kn_axpy(float *y, float a, const float *x, int64_t n);
/* Embedding: out[t] = table[ids[t]] (rows of d); backward dtable[ids[t]] += dout[t]. */
void kn_embed_fwd(float *out, const float *table, const int32_t *ids, int64_t n, int64_t d);
void kn_embed_bwd(float *dtable, const float *dout, const int32_t *ids, int64_t n, int64_t d);

#endif
