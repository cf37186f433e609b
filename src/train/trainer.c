/* The training loop (docs/training.md, "The training loop"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/interrupt.h"
#include "base/log.h"
#include "base/progress.h"
#include "model/m4_lora.h"
#include "train/step.h"
#include "train/trainer_internal.h"

typedef struct {
    tr_batch bt;
    tr_epoch_rows rows;
    nt_progress prog;
    double log_loss_sum, loss_sum_all, t_log;
    int64_t log_n, nsteps, tok_trained, tok_total, tok_log;
    int64_t last_eval_step;
    double epoch_f;
} tr_loop;

/* Batch settings and step counts (HF: updates per epoch = ceil(micro-batches / accumulation);
 * total = max_steps, else ceil(num_epochs * updates per epoch)). */
static nt_status plan_steps(tr_ctx *x, nt_err *err) {
    x->micro = cfg_get_int(x->c, "micro_batch_size");
    x->accum = cfg_get_int(x->c, "gradient_accumulation_steps");
    x->eval_micro = cfg_is_set(x->c, "eval_batch_size") ? cfg_get_int(x->c, "eval_batch_size") : x->micro;
    if (cfg_is_set(x->c, "batch_size")) {
        int64_t bs = cfg_get_int(x->c, "batch_size");
        if (cfg_is_set(x->c, "gradient_accumulation_steps"))
            return nt_err_set(err, NT_EINVAL, "batch_size: set either batch_size or gradient_accumulation_steps, not both");
        if (bs % x->micro)
            return nt_err_set(err, NT_EINVAL, "batch_size: %lld is not a multiple of micro_batch_size %lld",
                              (long long)bs, (long long)x->micro);
        x->accum = bs / x->micro;
    }
    if (x->micro < 1 || x->accum < 1) return nt_err_set(err, NT_EINVAL, "micro_batch_size: must be at least 1");
    if ((size_t)x->micro > x->train->n && !x->packing)
        return nt_err_set(err, NT_EINVAL, "micro_batch_size: %lld is more than the %zu training samples",
                          (long long)x->micro, x->train->n);
    tr_epoch_rows r;
    if (tr_epoch_rows_build(x, 0, &r, err)) return err->code;
    x->rows_per_epoch = (int64_t)r.nbins;
    ds_pack_plan_free(&r);
    double ep = cfg_get_float(x->c, "num_epochs");
    x->total_steps = tr_total_steps_hf(x->rows_per_epoch, x->micro, 1, x->accum, ep, cfg_get_int(x->c, "max_steps"));
    x->steps_per_epoch = tr_total_steps_hf(x->rows_per_epoch, x->micro, 1, x->accum, 1.0, 0);
    x->logging_steps = tr_train_logging_steps(&x->to, x->total_steps);
    double es = cfg_get_float(x->c, "eval_steps");
    int64_t epe = cfg_get_int(x->c, "evals_per_epoch");
    if (cfg_is_set(x->c, "eval_steps") && cfg_is_set(x->c, "evals_per_epoch"))
        return nt_err_set(err, NT_EINVAL, "eval_steps: set either eval_steps or evals_per_epoch, not both");
    x->eval_every = es >= 1 ? (int64_t)es
                    : es > 0 ? (int64_t)ceil(es * (double)x->steps_per_epoch)
                    : epe > 0 ? (x->steps_per_epoch / epe > 0 ? x->steps_per_epoch / epe : 1)
                              : 0;
    return tr_train_schedule(&x->to, x->total_steps, &x->sched, err);
}

