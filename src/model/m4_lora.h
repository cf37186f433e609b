/* LoRA adapters inside the model (issue #7): PEFT's math (formats.md §1.6, §2.2) at every
 * targeted linear, added at the one linear call site (m4_linear.c).
 *
 * At a targeted weight W [out, in] (or expert e of a fused [E, out, in] parameter):
 *     y += s · (dropout(x)·A_eᵀ)·B_eᵀ,   s = alpha / r  (alpha / √r with rsLoRA)
 * with A [r·E, in], A_e = rows e·r .. e·r+r−1, and B [out, r·E], B_e[:, k] = B[:, k·E + e]
 * (PEFT ≥ 0.19.1's ParamWrapper layout; E = 1 for a plain linear and the router). The
 * backward adds dA, dB and the branch's share of dX; the base weight may be frozen and stored
 * f32, bf16 or NF4. Expert adapters run inside the grouped expert GEMMs (per expert, over that
 * expert's rows).
 *
 * Memory: ONE allocation holds every adapter's A then B, target after target (tr_result
 * order); a second one of the same layout holds their gradients.
 *
 * Dropout (inverted, training mode only) draws its mask from a counter-based hash of
 * (seed, step, micro-batch, tensor, expert, row, column), so the recompute of a checkpointed
 * layer sees the same masks, and nothing is stored. With p = 0 no mask is made at all. As in
 * PEFT, parameter targets (fused experts, router) forbid dropout. */
#ifndef NEWT_MODEL_M4_LORA_H
#define NEWT_MODEL_M4_LORA_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "export/peft.h"
#include "model/m4_model.h"
#include "train/lora_target.h"

typedef struct {
    int64_t r;          /* rank (per expert for fused expert parameters) */
    double alpha;       /* lora_alpha */
    bool use_rslora;
    double dropout;     /* lora_dropout, 0 <= p < 1; must be 0 with parameter targets */
    uint64_t seed;      /* A's initialization (ex_lora_init) and the dropout masks */
} m4_lora_opts;

/* One adapter tensor (lora_A or lora_B of one target) as the optimizer and the saver see it.
 * Every one is decayed under HF's weight-decay rule (a 2-D weight, not a bias or a norm). */
typedef struct {
    const char *name;   /* PEFT key, e.g. base_model.model.model.layers.0.self_attn.q_a_proj.lora_A.weight */
    int64_t shape[2];   /* A: [r·E, in]; B: [out, r·E] */
    int64_t numel;
    float *data, *grad;
    size_t target;      /* index into the tr_result's targets */
    char which;         /* 'A' or 'B' */
} m4_lora_tensor;

/* Attaches adapters for every target of res (copied: res may be freed afterwards), with
 * PEFT's initialization (A uniform from the seed and the tensor's name, B = 0: the model's
 * output is unchanged). Errors name the target (not in the text model, shape mismatch,
 * dropout with parameter targets, already attached). Starts in training mode at step 0. */
nt_status m4_lora_attach(m4_model *m, const tr_result *res, const m4_lora_opts *o, nt_err *err);
bool m4_lora_attached(const m4_model *m);

/* 2 tensors per target: A then B, in target order (i < m4_lora_num_tensors). */
size_t m4_lora_num_tensors(const m4_model *m);
const m4_lora_tensor *m4_lora_get(const m4_model *m, size_t i);
/* The whole parameter / gradient allocation (m4_lora_num_floats floats each). m4_lora_grads
 * makes the model forget that its gradients are zero (m4_model_zero_grads); so must a caller
 * that writes through m4_lora_get(...)->grad (the optimizer's fused step zeroes them and says
 * so with m4_model_grads_zeroed). */
float *m4_lora_params(m4_model *m);
float *m4_lora_grads(m4_model *m);
int64_t m4_lora_num_floats(const m4_model *m);
double m4_lora_scale(const m4_model *m);
/* Gradients accumulate like the model's (m4_model_zero_grads zeroes these too). */
void m4_lora_zero_grads(m4_model *m);

/* Dropout state: the optimizer step and the micro-batch within it (masks differ per pair,
 * and repeat for the same pair), and training (dropout on) / eval (off). */
void m4_lora_set_step(m4_model *m, int64_t step, int64_t micro);
void m4_lora_set_training(m4_model *m, bool training);

/* A / B pointers per target for ex_save_adapter (res->n entries; valid while attached). */
void m4_lora_export(const m4_model *m, ex_lora_tensors *out);

/* Reads an adapter_model.safetensors written for the same targets and rank (F32 or BF16):
 * every A/B key must be present with its exact shape (errors name the tensor); keys the
 * adapters do not have are ignored (modules_to_save tensors). On error the adapters are
 * unchanged. */
nt_status m4_lora_load(m4_model *m, const char *path, nt_err *err);

#endif
