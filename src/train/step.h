/* The optimizer side of a training step, shared by `newt train` and bench/train so the
 * benchmark times exactly what the trainer runs:
 *
 *   tr_optim *o;  tr_step_optim_new(model, &hp, weight_decay, &o, &err);
 *   m4_model_zero_grads(model);                       // a no-op after a tr_step_finish
 *   for each micro-batch: m4_forward(..., true, ...); m4_backward(...);
 *   float gn = tr_step_finish(o, model, 1.0 / trained_tokens, max_grad_norm, lr);
 */
#ifndef NEWT_TRAIN_STEP_H
#define NEWT_TRAIN_STEP_H

#include "base/error.h"
#include "model/m4_model.h"
#include "train/optim.h"

/* The optimizer over every trainable tensor of the model: the adapters first (as PEFT
 * registers them; all decayed), then every parameter that has a gradient (HF's decay rule,
 * tr_param_decays; the embedding keeps f32 states in 8-bit AdamW, as HF registers it).
 * NT_EINVAL naming `adapter` when nothing is trainable. */
nt_status tr_step_optim_new(m4_model *m, const tr_optim_hparams *hp, double weight_decay,
                            tr_optim **out, nt_err *err);

/* After the backward passes of one optimizer step: every gradient multiplied by grad_scale
 * (1 / trained tokens: the model's backward gives gradients of the summed token losses),
 * the global L2 norm (gradients clipped to max_norm when max_norm > 0, as
 * torch.nn.utils.clip_grad_norm_), the update at learning rate lr — tr_optim_fused_step: two
 * passes over memory, bit-identical to doing these one after the other. Returns the pre-clip
 * norm (the logged grad_norm). The gradients are left zero and, when o covers all of the
 * model's (as tr_step_optim_new's does), the model is told so (m4_model_grads_zeroed): the
 * next step's m4_model_zero_grads costs nothing. */
float tr_step_finish(tr_optim *o, m4_model *m, double grad_scale, double max_norm, double lr);

#endif
