/* Optimizers for training: torch AdamW, bitsandbytes' blockwise 8-bit AdamW and torch SGD,
 * over a list of f32 parameters (spec formats.md §4-§5; docs/training.md, "Optimizers").
 *
 * The optimizer borrows the parameter and gradient buffers; it owns its state (moments,
 * 8-bit codes and block absmax). All work buffers are sized at creation: a step, a gradient
 * clip and a norm allocate nothing and each run as one OpenMP pass over fixed chunks.
 *
 *   tr_param ps[] = {{"model.layers.0.self_attn.q_a_proj.lora_A.weight", w, g, n, 0.01, false}, ...};
 *   tr_optim *o;  tr_optim_new(&hp, ps, 2, &o, &err);
 *   float gn = tr_optim_clip_grad_norm(o, 1.0);   // pre-clip norm, the logged grad_norm
 *   tr_optim_step(o, tr_sched_lr(&sched, step));  // lr of this update
 * or, the same bits in fewer passes, leaving the gradients zero:
 *   float gn = tr_optim_fused_step(o, 1.0 / tokens, 1.0, tr_sched_lr(&sched, step));
 */
#ifndef NEWT_TRAIN_OPTIM_H
#define NEWT_TRAIN_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum {
    TR_OPT_ADAMW,      /* torch.optim.AdamW (adamw_torch, adamw_torch_fused, adamw_hf) */
    TR_OPT_ADAMW_8BIT, /* bitsandbytes AdamW, optim_bits 8 (adamw_bnb_8bit, adamw_8bit, paged_) */
    TR_OPT_SGD,        /* torch.optim.SGD (sgd) */
} tr_optim_kind;

/* Maps an HF/axolotl optimizer name to its kind; false for names newt does not implement. */
bool tr_optim_parse_name(const char *name, tr_optim_kind *out);
const char *tr_optim_kind_name(tr_optim_kind k); /* "adamw_torch", "adamw_bnb_8bit", "sgd" */

typedef struct {
    tr_optim_kind kind;
    double beta1, beta2, eps; /* Adam only */
    double momentum;          /* SGD only (HF's "sgd": 0) */
} tr_optim_hparams;

/* HF Trainer defaults: betas (0.9, 0.999), eps 1e-8, momentum 0. */
tr_optim_hparams tr_optim_defaults(tr_optim_kind kind);

/* One trainable tensor (a parameter group of one; HF's groups differ only in weight_decay). */
typedef struct {
    const char *name; /* unique; keys the saved state (copied) */
    float *param;
    float *grad;
    size_t numel;
    double weight_decay; /* as given (torch uses it in double, bnb rounds it to f32) */
    bool bnb_32bit;      /* 8-bit AdamW: keep f32 states (HF registers nn.Embedding weights so) */
} tr_param;

/* Tensors at or above this size get 8-bit states in the bnb optimizer (bnb's min_8bit_size). */
#define TR_BNB_MIN_8BIT 4096
#define TR_BNB_BLOCK 256

typedef struct tr_optim tr_optim;

/* Checks the hyperparameters and names (non-empty, unique) and zero-initialises the state.
 * params is copied (the buffers it points to are borrowed). */
nt_status tr_optim_new(const tr_optim_hparams *hp, const tr_param *params, size_t n,
                       tr_optim **out, nt_err *err);
void tr_optim_free(tr_optim *o);

/* One update of every parameter with learning rate lr. */
void tr_optim_step(tr_optim *o, double lr);
int64_t tr_optim_step_count(const tr_optim *o);
size_t tr_optim_param_count(const tr_optim *o);
const tr_param *tr_optim_param(const tr_optim *o, size_t i);

/* torch.nn.utils.clip_grad_norm_ over all gradients: per-tensor L2 norms (f32), total = L2
 * norm of those, coef = min(max_norm / (total + 1e-6), 1), every gradient multiplied by coef
 * (also when coef is 1). Returns the pre-clip total (NaN/inf propagate as in torch). */
float tr_optim_clip_grad_norm(tr_optim *o, double max_norm);
/* The same total norm without touching the gradients. */
float tr_optim_grad_norm(tr_optim *o);

/* A whole optimizer step from raw gradients, bit for bit the same as the sequence
 *   if (grad_scale != 1) every g = (float)(g * grad_scale);       (double product)
 *   gn = max_norm > 0 ? tr_optim_clip_grad_norm(o, max_norm) : tr_optim_grad_norm(o);
 *   tr_optim_step(o, lr);
 * followed by setting every gradient to zero, but in two passes over memory (one when
 * max_norm <= 0): the norm of the scaled gradients, computed without writing them, then per
 * element scale, clip, update and zero. Returns gn, the pre-clip norm. */
float tr_optim_fused_step(tr_optim *o, double grad_scale, double max_norm, double lr);

/* The optimizer applied during the backward (m4_grad_sink, train/step.h): the update of
 * tr_optim_fused_step(o, grad_scale, 0, lr) — no clipping — in ranges of one parameter at a
 * time, as soon as their gradients are final, with the gradient handed in (read only):
 *   tr_optim_range_begin(o, grad_scale, lr);         // once per step: counts the step
 *   tr_optim_range_update(o, param, off, n, g);      // every element exactly once, any order
 *   float gn = tr_optim_range_end(o);                // the step's gradient norm
 * Same bits as the fused step, norm included (each chunk's sum of squares is kept per lane
 * across ranges). off and n are multiples of 8, and for 8-bit states off is a multiple of
 * TR_BNB_BLOCK and n is too unless the range ends the parameter. An optimizer made with NULL
 * gradient pointers (allowed) may only be stepped this way. */
void tr_optim_range_begin(tr_optim *o, double grad_scale, double lr);
void tr_optim_range_update(tr_optim *o, size_t param, size_t off, size_t n, const float *g);
float tr_optim_range_end(tr_optim *o);

/* State for a checkpoint: a safetensors file with metadata {"optimizer", "step"} and tensors
 * "state.<param name>.<field>": exp_avg, exp_avg_sq (adamw; bnb below 4096 elements);
 * state1, state2 (u8), absmax1, absmax2 (f32), qmap1, qmap2 (f32[256]) (bnb 8-bit);
 * momentum_buffer (sgd with momentum). Written atomically. */
nt_status tr_optim_save(const tr_optim *o, const char *path, nt_err *err);
/* Restores a state saved by tr_optim_save for the same optimizer kind and the same parameter
 * names and sizes; errors name the file and the tensor at fault and leave o unchanged.
 * Continuing after a load is bit-identical to never having stopped. */
nt_status tr_optim_load(tr_optim *o, const char *path, nt_err *err);

/* HF's get_decay_parameter_names rule for one full parameter name (spec §5.3): false for
 * names whose lower-cased form contains "bias", "layernorm" or "rmsnorm", or matches
 * (^|.)norm($|.) or _norm($|.). Parameters inside nn.LayerNorm modules are excluded by HF
 * too; the Mistral 4 model has none. */
bool tr_param_decays(const char *hf_name);

#endif
