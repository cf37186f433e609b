/* The optimizer, schedule and logging settings of a training config (the keys optimizer,
 * learning_rate, weight_decay, adam_beta1, adam_beta2, adam_epsilon, max_grad_norm,
 * lr_scheduler, lr_scheduler_kwargs, cosine_min_lr_ratio, warmup_steps, warmup_ratio,
 * logging_steps, use_tensorboard), resolved with HF's and axolotl's defaults. */
#ifndef NEWT_TRAIN_TRAIN_OPTS_H
#define NEWT_TRAIN_TRAIN_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "config/config.h"
#include "train/optim.h"
#include "train/schedule.h"

typedef struct {
    tr_optim_hparams optim;  /* kind, betas (0.9, 0.999), eps 1e-8 */
    double learning_rate;
    double weight_decay;     /* 0.0 */
    double max_grad_norm;    /* 1.0 when unset; 0 disables clipping */
    const char *lr_scheduler; /* "cosine" (axolotl's default); borrowed from the config */
    bool has_min_lr_ratio;   /* cosine_min_lr_ratio, or min_lr_rate / min_lr for cosine_with_min_lr */
    double min_lr_ratio;
    int64_t warmup_steps;    /* -1: unset */
    double warmup_ratio;     /* -1: unset */
    int64_t logging_steps;   /* -1: unset (axolotl's default from the total, tr_train_logging_steps) */
    bool use_tensorboard;
} tr_train_opts;

/* Reads and checks the keys; an optimizer or scheduler newt does not implement is
 * NT_EUNSUPPORTED naming the key and listing what is supported. */
nt_status tr_train_opts_from_config(const cfg *c, tr_train_opts *o, nt_err *err);

/* The schedule for `total` optimizer steps, warmup by axolotl's rules. */
nt_status tr_train_schedule(const tr_train_opts *o, int64_t total, tr_sched *s, nt_err *err);

/* logging_steps if set, else axolotl's max(min(int(0.005 * total), 10), 1). */
int64_t tr_train_logging_steps(const tr_train_opts *o, int64_t total);

#endif