/* Mean loss over every target token of the validation split. */
static nt_status evaluate(tr_ctx *x, tr_batch *bt, double *out, nt_err *err) {
    double sum = 0;
    int64_t cnt = 0;
    bool lora = m4_lora_attached(x->model);
    if (lora) m4_lora_set_training(x->model, false); /* no dropout in evaluation */
    for (size_t i = 0; i < x->val->n; i += (size_t)x->eval_micro) {
        size_t j = i + (size_t)x->eval_micro < x->val->n ? i + (size_t)x->eval_micro : x->val->n;
        tr_batch_fill_samples(bt, x->val, i, j, x->seq_len);
        m4_loss l;
        if (m4_forward(x->model, &bt->b, false, NULL, &l, err)) {
            if (lora) m4_lora_set_training(x->model, true);
            return nt_err_prefix(err, "evaluation: ");
        }
        sum += l.loss, cnt += l.count;
    }
    if (lora) m4_lora_set_training(x->model, true);
    *out = cnt ? sum / (double)cnt : NAN;
    return NT_OK;
}

static nt_status eval_and_log(tr_ctx *x, tr_loop *L, int64_t step, tr_run_result *r, nt_err *err) {
    if (!x->val->n || L->last_eval_step == step) return NT_OK;
    double t0 = nt_progress_now(), loss;
    if (evaluate(x, &L->bt, &loss, err)) return err->code;
    L->last_eval_step = step;
    r->eval_loss = loss;
    return tr_metrics_log_eval(x->met, L->epoch_f, step, loss, nt_progress_now() - t0, err);
}

/* One optimizer step over micro-batches [mb0, mb1) of the epoch's rows: the sum of token
 * losses of all of them divided by their trained tokens (HF's num_items_in_batch). */
static nt_status train_step(tr_ctx *x, tr_loop *L, int64_t step, size_t mb0, size_t mb1, double *loss,
                            float *gnorm, nt_err *err) {
    m4_model_zero_grads(x->model);
    if (x->inbwd) tr_step_inbwd_arm(x->inbwd, tr_sched_lr(&x->sched, step)); /* one micro-batch */
    double sum = 0;
    int64_t cnt = 0;
    size_t nrows = L->rows.nbins;
    for (size_t mb = mb0; mb < mb1; mb++) {
        size_t r0 = mb * (size_t)x->micro, r1 = r0 + (size_t)x->micro < nrows ? r0 + (size_t)x->micro : nrows;
        tr_batch_fill(&L->bt, x->train, &L->rows, r0, r1, x->seq_len);
        if (m4_lora_attached(x->model)) m4_lora_set_step(x->model, step, (int64_t)(mb - mb0));
        m4_loss l;
        if (m4_forward(x->model, &L->bt.b, true, NULL, &l, err) || m4_backward(x->model, err)) return err->code;
        sum += l.loss, cnt += l.count;
        for (int64_t t = 0; t < L->bt.b.B * L->bt.b.T; t++) L->tok_total += L->bt.mask[t];
    }
    *gnorm = x->inbwd ? tr_step_inbwd_finish(x->inbwd)
                      : tr_step_finish(x->opt, x->model, cnt ? 1.0 / (double)cnt : 1.0, x->to.max_grad_norm,
                                       tr_sched_lr(&x->sched, step));
    *loss = cnt ? sum / (double)cnt : 0.0;
    L->tok_trained += cnt;
    return NT_OK;
}

static nt_status log_step(tr_ctx *x, tr_loop *L, int64_t step, float gnorm) {
    nt_err err = {0};
    double now = nt_progress_now();
    tr_log_event ev = {.step = step, .max_steps = x->total_steps, .loss = L->log_loss_sum / (double)L->log_n,
                       .grad_norm = gnorm, .learning_rate = tr_sched_lr(&x->sched, step - 1),
                       .epoch = L->epoch_f,
                       .tokens_per_second = (double)(L->tok_trained - L->tok_log) / fmax(now - L->t_log, 1e-9),
                       .tokens_trainable = L->tok_trained, .tokens_total = L->tok_total};
    L->log_loss_sum = 0, L->log_n = 0, L->t_log = now, L->tok_log = L->tok_trained;
    return tr_metrics_log(x->met, &ev, &err) ? (nt_log_warn("metrics: %s", err.msg), NT_OK) : NT_OK;
}

