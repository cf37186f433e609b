/* The Mistral 4 text model (MLA attention + MoE) on CPU: parameters, forward, backward.
 *
 * Parameters live in ONE float32 allocation (llm.c style) laid out in checkpoint order, with
 * a table of HF names/shapes/offsets (m4_enum_tensors, text layout) and a struct of typed
 * pointers into it; gradients use the same layout in a second allocation, so "the gradient
 * of parameter i" is always grads + info[i].offset.
 *
 * Frozen parameters and compact storage (m4_model_apply_policy): a frozen parameter has no
 * gradient allocation and the backward skips its weight-gradient GEMM (dX still flows). A
 * frozen decoder-layer linear weight may be stored bf16 or NF4 (bitsandbytes layout) instead
 * of f32: it then leaves the f32 allocation, and every GEMM that uses it dequantizes a tile of
 * rows (or one expert's rows of a fused expert tensor) into scratch just before the call —
 * the whole f32 matrix never exists. Every linear goes through one call site (m4_lin_fwd /
 * m4_lin_bwd, m4_internal.h), where a LoRA adapter (issue #7) adds x·Aᵀ·Bᵀ·s.
 *
 * Numerics follow transformers' Mistral4ForCausalLM (spec mistral4.md §2-3): see docs/model.md. */
#ifndef NEWT_MODEL_M4_MODEL_H
#define NEWT_MODEL_M4_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/error.h"
#include "model/m4_config.h"
#include "tensor/dtype.h"

typedef struct {
    float *input_norm, *post_norm;
    float *q_proj;                    /* q_lora_rank == 0 */
    float *q_a, *q_a_norm, *q_b;      /* q_lora_rank > 0 */
    float *kv_a, *kv_a_norm, *kv_b, *o;
    float *router, *gate_up, *down;   /* MoE: [E,D], [E,2F,D], [E,D,F] */
    float *sh_gate, *sh_up, *sh_down; /* shared experts (NULL if none) */
    float *mlp_gate, *mlp_up, *mlp_down; /* dense layers */
} m4_layer_params;

typedef struct {
    float *embed, *norm, *lm_head;    /* lm_head == embed when tied */
    m4_layer_params *layers;
} m4_params;

typedef struct {
    char name[160];                   /* HF text-layout name, e.g. model.layers.0.mlp.gate.weight */
    int ndim;
    int64_t shape[3];
    int64_t numel;
    size_t offset;                    /* in floats, in the all-f32 layout (checkpoint order) */
} m4_param_info;

typedef struct {
    int64_t B, T;
    const int32_t *input_ids;         /* [B*T] */
    const int32_t *labels;            /* [B*T] or NULL (no loss); -100 = ignored */
    const uint8_t *attention_mask;    /* [B*T] or NULL (all ones) */
    const int64_t *position_ids;      /* [B*T] or NULL (0..T-1 per row) */
} m4_batch;

typedef struct {
    bool checkpointing;   /* keep only each layer's input; recompute the layer in backward */
    bool loss_sum;        /* loss = sum over trained tokens (and grads of the sum), not mean */
    double softmax_scale; /* 0: transformers' rule (qk_head_dim^-½ · mscale² if mscale_all_dim) */
    int64_t xent_chunk;   /* token rows per lm_head chunk (0: a 32 MiB block, 64..1024 rows) */
} m4_options;

typedef struct m4_model m4_model;

/* Builds the parameter table and allocates parameters (zeroed) for the text config. */
nt_status m4_model_new(const m4_text_config *cfg, const m4_options *opt, m4_model **out,
                       nt_err *err);
void m4_model_free(m4_model *m);

const m4_text_config *m4_model_config(const m4_model *m);
size_t m4_model_num_params(const m4_model *m);           /* tensors */
const m4_param_info *m4_model_param(const m4_model *m, size_t i);
/* f32 values of tensor i; NULL when it is stored bf16/NF4. Invalidated by apply_policy. */
float *m4_model_param_data(m4_model *m, size_t i);
/* NULL before m4_model_alloc_grads and for frozen parameters. With every parameter trainable
 * the gradients are one allocation in table order (grad_data(0) + info.offset). A writable
 * pointer: the model no longer assumes its gradients are zero (m4_model_zero_grads). */
