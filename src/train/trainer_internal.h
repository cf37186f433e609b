/* Shared state of the training loop's files (trainer*.c); not a public API. */
#ifndef NEWT_TRAIN_TRAINER_INTERNAL_H
#define NEWT_TRAIN_TRAINER_INTERNAL_H

#include "data/ds_cache.h"
#include "export/peft.h"
#include "data/ds_pack.h"
#include "data/ds_set.h"
#include "model/m4_config.h"
#include "model/m4_model.h"
#include "tokenizer/tok.h"
#include "train/lora_spec.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/step.h"
#include "train/schedule.h"
#include "train/train_opts.h"
#include "train/trainer.h"
#include "value/value.h"

/* The rows of one epoch are a packing plan: bin b is row b (one sample per bin unpacked). */
typedef ds_pack_plan tr_epoch_rows;

/* One padded micro-batch: B rows of T tokens (right padding, attention_mask 0, label -100). */
typedef struct {
    m4_batch b;
    int32_t *ids, *labels;
    uint8_t *mask;
    int64_t *pos;
    size_t cap;     /* B*T capacity of the buffers */
    ds_pack_row row;
} tr_batch;

typedef struct {
    const cfg *c;
    const tr_run_opts *ro;
    tok_tokenizer *tok;
    ds_set train_own, val_own;
    ds_cache dc;
    bool cached;
    const ds_set *train, *val;  /* into *_own or dc */
    bool packing;
    uint32_t seq_len;
    int64_t micro, eval_micro, accum;
    char *base_dir;             /* base_model folder */
    val *model_json;            /* its config.json */
    m4_config mcfg;
    m4_model *model;
    const char *adapter;        /* NULL: full fine-tune, "lora", "qlora" */
    tr_spec_buf spec;
    tr_result targets;
    bool have_targets;
    tr_train_opts to;
    tr_optim *opt;
    tr_inbwd *inbwd;            /* non-NULL: the optimizer runs in the backward (step.h) */
    tr_sched sched;
    tr_metrics *met;
    int64_t total_steps, steps_per_epoch, rows_per_epoch, logging_steps, eval_every;
    int64_t save_every;         /* 0: no checkpoints */
    int64_t resume_step;        /* global step of the checkpoint resumed from (0: fresh) */
    char *resume_dir;
    const char *out_dir;
} tr_ctx;

/* trainer_data.c */
nt_status tr_data_load(tr_ctx *x, nt_err *err);
void tr_data_free(tr_ctx *x);
/* Rows of epoch e: the train samples in a seeded per-epoch order (packing: the bins of the
 * epoch's plan). */
nt_status tr_epoch_rows_build(const tr_ctx *x, uint64_t epoch, tr_epoch_rows *r, nt_err *err);
/* Micro-batch of rows [r0, r1) of er. */
void tr_batch_fill(tr_batch *bt, const ds_set *s, const tr_epoch_rows *er, size_t r0, size_t r1,
                   uint32_t seq_len);
/* Micro-batch of samples [i0, i1) of s, unpacked (evaluation). */
void tr_batch_fill_samples(tr_batch *bt, const ds_set *s, size_t i0, size_t i1, uint32_t seq_len);
void tr_batch_free(tr_batch *bt);

/* trainer_model.c */
nt_status tr_model_load(tr_ctx *x, nt_err *err);
nt_status tr_optim_build(tr_ctx *x, nt_err *err);
void tr_model_summary(const tr_ctx *x, FILE *out);
void tr_model_free(tr_ctx *x);
/* Index of a modules_to_save tensor (text-layout or wrapper name), or -1. */
int64_t tr_model_find_saved(const m4_model *m, const char *name);

/* trainer_ckpt.c: checkpoint-N/ (docs/training.md, "Checkpoints") */
nt_status tr_ckpt_plan(tr_ctx *x, nt_err *err);       /* save_every, resume_dir */
nt_status tr_ckpt_save(tr_ctx *x, int64_t step, double epoch, nt_err *err);
nt_status tr_ckpt_resume(tr_ctx *x, nt_err *err);     /* weights, optimizer, history, step */
/* The f32 tensors that make the result: the adapter (A/B + modules_to_save) or the model. */
nt_status tr_save_weights(tr_ctx *x, const char *dir, st_dtype model_dtype, const ex_metric *m,
                          size_t n_metrics, nt_err *err);

/* trainer_disk.c: fails, naming output_dir and the bytes needed and available, when its
 * filesystem lacks room for a checkpoint (weights in f32 + optimizer state) or the final
 * outputs (weights of elem bytes per value). Nothing is written. */
typedef enum { TR_DISK_CHECKPOINT, TR_DISK_FINAL } tr_disk_what;
nt_status tr_disk_check(const tr_ctx *x, tr_disk_what what, unsigned elem, nt_err *err);

/* trainer_vision.c: an error naming the key when the config asks for vision fine-tuning
 * (processor_type, skip_prepare_dataset, freeze_mm_modules, image_size). */
nt_status tr_vision_check(const cfg *c, nt_err *err);

/* trainer_out.c */
/* Every key set in the resolved config, one "key: value" line each (the start summary and
 * the model card). */
void tr_cfg_render(nt_buf *b, const cfg *c);
nt_status tr_outputs_write(tr_ctx *x, const tr_run_result *r, nt_err *err);

#endif
