/* Private to src/model/m4_*.c: the model struct, per-layer activations and the per-batch
 * context shared by the layer forward/backward. */
#ifndef NEWT_MODEL_M4_INTERNAL_H
#define NEWT_MODEL_M4_INTERNAL_H

#include <stddef.h>

#include "kernels/kernels.h"
#include "model/m4_model.h"
#include "tensor/nf4.h"

/* What one layer keeps between forward and backward (rows = N tokens). */
typedef struct {
    float *u, *rstd_in;            /* input norm (u: scratch, remade in backward) */
    float *cq, *rstd_q, *cqn;      /* q_a_proj output, its norm (q_lora_rank > 0) */
    float *q;                      /* [N, H·dqk], rope applied */
    float *a, *rstd_kv, *ckvn;     /* kv_a_proj output (rope part rotated), latent norm */
    float *kv;                     /* [N, H·(dn+dv)] */
    float *k;                      /* [N, H·dqk] assembled keys */
    float *lse, *att;              /* [B·H·T], [N, H·dv] */
    float *h, *u2, *rstd_post;     /* residual after attention, post-attention norm (u2: scratch) */
    float *probs, *w;              /* router softmax [N,E], weights [N,k] */
    int32_t *idx, *slot_tok, *inv; /* experts [N,k]; sorted slot → t·k+j; t·k+j → slot */
    int64_t *offs;                 /* [E+1] slot ranges per expert */
    float *gu;                     /* routed: [N·k, 2F] by slot; dense: [N, 2I] (SwiGLU out: remade) */
    float *sgu;                    /* shared experts [N, 2S] */
} m4_acts;

typedef struct {
    int64_t B, T, N;
    float *cos_t, *sin_t, *qscale; /* [N, dr/2] ×2, [N] */
    int32_t *seg;                  /* [N] or NULL */
    uint8_t *keep;                 /* [N] or NULL */
    float *attn_scratch;           /* threads × kn_attention_scratch */
} m4_ctx;

/* Where a parameter's values live: TN_F32 in m->params (at poff), else compact here. */
typedef struct {
    tn_dtype dtype;
    uint16_t *bf16;                /* TN_BF16: numel values */
    tn_nf4 nf4;                    /* TN_NF4 */
} m4_store;

typedef struct m4_lora m4_lora; /* m4_lora.c: adapters attached to the model */

#define M4_LAYER_FIELDS (sizeof(m4_layer_params) / sizeof(float *))

struct m4_model {
    m4_text_config cfg;
    m4_options opt;
    size_t n_info;
    m4_param_info *info;
    int64_t n_floats;              /* all parameters (elements) */
    float *params, *grads;
    m4_params p, g;                /* NULL fields: compact storage / frozen (no gradient) */
    bool *trainable;               /* [n_info] */
    m4_param_policy *pol;          /* [n_info] storage policy (dtype, double quant) */
    m4_store *store;               /* [n_info] */
    size_t *poff, *goff;           /* [n_info] f32 offsets in params / grads, SIZE_MAX: none */
    int64_t n_pfloats, n_gfloats;  /* sizes of the params / grads allocations */
    bool grads_ready;              /* m->g points at the current gradient layout */
    bool grads_zero;               /* every gradient (adapters' too) is known to be 0 */
    int32_t *lidx;                 /* [num_layers × M4_LAYER_FIELDS] tensor index or -1 */
    kn_router_params router;
    float *inv_freq;
    float rope_attention_factor, softmax_scale;
    /* state of the last forward */
    nt_arena acts_arena, scratch;
    nt_arena *tscratch;            /* [n_tscratch] one per team member of a parallel region */
    int n_tscratch;
    bool experts_serial;           /* tests: force the one-expert-after-another order */
    m4_ctx ctx;
    m4_acts *acts;                 /* num_layers (or 1 with checkpointing) */
    float **xs;                    /* num_layers + 1 residual states */
    float *final_norm, *rstd_final, *dfinal; /* dfinal: d loss / d final_norm output */
    const int32_t *ids;
    bool have_grad;
    m4_lora *lora;                 /* NULL: no adapters */
    /* optimizer in backward (m4_sink.c); sink.grad NULL: gradients live in m->grads */
    m4_grad_sink sink;
    int32_t *grp;                  /* [n_info] sink group of a trainable tensor (m4_sink_layout) */
    int64_t *grp_floats;           /* [num_layers + 3] gradient floats of each group */
    float *tied_g;                 /* tied head + embedding with a sink: their gradient (acts) */
};

/* The sink's side of the model (m4_sink.c). Groups: decoder layer l is group l, then the
 * final norm (num_layers), the embedding with a tied head (num_layers + 1), an untied lm_head
 * (num_layers + 2). m4_sink_layout replaces m4_model_alloc_grads's buffer: goff becomes the
 * offset in the tensor's group. m4_sink_head runs the fused loss for a forward with
 * gradients; m4_sink_backward is the whole backward. */