float *m4_model_grad_data(m4_model *m, size_t i);
/* Index of the tensor with this text-layout name, or -1. */
int64_t m4_model_find_param(const m4_model *m, const char *name);
const m4_params *m4_model_params(const m4_model *m);
int64_t m4_model_num_floats(const m4_model *m);          /* total parameter count */
void m4_model_set_options(m4_model *m, const m4_options *opt);

/* Fills parameters from a checkpoint opened with m4_weights_open (model/m4_load.h: any name
 * layout; F32/BF16/F16/F8_E4M3+scale, exact). Tensors with compact storage (apply_policy
 * first) are converted from the exact f32 value one tensor at a time. Errors name the tensor. */
typedef struct m4_weights m4_weights;
nt_status m4_model_load(m4_model *m, const m4_weights *w, nt_err *err);

/* ---- frozen parameters and storage ----
 * Every parameter starts trainable and f32. A policy per tensor says whether it is trained
 * and, for a frozen one, how it is stored: TN_F32, TN_BF16 (round to nearest even) or TN_NF4
 * (bitsandbytes: the row-major flattened tensor in blocks of 64, optional double quant; a
 * fused [E, R, C] expert tensor is quantized whole, so expert e is rows e·R.. of the [E·R, C]
 * view and a block may straddle two experts — dequantization works on element indices, so
 * that is exact). Compact storage is for the decoder layers' 2-D/3-D linear weights (attention
 * projections, router, experts, dense MLP); embeddings, lm_head and norms stay f32 (they can
 * still be frozen) — as bitsandbytes' QLoRA leaves embeddings and the head unquantized. */
typedef struct {
    bool trainable;
    tn_dtype storage;   /* TN_F32 (any), TN_BF16 / TN_NF4 (frozen linear weights only) */
    bool double_quant;  /* NF4: bnb_4bit_use_double_quant */
} m4_param_policy;

/* The current policy of every tensor into pol[m4_model_num_params]. */
void m4_model_get_policy(const m4_model *m, m4_param_policy *pol);
/* Applies pol[m4_model_num_params]: compact storage is made from the current f32 values
 * (or is loaded so by a later m4_model_load), the f32 allocation shrinks to the tensors still
 * f32, gradient buffers are dropped (re-made by the next m4_forward for the trainable ones).
 * Validated first: on error (naming the tensor) the model is unchanged. A tensor already
 * stored compact keeps its dtype (changing it, or training it, is an error). */
nt_status m4_model_apply_policy(m4_model *m, const m4_param_policy *pol, nt_err *err);
/* Shorthands: one tensor's trainable flag (storage unchanged); the LoRA base: everything
 * frozen, the linear weights of the decoder layers stored as dt. */
nt_status m4_model_set_trainable(m4_model *m, size_t i, bool trainable, nt_err *err);
nt_status m4_model_freeze_base(m4_model *m, tn_dtype dt, bool double_quant, nt_err *err);
bool m4_model_is_linear_weight(const m4_model *m, size_t i);

/* Resident bytes of tensor i's storage (NF4: packed codes, absmax or its 8-bit codes and the
 * nested absmax, and the maps), and totals by storage dtype plus the gradient buffer. */
size_t m4_model_param_bytes(const m4_model *m, size_t i);
typedef struct {
    size_t bytes[TN_DTYPE_COUNT];   /* by storage dtype */
    int64_t count[TN_DTYPE_COUNT];  /* parameters (elements) by storage dtype */
    int64_t trainable;              /* trainable parameters (elements) */
    size_t grad_bytes;              /* gradient buffer (allocated or to be allocated); with a
                                       gradient sink, the largest group's (made in scratch) */
} m4_param_report;
void m4_model_report(const m4_model *m, m4_param_report *r);

