/* Learning-rate schedules as HF's LambdaLR builds them (spec formats.md §6;
 * docs/training.md, "Learning-rate schedules"), warmup and total step counts.
 *
 * Step counting: the s-th optimizer update (s = 0, 1, ...) uses lr = base_lr * lambda(s);
 * the logged learning_rate at global_step g is tr_sched_lr(sched, g - 1). */
#ifndef NEWT_TRAIN_SCHEDULE_H
#define NEWT_TRAIN_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef enum {
    TR_SCHED_LINEAR,
    TR_SCHED_COSINE,
    TR_SCHED_CONSTANT,
    TR_SCHED_CONSTANT_WITH_WARMUP,
    TR_SCHED_COSINE_WITH_MIN_LR,  /* transformers: max(0, f*(1-rate) + rate) */
    TR_SCHED_COSINE_MIN_LR_RATIO, /* axolotl's cosine_min_lr_ratio: f*(1-rho) + rho, no clamp */
} tr_sched_kind;

typedef struct {
    tr_sched_kind kind;
    double base_lr;
    int64_t warmup; /* W */
    int64_t total;  /* T */
    double min_lr_rate; /* cosine_with_min_lr: min_lr / base_lr; axolotl: cosine_min_lr_ratio */
} tr_sched;

/* Config name ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_min_lr")
 * to kind; false for others. */
bool tr_sched_parse_name(const char *name, tr_sched_kind *out);

/* The schedule for a config. min_lr_ratio (when has_min_lr_ratio): with "cosine" it is
 * axolotl's cosine_min_lr_ratio (kind TR_SCHED_COSINE_MIN_LR_RATIO); with
 * "cosine_with_min_lr" it is lr_scheduler_kwargs' min_lr_rate (min_lr / base_lr), which that
 * schedule requires, as transformers does. Checks W, T >= 0 and the ratio in [0, 1]. */
nt_status tr_sched_init(tr_sched *s, const char *lr_scheduler, double base_lr, int64_t warmup,
                        int64_t total, bool has_min_lr_ratio, double min_lr_ratio, nt_err *err);

double tr_sched_lambda(const tr_sched *s, int64_t step); /* the multiplier, in double */
double tr_sched_lr(const tr_sched *s, int64_t step);     /* base_lr * lambda(step) */

/* transformers v5: warmup >= 1 means steps (int), a fraction in [0, 1) means ceil(T * it). */
int64_t tr_warmup_steps_hf(double warmup, int64_t total);
/* axolotl: warmup_steps if set; else warmup_ratio -> floor(ratio * T); else
 * min(floor(0.03 * T), 100); a result of 1 becomes 2. Negative means unset. */
int64_t tr_warmup_steps_axolotl(int64_t warmup_steps, double warmup_ratio, int64_t total);

/* HF Trainer: updates per epoch from N examples, per-device batch, world size and
 * gradient accumulation; total = max_steps if > 0 else ceil(epochs * updates per epoch). */
int64_t tr_total_steps_hf(int64_t n_examples, int64_t per_device_batch, int64_t world,
                          int64_t grad_accum, double num_epochs, int64_t max_steps);
/* axolotl without sample packing: max_steps if > 0 else
 * ceil(n_examples * num_epochs / (micro_batch * grad_accum * world)). */
int64_t tr_total_steps_axolotl(int64_t n_examples, int64_t micro_batch, int64_t world,
                               int64_t grad_accum, double num_epochs, int64_t max_steps);

#endif