nt_status m4_sink_layout(m4_model *m, nt_err *err);
kn_xent_result m4_sink_head(m4_model *m, const int32_t *tg, int64_t count, float scale);
nt_status m4_sink_backward(m4_model *m, float *dx, float *dh, nt_err *err);
void m4_sink_free(m4_model *m);
int64_t m4_sink_largest_group(const m4_model *m); /* floats; after m4_sink_layout */
/* Backward of decoder layer l (m4_forward.c): dx holds d loss / d (its output) on entry and
 * d loss / d (its input) on return; dh is scratch. */
nt_status m4_layer_bwd(m4_model *m, int64_t l, float *dx, float *dh, nt_err *err);

/* Points p's fields at base + offs[i] (NULL where offs[i] == SIZE_MAX). */
void m4_point_params(const m4_model *m, float *base, const size_t *offs, m4_params *p);
/* Fills m->lidx from the table (which tensor backs each m4_layer_params field). */
void m4_index_layers(m4_model *m);
/* Compact storage (dt TN_BF16 or TN_NF4) of tensor p from its f32 values src. */
nt_status m4_store_make(m4_store *s, const m4_param_info *p, tn_dtype dt, bool double_quant,
                        const float *src, nt_err *err);
void m4_store_free(m4_store *s);

/* A weight as the layer code sees it: f32 rows, or compact storage to dequantize per tile;
 * row0 selects a row range (one expert of a fused [E, R, C] tensor is row0 = e·R). idx is the
 * tensor's table index: where a LoRA adapter will be looked up. */
typedef struct {
    const float *f;                /* f32 data (already offset by row0·K) or NULL */
    const m4_store *s;             /* compact storage when f is NULL */
    int64_t row0;
    int64_t lrow;                  /* row offset in the tensor whatever the storage (LoRA) */
    int32_t idx;
} m4_wt;

m4_wt m4_weight(const m4_model *m, int64_t l, size_t field_off);
#define M4_W(m, l, field) m4_weight((m), (l), offsetof(m4_layer_params, field))
/* The rows [row0, row0 + ·) of a weight with K columns (expert slices). */
m4_wt m4_wt_rows(m4_wt w, int64_t row0, int64_t K);
/* Gradient slice: g + off, or NULL for a frozen parameter (g == NULL). */
static inline float *m4_gslice(float *g, int64_t off) { return g ? g + off : NULL; }

/* y[M,N] (+)= x·Wᵀ and dx += dy·W, dw += dyᵀ·x (dw NULL: frozen; compact weights are always
 * frozen) with W [N, K] rows contiguous; compact weights are dequantized by the GEMM while it
 * packs them (no scratch: callable from several threads at once). */
void m4_lin_fwd(m4_model *m, float *y, int64_t ldy, const float *x, int64_t ldx, m4_wt w,
                int64_t M, int64_t N, int64_t K, bool accumulate);
void m4_lin_bwd(m4_model *m, float *dx, int64_t lddx, float *dw, const float *dy, int64_t lddy,
                const float *x, int64_t ldx, m4_wt w, int64_t M, int64_t N, int64_t K);
/* The LoRA branch of a linear (m4_lora_math.c): no-ops unless tensor w.idx has an adapter.
 * fwd: y += s·(drop(x)·A_eᵀ)·B_eᵀ. bwd: dA, dB from dy and x (skipped when x is NULL) and
 * dx += the branch's share (skipped when dx is NULL). */
bool m4_lora_on(const m4_model *m, int32_t idx);
void m4_lora_fwd(m4_model *m, float *y, int64_t ldy, const float *x, int64_t ldx, m4_wt w,
                 int64_t M, int64_t N, int64_t K);
void m4_lora_bwd(m4_model *m, float *dx, int64_t lddx, const float *dy, int64_t lddy,
                 const float *x, int64_t ldx, m4_wt w, int64_t M, int64_t N, int64_t K);
void m4_lora_free(m4_lora *l);
nt_status m4_acts_alloc(m4_model *m, m4_acts *a, int64_t l, nt_err *err);

void m4_attn_fwd(m4_model *m, int64_t l, const float *x, float *out, m4_acts *a);
void m4_attn_bwd(m4_model *m, int64_t l, const float *x, const float *dout, float *dx,
                 m4_acts *a);
void m4_mlp_fwd(m4_model *m, int64_t l, float *out, m4_acts *a);
void m4_mlp_bwd(m4_model *m, int64_t l, const float *dout, float *du2, m4_acts *a);

/* Scratch floats from the calling thread's scratch arena (aborts on OOM like nt_xmalloc:
 * the planned sizes were checked when the step began). Outside a parallel region that is the
 * model's arena (m->scratch); inside one, the team member's own (m->tscratch[thread]), so
 * code run per expert from an `omp parallel for` may take scratch. m4_scratch_mark and
 * m4_scratch_rollback scope scratch on the same arena. */
float *m4_scratch(m4_model *m, int64_t nfloats, bool zero);
nt_arena_pos m4_scratch_mark(m4_model *m);
void m4_scratch_rollback(m4_model *m, nt_arena_pos pos);
/* Before a forward or backward, outside any parallel region: resets every scratch arena and
 * makes sure there is one per OpenMP thread (grow-only: the chunks are kept across steps). */
void m4_scratch_begin(m4_model *m);

#endif
