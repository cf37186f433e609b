/* The per-step log entry, the human log line and the metrics sink (metrics.jsonl, log
 * history, TensorBoard). */
#include "train/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "formats/json.h"

double tr_peak_rss_gib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_maxrss / (1024.0 * 1024.0); /* Linux reports KiB */
}

val *tr_log_entry(const tr_log_event *ev, double peak_rss_gib) {
    val *d = val_dict();
    /* HF's keys first, in the order the Trainer builds them; then axolotl's extras. */
    val_dict_set(d, "loss", val_float(ev->loss));
    val_dict_set(d, "grad_norm", val_float(ev->grad_norm));
    val_dict_set(d, "learning_rate", val_float(ev->learning_rate));
    val_dict_set(d, "epoch", val_float(ev->epoch));
    val_dict_set(d, "ppl", val_float(exp(ev->loss)));
    val_dict_set(d, "memory/max_rss (GiB)", val_float(peak_rss_gib));
    if (ev->tokens_per_second >= 0)
        val_dict_set(d, "tokens/train_per_sec", val_float(ev->tokens_per_second));
    if (ev->tokens_trainable >= 0) val_dict_set(d, "tokens/trainable", val_int(ev->tokens_trainable));
    if (ev->tokens_total >= 0) val_dict_set(d, "tokens/total", val_int(ev->tokens_total));
    val_dict_set(d, "step", val_int(ev->step));
    return d;
}

void tr_log_line(nt_buf *b, const tr_log_event *ev, double peak_rss_gib) {
    nt_buf_printf(b, "step %lld", (long long)ev->step);
    if (ev->max_steps > 0) nt_buf_printf(b, "/%lld", (long long)ev->max_steps);
    nt_buf_printf(b, "  loss %.4f  grad_norm %.4f  lr %.3e  epoch %.3f  ppl %.3f", ev->loss,
                  ev->grad_norm, ev->learning_rate, ev->epoch, exp(ev->loss));
    if (ev->tokens_per_second >= 0) nt_buf_printf(b, "  %.0f tok/s", ev->tokens_per_second);
    nt_buf_printf(b, "  rss %.2f GiB", peak_rss_gib);
}

struct tr_metrics {
    char *jsonl_path;
    int jsonl_fd;
    val *history;
    tr_tb *tb;
};

nt_status tr_metrics_open(const char *output_dir, bool tensorboard, tr_metrics **out,
                          nt_err *err) {
    *out = NULL;
    nt_status rc = nt_mkdirs(output_dir, err);
    if (rc) return rc;
    tr_metrics *m = nt_xcalloc(1, sizeof *m);
    m->history = val_list();
    m->jsonl_path = nt_path_join(output_dir, "metrics.jsonl");
    m->jsonl_fd = open(m->jsonl_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (m->jsonl_fd < 0) rc = nt_err_errno(err, NT_EIO, "%s: cannot open", m->jsonl_path);
    if (!rc && tensorboard) {
        char *dir = nt_path_join(output_dir, "runs");
        rc = tr_tb_open(dir, &m->tb, err);
        free(dir);
    }
    if (rc) {
        tr_metrics_close(m);
        return rc;
    }
    *out = m;
    return NT_OK;
}

/* One JSON line written with a single write(2), so a crash never leaves half a line. */
static nt_status append_jsonl(tr_metrics *m, const val *entry, nt_err *err) {
    nt_buf b = {0};
    json_dump(&b, entry, NULL);
    nt_buf_putc(&b, '\n');
    ssize_t w;
    do w = write(m->jsonl_fd, b.data, b.len);
    while (w < 0 && errno == EINTR);
    nt_status rc = w == (ssize_t)b.len ? NT_OK
                   : w < 0             ? nt_err_errno(err, NT_EIO, "%s: write", m->jsonl_path)
                                       : nt_err_set(err, NT_EIO, "%s: short write", m->jsonl_path);
    nt_buf_free(&b);
    return rc;
}

static nt_status record(tr_metrics *m, val *entry, int64_t step, nt_err *err) {
    nt_status rc = append_jsonl(m, entry, err);
    if (!rc && m->tb) rc = tr_tb_log(m->tb, entry, step, err);
    val_list_push(m->history, entry);
    return rc;
}

nt_status tr_metrics_log(tr_metrics *m, const tr_log_event *ev, nt_err *err) {
    double rss = tr_peak_rss_gib();
    nt_buf line = {0};
    tr_log_line(&line, ev, rss);
    nt_buf_putc(&line, '\0');
    nt_log_info("%s", line.data);
    nt_buf_free(&line);
    return record(m, tr_log_entry(ev, rss), ev->step, err);
}

nt_status tr_metrics_log_end(tr_metrics *m, double epoch, int64_t step, double total_flos,
                             double train_loss, double runtime_s, double samples_per_s,
                             double steps_per_s, nt_err *err) {
    val *d = val_dict();
    val_dict_set(d, "train_runtime", val_float(runtime_s));
    val_dict_set(d, "train_samples_per_second", val_float(samples_per_s));
    val_dict_set(d, "train_steps_per_second", val_float(steps_per_s));
    val_dict_set(d, "total_flos", val_float(total_flos));
    val_dict_set(d, "train_loss", val_float(train_loss));
    val_dict_set(d, "epoch", val_float(epoch));
    val_dict_set(d, "step", val_int(step));
    return record(m, d, step, err);
}

nt_status tr_metrics_log_eval(tr_metrics *m, double epoch, int64_t step, double eval_loss,
                              double runtime_s, nt_err *err) {
    nt_log_info("eval step %lld  eval_loss %.4f  eval_ppl %.3f  epoch %.3f", (long long)step, eval_loss,
                exp(eval_loss), epoch);
    val *d = val_dict();
    val_dict_set(d, "eval_loss", val_float(eval_loss));
    val_dict_set(d, "eval_ppl", val_float(exp(eval_loss)));
    val_dict_set(d, "eval_runtime", val_float(runtime_s));
    val_dict_set(d, "epoch", val_float(epoch));
    val_dict_set(d, "step", val_int(step));
    return record(m, d, step, err);
}

const val *tr_metrics_history(const tr_metrics *m) { return m->history; }
const char *tr_metrics_tb_path(const tr_metrics *m) { return m->tb ? tr_tb_path(m->tb) : NULL; }

nt_status tr_metrics_load_history(tr_metrics *m, const char *path, nt_err *err) {
    val *st;
    nt_status rc = json_parse_file(path, &st, err);
    if (rc) return rc;
    val *h = val_is(st, VAL_DICT) ? val_dict_get(st, "log_history") : NULL;
    if (!val_is(h, VAL_LIST)) {
        val_unref(st);
        return nt_err_set(err, NT_EPARSE, "%s: no \"log_history\" list", path);
    }
    val_unref(m->history);
    m->history = val_ref(h);
    val_unref(st);
    return NT_OK;
}

void tr_metrics_close(tr_metrics *m) {
    if (!m) return;
    if (m->jsonl_fd >= 0) close(m->jsonl_fd);
    tr_tb_close(m->tb);
    val_unref(m->history);
    free(m->jsonl_path);
    free(m);
}
