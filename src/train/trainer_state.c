/* trainer_state.json as transformers' TrainerState.save_to_json writes it (spec §8.2):
 * json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True) + "\n". */
#include <math.h>
#include <stdlib.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "train/metrics.h"

static val *control_state(const tr_trainer_state *st) {
    val *args = val_dict();
    val_dict_set(args, "should_epoch_stop", val_bool(st->should_epoch_stop));
    val_dict_set(args, "should_evaluate", val_bool(st->should_evaluate));
    val_dict_set(args, "should_log", val_bool(st->should_log));
    val_dict_set(args, "should_save", val_bool(st->should_save));
    val_dict_set(args, "should_training_stop", val_bool(st->should_training_stop));
    val *ctl = val_dict();
    val_dict_set(ctl, "args", args);
    val_dict_set(ctl, "attributes", val_dict());
    val *cbs = val_dict();
    val_dict_set(cbs, "TrainerControl", ctl);
    return cbs;
}

static val *state_dict(const tr_trainer_state *st, const val *log_history) {
    val *d = val_dict();
    val_dict_set(d, "best_global_step",
                 st->best_global_step >= 0 ? val_int(st->best_global_step) : val_null());
    val_dict_set(d, "best_metric", isnan(st->best_metric) ? val_null() : val_float(st->best_metric));
    val_dict_set(d, "best_model_checkpoint",
                 st->best_model_checkpoint ? val_str(st->best_model_checkpoint) : val_null());
    val_dict_set(d, "epoch", val_float(st->epoch));
    val_dict_set(d, "eval_steps", val_int(st->eval_steps));
    val_dict_set(d, "global_step", val_int(st->global_step));
    val_dict_set(d, "is_hyper_param_search", val_bool(false));
    val_dict_set(d, "is_local_process_zero", val_bool(true));
    val_dict_set(d, "is_world_process_zero", val_bool(true));
    val_dict_set(d, "log_history", log_history ? val_copy(log_history) : val_list());
    val_dict_set(d, "logging_steps", val_int(st->logging_steps));
    val_dict_set(d, "max_steps", val_int(st->max_steps));
    val_dict_set(d, "num_input_tokens_seen", val_int(st->num_input_tokens_seen));
    val_dict_set(d, "num_train_epochs", val_int(st->num_train_epochs));
    val_dict_set(d, "save_steps", val_int(st->save_steps));
    val_dict_set(d, "stateful_callbacks", control_state(st));
    val_dict_set(d, "total_flos", val_float(st->total_flos));
    val_dict_set(d, "train_batch_size", val_int(st->train_batch_size));
    val_dict_set(d, "trial_name", val_null());
    val_dict_set(d, "trial_params", val_null());
    return d;
}

char *tr_trainer_state_json(const tr_trainer_state *st, const val *log_history, size_t *len) {
    val *d = state_dict(st, log_history);
    /* Python's json.dumps default ensure_ascii=True */
    json_opts o = {.indent = 2, .ensure_ascii = true, .sort_keys = true};
    nt_buf b = {0};
    json_dump(&b, d, &o);
    nt_buf_putc(&b, '\n');
    val_unref(d);
    return nt_buf_take(&b, len);
}

nt_status tr_trainer_state_write(const char *path, const tr_trainer_state *st,
                                 const val *log_history, nt_err *err) {
    size_t n;
    char *text = tr_trainer_state_json(st, log_history, &n);
    nt_status rc = nt_write_file_atomic(path, text, n, err);
    free(text);
    return rc;
}
