/* The training loop of `newt train` (docs/training.md, "The training loop"): a config ->
 * tokenizer, template and dataset (train/validation split, packing, prepared cache) -> the
 * model with its trainable/frozen policy -> micro-batches, gradient accumulation with HF's
 * loss normalization, clipping, optimizer and schedule -> evaluation, logs and the outputs in
 * output_dir (docs/training.md, "Outputs").
 *
 *   tr_run_opts o = {.progress = true, .out = stdout};
 *   tr_run_result r;
 *   if (tr_train(c, &o, &r, &err)) ...   // err names the key or file at fault
 */
#ifndef NEWT_TRAIN_TRAINER_H
#define NEWT_TRAIN_TRAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "config/config.h"

typedef struct {
    int threads;        /* dataset preparation threads (0: dataset_num_proc / all cores) */
    bool progress;      /* progress bar with ETA on stderr */
    bool eval_at_start; /* evaluate the base model before the first step (eval_loss_start) */
    FILE *out;          /* the resolved config and the parameter summary (NULL: not printed) */
    bool interruptible; /* poll nt_interrupt_pending (base/interrupt.h) after every step */
} tr_run_opts;

typedef struct {
    int64_t steps;            /* optimizer steps done */
    double first_loss;        /* loss of the first step */
    double last_loss;         /* loss of the last step */
    double train_loss;        /* mean step loss over the run (HF's train_loss) */
    double eval_loss_start;   /* NaN unless eval_at_start and a validation split */
    double eval_loss;         /* last evaluation, NaN without a validation split */
    int64_t trained_tokens;   /* target tokens seen */
    double seconds;
    bool interrupted;         /* stopped by a signal: a checkpoint of `steps` was written
                                 instead of the final outputs */
} tr_run_result;

nt_status tr_train(const cfg *c, const tr_run_opts *o, tr_run_result *r, nt_err *err);

#endif
