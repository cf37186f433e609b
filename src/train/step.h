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

/* ---- the optimizer in backward ----
 * When no update needs every gradient first — no clipping (max_grad_norm <= 0), one
 * micro-batch per optimizer step, no adapters — each tensor is updated the moment its
 * gradient is complete, through the model's gradient sink (m4_model.h), and no gradient
 * buffer is kept: a full fine-tune holds parameters and optimizer state, not gradients.
 * The parameters, the optimizer state and the returned norm have the same bits as with
 * tr_step_optim_new + tr_step_finish(o, m, 1 / trained tokens, 0, lr).
 *
 *   tr_inbwd *s;  tr_optim *o;
 *   tr_step_inbwd_new(model, &hp, weight_decay, &s, &o, &err);   // o: as tr_step_optim_new's
 *   per step:  tr_step_inbwd_arm(s, lr);  m4_forward(..., true, ...);  m4_backward(...);
 *              float gn = tr_step_inbwd_finish(s);
 *   tr_step_inbwd_free(s);  tr_optim_free(o);                     // the sink is removed
 * m4_forward already updates lm_head: a failed step leaves a partial update. */
typedef struct tr_inbwd tr_inbwd;
/* Whether the update can be applied in the backward exactly (see above). */
bool tr_step_inbwd_exact(const m4_model *m, double max_norm, int64_t micro_batches_per_step);
nt_status tr_step_inbwd_new(m4_model *m, const tr_optim_hparams *hp, double weight_decay,
                            tr_inbwd **out, tr_optim **opt, nt_err *err);
void tr_step_inbwd_arm(tr_inbwd *s, double lr);
float tr_step_inbwd_finish(tr_inbwd *s);
void tr_step_inbwd_free(tr_inbwd *s);

#endif