/* Epoch `epoch`, whose first update is global step `first` (*nupd: its updates). Updates
 * before *step (a resumed run) are skipped without touching the data. */
static nt_status run_epoch(tr_ctx *x, tr_loop *L, int64_t epoch, int64_t first, int64_t *step, int64_t *nupd,
                           tr_run_result *r, nt_err *err) {
    if (tr_epoch_rows_build(x, (uint64_t)epoch, &L->rows, err)) return err->code;
    size_t nmb = (L->rows.nbins + (size_t)x->micro - 1) / (size_t)x->micro;
    *nupd = (int64_t)((nmb + (size_t)x->accum - 1) / (size_t)x->accum);
    nt_status rc = NT_OK;
    size_t mb0 = *step > first ? (size_t)(*step - first) * (size_t)x->accum : 0;
    bool ran = false;
    for (size_t mb = mb0; mb < nmb && *step < x->total_steps && !rc; mb += (size_t)x->accum) {
        size_t mb1 = mb + (size_t)x->accum < nmb ? mb + (size_t)x->accum : nmb;
        double loss = 0;
        float gn = 0;
        if ((rc = train_step(x, L, *step, mb, mb1, &loss, &gn, err))) break;
        ++*step;
        ran = true;
        L->epoch_f = (double)epoch + (double)mb1 / (double)nmb;
        if (isnan(r->first_loss)) r->first_loss = loss;
        r->last_loss = loss;
        L->loss_sum_all += loss, L->log_loss_sum += loss, L->log_n++, L->nsteps++;
        char pf[96];
        snprintf(pf, sizeof pf, "loss=%.4f lr=%.3e", loss, tr_sched_lr(&x->sched, *step - 1));
        nt_progress_set_postfix(&L->prog, pf);
        if (x->ro->progress) nt_progress_update(&L->prog, 1);
        if (*step % x->logging_steps == 0) log_step(x, L, *step, gn);
        if (x->eval_every && *step % x->eval_every == 0) rc = eval_and_log(x, L, *step, r, err);
        bool stop = x->ro->interruptible && nt_interrupt_pending();
        if (!rc && ((x->save_every && *step % x->save_every == 0) || stop)) rc = tr_ckpt_save(x, *step, L->epoch_f, err);
        if (stop) {
            r->interrupted = true;
            ran = false;
            break;
        }
    }
    if (!rc && ran) rc = eval_and_log(x, L, *step, r, err); /* at least once per epoch */
    ds_pack_plan_free(&L->rows);
    return rc;
}

static nt_status loop(tr_ctx *x, tr_run_result *r, nt_err *err) {
    tr_loop L = {.last_eval_step = -1, .t_log = nt_progress_now()};
    nt_status rc = NT_OK;
    if (x->ro->eval_at_start && x->val->n) rc = evaluate(x, &L.bt, &r->eval_loss_start, err);
    if (x->ro->progress) nt_progress_start(&L.prog, "train", x->total_steps, "step", stderr);
    if (x->ro->progress && x->resume_step) nt_progress_update(&L.prog, x->resume_step);
    int64_t step = x->resume_step, first = 0, nupd = 0;
    for (int64_t e = 0; step < x->total_steps && !rc && !r->interrupted; e++, first += nupd)
        rc = run_epoch(x, &L, e, first, &step, &nupd, r, err);
    if (x->ro->progress) nt_progress_finish(&L.prog);
    tr_batch_free(&L.bt);
    r->steps = step;
    r->train_loss = L.nsteps ? L.loss_sum_all / (double)L.nsteps : NAN;
    r->trained_tokens = L.tok_trained;
    return rc;
}