/* Gradient buffers for the trainable parameters (none when nothing is trainable). */
nt_status m4_model_alloc_grads(m4_model *m, nt_err *err);
/* Floats in the gradient allocation (0 before m4_model_alloc_grads; adapters not included). */
int64_t m4_model_num_grad_floats(const m4_model *m);
/* Zeroes every gradient, the adapters' too — a no-op while they are known to be zero.
 * The model knows so after m4_model_zero_grads itself and after m4_model_grads_zeroed
 * (the caller vouches that it zeroed every gradient buffer, model and adapters: the fused
 * optimizer step does, train/step.h). m4_forward with want_grad and labels and m4_backward
 * (which write gradients) forget it, and so do m4_model_grad_data and m4_lora_grads (they
 * hand out a writable pointer). Code that keeps such a pointer and writes through it later
 * must not rely on m4_model_zero_grads without a forward in between. */
void m4_model_zero_grads(m4_model *m);
void m4_model_grads_zeroed(m4_model *m);

/* Forward over a batch. With labels, returns the loss (mean over trained tokens, or the sum
 * with opt.loss_sum) and its token count; with want_grad also prepares the backward (the loss
 * gradient w.r.t. the final hidden state is produced in the same lm_head pass). logits
 * (optional) receives [B*T, V]. Ids, labels and lengths are checked (errors name the row). */
typedef struct {
    double loss;
    int64_t count;
} m4_loss;

nt_status m4_forward(m4_model *m, const m4_batch *b, bool want_grad, float *logits,
                     m4_loss *loss, nt_err *err);
/* Gradients ACCUMULATE (micro-batches add up): zero them before the first forward of a step,
 * not between forward and backward — lm_head's gradient is produced by the forward. */
/* Accumulates d(loss)/d(param) for every parameter into the gradient buffers. Requires the
 * preceding m4_forward to have had labels and want_grad. */
nt_status m4_backward(m4_model *m, nt_err *err);

/* ---- optimizer in backward: a gradient sink ----
 * With a sink the model keeps no gradient allocation. Each trainable tensor's gradient is
 * made in scratch when its last contribution is computed, handed to sink.grad, and dropped:
 * lm_head inside m4_forward (in blocks of 256 vocabulary rows when the batch is at most
 * xent_chunk + hidden_size tokens: then the n × V logits are the only big buffer), then in
 * m4_backward the final norm, each decoder layer (last first) and the embedding (with a tied
 * head, which collects both contributions, last). Peak gradient memory is one group in
 * scratch instead of every parameter's. sink.begin is called once per m4_forward with
 * want_grad and labels, before any sink.grad, with the batch's trained-token count; the
 * gradients are those of the loss as m4_forward defines it (the sum with opt.loss_sum).
 * The caller applies its update in sink.grad (train/step.h does): exact only when no update
 * needs every gradient first — no clipping, one micro-batch per step. Not with adapters.
 * m4_model_grad_data is NULL for every tensor while a sink is set; NULL removes it (the
 * next forward allocates gradients again). Errors (adapters attached, a trainable tensor the
 * sink cannot place) name the cause; the model is unchanged. */
typedef struct {
    void *ctx;
    void (*begin)(void *ctx, int64_t tokens);
    /* Elements [off, off + n) of tensor `tensor` (table index) have the gradient g[0..n). */
    void (*grad)(void *ctx, size_t tensor, size_t off, size_t n, const float *g);
} m4_grad_sink;
nt_status m4_model_set_grad_sink(m4_model *m, const m4_grad_sink *sink, nt_err *err);
bool m4_model_has_grad_sink(const m4_model *m);
/* Whether tensor i is trained (has a gradient, in a buffer or through the sink). */
bool m4_model_trains(const m4_model *m, size_t i);

/* After m4_forward: output of decoder layer i ([B*T, D]; i = num_layers-1 is the last) and
 * the final-norm output. Valid until the next forward. */
const float *m4_hidden(const m4_model *m, int64_t layer);
const float *m4_hidden_final_norm(const m4_model *m);

/* Activation floats kept per token for layer l between forward and backward, excluding the
 * layer's input (which both modes keep), and the total planned activation bytes for a batch
 * of n tokens in the current mode (checkpointing keeps the inputs of all layers plus ONE
 * layer's activations). docs/model.md gives the formula. */
int64_t m4_layer_act_floats(const m4_text_config *c, int64_t l);
size_t m4_planned_act_bytes(const m4_model *m, int64_t n_tokens);
/* High-water mark of the activation arena after the last forward+backward, in bytes. */
size_t m4_act_high_water(const m4_model *m);

#endif
