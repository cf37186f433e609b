/* Private to src/model/m4_*.c: the model struct, per-layer activations and the per-batch
 * context shared by the layer forward/backward. */
#ifndef NEWT_MODEL_M4_INTERNAL_H
#define NEWT_MODEL_M4_INTERNAL_H

#include "kernels/kernels.h"
#include "model/m4_model.h"

/* What one layer keeps between forward and backward (rows = N tokens). */
typedef struct {
    float *u, *rstd_in;            /* input norm */
    float *cq, *rstd_q, *cqn;      /* q_a_proj output, its norm (q_lora_rank > 0) */
    float *q;                      /* [N, H·dqk], rope applied */
    float *a, *rstd_kv, *ckvn;     /* kv_a_proj output (rope part rotated), latent norm */
    float *kv;                     /* [N, H·(dn+dv)] */
    float *k;                      /* [N, H·dqk] assembled keys */
    float *lse, *att;              /* [B·H·T], [N, H·dv] */
    float *h, *u2, *rstd_post;     /* residual after attention, post-attention norm */
    float *probs, *w;              /* router softmax [N,E], weights [N,k] */
    int32_t *idx, *slot_tok, *inv; /* experts [N,k]; sorted slot → t·k+j; t·k+j → slot */
    int64_t *offs;                 /* [E+1] slot ranges per expert */
    float *gu, *he;                /* routed: [N·k, 2F], [N·k, F] by slot; dense: [N, 2I], [N, I] */
    float *sgu, *sh;               /* shared experts [N, 2S], [N, S] */
} m4_acts;

typedef struct {
    int64_t B, T, N;
    float *cos_t, *sin_t, *qscale; /* [N, dr/2] ×2, [N] */
    int32_t *seg;                  /* [N] or NULL */
    uint8_t *keep;                 /* [N] or NULL */
    float *attn_scratch;           /* threads × kn_attention_scratch */
} m4_ctx;

struct m4_model {
    m4_text_config cfg;
    m4_options opt;
    size_t n_info;
    m4_param_info *info;
    int64_t n_floats;
    float *params, *grads;
    m4_params p, g;
    kn_router_params router;
    float *inv_freq;
    float rope_attention_factor, softmax_scale;
    /* state of the last forward */
    nt_arena acts_arena, scratch;
    m4_ctx ctx;
    m4_acts *acts;                 /* num_layers (or 1 with checkpointing) */
    float **xs;                    /* num_layers + 1 residual states */
    float *final_norm, *rstd_final, *dfinal; /* dfinal: d loss / d final_norm output */
    const int32_t *ids;
    bool have_grad;
};

void m4_point_params(const m4_model *m, float *base, m4_params *p);
nt_status m4_acts_alloc(m4_model *m, m4_acts *a, int64_t l, nt_err *err);

void m4_attn_fwd(m4_model *m, int64_t l, const float *x, float *out, m4_acts *a);
void m4_attn_bwd(m4_model *m, int64_t l, const float *x, const float *dout, float *dx,
                 m4_acts *a);
void m4_mlp_fwd(m4_model *m, int64_t l, float *out, m4_acts *a);
void m4_mlp_bwd(m4_model *m, int64_t l, const float *dout, float *du2, m4_acts *a);

/* Scratch floats from the model's scratch arena (aborts on OOM like nt_xmalloc: the
 * planned sizes were checked when the step began). */
float *m4_scratch(m4_model *m, int64_t nfloats, bool zero);

#endif