static nt_status setup(tr_ctx *x, nt_err *err) {
    x->out_dir = cfg_get_str(x->c, "output_dir");
    if (!x->out_dir) x->out_dir = "./model-out";
    nt_status rc = tr_vision_check(x->c, err); /* before anything that a vision config would trip on */
    if (!rc && nt_path_exists(x->out_dir) && !nt_is_dir(x->out_dir)) /* not after an hour of loading */
        rc = nt_err_set(err, NT_EINVAL, "output_dir: '%s' exists and is not a directory", x->out_dir);
    if (!rc) rc = tr_train_opts_from_config(x->c, &x->to, err);
    x->adapter = cfg_get_str(x->c, "adapter");
    x->packing = cfg_get_bool(x->c, "sample_packing");
    x->seq_len = (uint32_t)cfg_get_int(x->c, "sequence_len");
    if (!rc) rc = cfg_check_cross(x->c, err);
    if (!rc) rc = tr_model_load(x, err);   /* first: a missing base_model is the first error */
    if (!rc) rc = tr_data_load(x, err);
    if (!rc) rc = plan_steps(x, err);
    if (!rc) rc = tr_optim_build(x, err);
    if (!rc) rc = tr_ckpt_plan(x, err);
    if (!rc) rc = tr_metrics_open(x->out_dir, x->to.use_tensorboard, &x->met, err);
    if (!rc) rc = tr_ckpt_resume(x, err);
    return rc;
}

static void print_start(const tr_ctx *x) {
    FILE *o = x->ro->out;
    if (!o) return;
    nt_buf b = {0};
    tr_cfg_render(&b, x->c);
    fprintf(o, "config            %s (resolved):\n", x->c->path);
    for (char *l = b.data, *nl; l && l < b.data + b.len; l = nl + 1) {
        nl = memchr(l, '\n', (size_t)(b.data + b.len - l));
        if (!nl) break;
        fprintf(o, "  %.*s\n", (int)(nl - l), l);
    }
    nt_buf_free(&b);
    fprintf(o, "data              train %zu samples, validation %zu%s\n", x->train->n, x->val->n,
            x->packing ? ", packed" : "");
    fprintf(o, "batches           %lld rows/epoch, micro_batch_size %lld x gradient_accumulation_steps %lld\n",
            (long long)x->rows_per_epoch, (long long)x->micro, (long long)x->accum);
    fprintf(o, "steps             %lld (%lld per epoch), logging every %lld, eval every %lld\n",
            (long long)x->total_steps, (long long)x->steps_per_epoch, (long long)x->logging_steps,
            (long long)x->eval_every);
    if (x->save_every) fprintf(o, "checkpoints       every %lld steps in %s\n", (long long)x->save_every, x->out_dir);
    if (x->resume_dir) fprintf(o, "resumed           %s at step %lld\n", x->resume_dir, (long long)x->resume_step);
    fprintf(o, "optimizer         %s lr %g, weight_decay %g, max_grad_norm %g, %s schedule, warmup %lld\n",
            tr_optim_kind_name(x->to.optim.kind), x->to.learning_rate, x->to.weight_decay, x->to.max_grad_norm,
            x->to.lr_scheduler, (long long)x->sched.warmup);
    tr_model_summary(x, o);
    fflush(o);
}

nt_status tr_train(const cfg *c, const tr_run_opts *o, tr_run_result *r, nt_err *err) {
    tr_run_opts dflt = {0};
    tr_ctx x = {.c = c, .ro = o ? o : &dflt};
    *r = (tr_run_result){.eval_loss_start = NAN, .eval_loss = NAN, .first_loss = NAN, .last_loss = NAN};
    double t0 = nt_progress_now();
    nt_status rc = setup(&x, err);
    if (!rc) print_start(&x);
    if (!rc) rc = loop(&x, r, err);
    r->seconds = nt_progress_now() - t0;
    if (!rc && !r->interrupted) rc = tr_outputs_write(&x, r, err);
    tr_metrics_close(x.met);
    tr_model_free(&x);
    tr_data_free(&x);
    free(x.resume_dir);
    return rc;
}
