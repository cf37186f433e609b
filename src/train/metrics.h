/* Training logs: the per-step log line, output_dir/metrics.jsonl, HF's trainer_state.json and
 * TensorBoard event files (spec formats.md §8.2, §11; axolotl.md §3; docs/training.md,
 * "Logs and metrics"). */
#ifndef NEWT_TRAIN_METRICS_H
#define NEWT_TRAIN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/mem.h"
#include "value/value.h"

/* One logging event (every logging_steps optimizer steps). Negative counts are left out. */
typedef struct {
    int64_t step;             /* global_step */
    int64_t max_steps;        /* for the log line only */
    double loss;              /* mean step loss since the last log */
    double grad_norm;         /* pre-clip total norm of the last step */
    double learning_rate;     /* the lr the last update used */
    double epoch;             /* epoch_idx + (micro_step + 1) / steps_in_epoch */
    double tokens_per_second; /* trainable (label != -100) tokens per second since the last log */
    int64_t tokens_trainable; /* running totals, as axolotl's tokens/trainable, tokens/total */
    int64_t tokens_total;
} tr_log_event;

/* Peak resident memory of this process in GiB (getrusage ru_maxrss). */
double tr_peak_rss_gib(void);

/* The log_history entry of an event: epoch, grad_norm, learning_rate, loss, step (HF), plus
 * axolotl's ppl = exp(loss), "memory/max_rss (GiB)" and the tokens/ counters. New reference. */
val *tr_log_entry(const tr_log_event *ev, double peak_rss_gib);
/* The human line: "step 10/500  loss 1.2345  grad_norm 0.5123  lr 4.910e-04  epoch 0.020
 * ppl 3.437  4521 tok/s  rss 1.25 GiB". Appends to b. */
void tr_log_line(nt_buf *b, const tr_log_event *ev, double peak_rss_gib);

/* ---- TensorBoard (hand-written TFRecord + Event protobuf, spec §11) ---- */

/* CRC-32C (Castagnoli) and TFRecord's masked form. */
uint32_t tr_crc32c(const void *data, size_t n);
uint32_t tr_crc32c_masked(const void *data, size_t n);
/* One framed record holding Event{wall_time, file_version = "brain.Event:2"}. */
void tr_tb_record_version(nt_buf *b, double wall_time);
/* One framed record holding Event{wall_time, step, summary {value {tag, simple_value}}}. */
void tr_tb_record_scalar(nt_buf *b, double wall_time, int64_t step, const char *tag, float value);
/* HF's TensorBoardCallback tag of a log key: eval_x -> eval/x, test_x -> test/x, else train/x. */
char *tr_tb_tag(const char *key);

typedef struct tr_tb tr_tb;
/* Creates dir and dir/events.out.tfevents.<unix time %010d>.<hostname> with the version
 * record. */
nt_status tr_tb_open(const char *dir, tr_tb **out, nt_err *err);
const char *tr_tb_path(const tr_tb *tb);
/* Appends one record per numeric entry of a log_history entry ("step" excluded), tag from
 * tr_tb_tag, at global step `step`; flushed so TensorBoard sees it while training runs. */
nt_status tr_tb_log(tr_tb *tb, const val *entry, int64_t step, nt_err *err);
void tr_tb_close(tr_tb *tb);

/* ---- trainer_state.json ---- */

typedef struct {
    double epoch;
    int64_t global_step, max_steps;
    int64_t logging_steps, eval_steps, save_steps; /* absolute (ratios resolved); HF default 500 */
    int64_t num_train_epochs, train_batch_size;    /* per-device batch */
    int64_t num_input_tokens_seen;
    double total_flos;
    int64_t best_global_step;           /* < 0: null */
    double best_metric;                 /* NaN: null */
    const char *best_model_checkpoint;  /* NULL: null */
    /* TrainerControl at save time: a checkpoint is written with should_save true, the last
     * one also with should_training_stop. */
    bool should_epoch_stop, should_evaluate, should_log, should_save, should_training_stop;
} tr_trainer_state;

/* The JSON text exactly as HF writes it: json.dumps(state, indent=2, sort_keys=True) + "\n".
 * log_history: a list of entries (borrowed). Malloc'd, NUL-terminated. */
char *tr_trainer_state_json(const tr_trainer_state *st, const val *log_history, size_t *len);
/* Writes it to path atomically. */
nt_status tr_trainer_state_write(const char *path, const tr_trainer_state *st,
                                 const val *log_history, nt_err *err);

/* ---- the sink the training loop logs to ---- */

typedef struct tr_metrics tr_metrics;
/* Opens output_dir/metrics.jsonl for appending (created if absent) and, when tensorboard,
 * an event file under output_dir/runs. */
nt_status tr_metrics_open(const char *output_dir, bool tensorboard, tr_metrics **out,
                          nt_err *err);
/* One event: the line to the log (info), a line to metrics.jsonl, an entry appended to the
 * log history, scalars to TensorBoard. */
nt_status tr_metrics_log(tr_metrics *m, const tr_log_event *ev, nt_err *err);
/* The end-of-training entry: epoch, step, total_flos, train_loss, train_runtime,
 * train_samples_per_second, train_steps_per_second. */
nt_status tr_metrics_log_end(tr_metrics *m, double epoch, int64_t step, double total_flos,
                             double train_loss, double runtime_s, double samples_per_s,
                             double steps_per_s, nt_err *err);
/* An evaluation entry (HF's evaluate()): eval_loss, eval_ppl = exp(eval_loss) (axolotl),
 * eval_runtime, epoch, step; logged as a line too. */
nt_status tr_metrics_log_eval(tr_metrics *m, double epoch, int64_t step, double eval_loss,
                              double runtime_s, nt_err *err);
const val *tr_metrics_history(const tr_metrics *m); /* the log_history list */
const char *tr_metrics_tb_path(const tr_metrics *m); /* the event file, NULL without one */
/* Restores the history from a checkpoint's trainer_state.json (resume). */
nt_status tr_metrics_load_history(tr_metrics *m, const char *trainer_state_path, nt_err *err);
void tr_metrics_close(tr_metrics *m);

#endif
