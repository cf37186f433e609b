/* The loop's outputs in output_dir (docs/training.md, "Outputs"): the model (full fine-tune,
 * HF layout in the dtype asked for), tokenizer files and chat_template.jinja, a README.md
 * model card with the config and final metrics, the end entry of metrics.jsonl and
 * trainer_state.json. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "export/hf_model.h"
#include "formats/json.h"
#include "export/peft.h"
#include "model/m4_lora.h"
#include "train/trainer_internal.h"

static const char *const tok_files[] = {"tekken.json", "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json", "chat_template.jinja"};

static nt_status copy_file(const char *src, const char *dst, nt_err *err) {
    char *data = NULL;
    size_t n = 0;
    nt_status rc = nt_read_file(src, &data, &n, err);
    if (!rc) rc = nt_write_file_atomic(dst, data, n, err);
    free(data);
    return rc;
}

/* The tokenizer files of the tokenizer folder, and the config's template (chat_template_jinja:
 * a file or the text itself) as chat_template.jinja. */
static nt_status copy_tokenizer(const tr_ctx *x, const char *od, nt_err *err) {
    const char *tp = cfg_get_str(x->c, "tokenizer_config");
    if (!tp) tp = x->base_dir;
    nt_status rc = NT_OK;
    for (size_t i = 0; i < sizeof tok_files / sizeof *tok_files && !rc && nt_is_dir(tp); i++) {
        char *s = nt_path_join(tp, tok_files[i]), *d = nt_path_join(od, tok_files[i]);
        if (nt_path_exists(s)) rc = copy_file(s, d, err);
        free(s), free(d);
    }
    const char *jt = cfg_get_str(x->c, "chat_template_jinja");
    if (!rc && jt) {
        char *d = nt_path_join(od, "chat_template.jinja");
        rc = nt_path_exists(jt) ? copy_file(jt, d, err) : nt_write_file_atomic(d, jt, strlen(jt), err);
        free(d);
    }
    return rc;
}

static nt_status save_model(const tr_ctx *x, const char *od, st_dtype dt, nt_err *err) {
    size_t n = m4_model_num_params(x->model);
    ex_tensor *t = nt_xcalloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        const m4_param_info *pi = m4_model_param(x->model, i);
        t[i] = (ex_tensor){.name = pi->name, .ndim = pi->ndim, .data = m4_model_param_data(x->model, i)};
        memcpy(t[i].shape, pi->shape, sizeof pi->shape);
    }
    ex_save_opts so = {.dtype = dt};
    nt_status rc = ex_save_model(od, x->model_json, t, n, &so, err);
    free(t);
    return rc;
}

static ex_peft_config peft_config(const tr_ctx *x) {
    const tr_spec *sp = &x->spec.spec;
    return (ex_peft_config){.base_model = x->base_dir, .r = cfg_get_int(x->c, "lora_r"),
                            .lora_alpha = cfg_is_set(x->c, "lora_alpha") ? cfg_get_int(x->c, "lora_alpha")
                                                                         : cfg_get_int(x->c, "lora_r"),
                            .lora_dropout = cfg_get_float(x->c, "lora_dropout"),
                            .use_rslora = cfg_get_bool(x->c, "peft_use_rslora"),
                            .exclude_regex = sp->exclude_regex, .exclude = sp->exclude, .n_exclude = sp->n_exclude,
                            .target_parameters = sp->parameters, .n_target_parameters = sp->n_parameters,
                            .modules_to_save = sp->modules_to_save, .n_modules_to_save = sp->n_modules_to_save,
                            .layers_to_transform = sp->layers, .n_layers_to_transform = sp->n_layers};
}

static size_t metrics_of(const tr_run_result *r, ex_metric *m) {
    size_t n = 0;
    if (!isnan(r->train_loss)) m[n++] = (ex_metric){"train_loss", r->train_loss};
    if (!isnan(r->eval_loss)) m[n++] = (ex_metric){"eval_loss", r->eval_loss};
    if (!isnan(r->eval_loss)) m[n++] = (ex_metric){"eval_ppl", exp(r->eval_loss)};
    return n;
}

/* adapter_config.json + adapter_model.safetensors (F32, PEFT's default) in PEFT's layout. */
static nt_status save_adapter(tr_ctx *x, const ex_metric *m, size_t nm, const char *od, nt_err *err) {
    const tr_result *res = &x->targets;
    ex_lora_tensors *lt = nt_xcalloc(res->n + 1, sizeof *lt);
    const float **saved = nt_xcalloc(res->n_saved + 1, sizeof *saved);
    m4_lora_export(x->model, lt);
    for (size_t k = 0; k < res->n_saved; k++)
        saved[k] = m4_model_param_data(x->model, (size_t)tr_model_find_saved(x->model, res->saved[k].name));
    ex_peft_config pc = peft_config(x);
    ex_adapter_data d = {.lora = lt, .saved = saved, .dtype = ST_F32, .metrics = m, .n_metrics = nm};
    nt_status rc = ex_save_adapter(od, res, &pc, &d, err);
    free(lt);
    free(saved);
    return rc;
}

nt_status tr_save_weights(tr_ctx *x, const char *dir, st_dtype model_dtype, const ex_metric *m,
                          size_t n_metrics, nt_err *err) {
    return x->adapter && x->have_targets ? save_adapter(x, m, n_metrics, dir, err)
                                         : save_model(x, dir, model_dtype, err);
}

static void card_metric(nt_buf *b, const char *name, double v) {
    if (!isnan(v)) nt_buf_printf(b, "| %s | %.6g |\n", name, v);
}

void tr_cfg_render(nt_buf *b, const cfg *c) {
    const val *v = c->values;
    for (size_t i = 0; i < val_dict_len(v); i++) {
        const val_entry *e = val_dict_entry(v, i);
        if (val_is(e->value, VAL_NULL)) continue;
        nt_buf_printf(b, "%s: ", e->key->u.str.s);
        if (val_is(e->value, VAL_LIST) || val_is(e->value, VAL_DICT)) { /* lists in full, as JSON (YAML flow) */
            json_dump(b, e->value, NULL);
        } else {
            char brief[256];
            cfg_value_brief(e->value, brief, sizeof brief);
            nt_buf_printf(b, "%s", brief);
        }
        nt_buf_putc(b, '\n');
    }
}

/* The full fine-tune's card: front matter, then the final metrics. */
static void card_head(const tr_ctx *x, const tr_run_result *r, const char *od, nt_buf *b) {
    const char *kind = x->adapter ? x->adapter : "full fine-tune";
    nt_buf_printf(b, "---\nbase_model: %s\nlibrary_name: transformers\ntags:\n- newt\n- %s\n---\n\n# %s\n\n",
                  x->base_dir, x->adapter ? x->adapter : "full-fine-tune", od);
    nt_buf_printf(b, "Fine-tuned from `%s` with newt (%s, %lld steps).\n\n## Final metrics\n\n"
                     "| metric | value |\n|---|---|\n", x->base_dir, kind, (long long)r->steps);
    card_metric(b, "train_loss", r->train_loss);
    card_metric(b, "final step loss", r->last_loss);
    card_metric(b, "eval_loss", r->eval_loss);
    card_metric(b, "eval_ppl", exp(r->eval_loss));
}

static nt_status write_card(const tr_ctx *x, const tr_run_result *r, const char *od, nt_err *err) {
    nt_buf b = {0};
    if (x->adapter && x->have_targets) { /* PEFT's card (front matter, targets, metrics) */
        ex_metric m[3];
        ex_peft_config pc = peft_config(x);
        char *card = ex_model_card(&x->targets, &pc, m, metrics_of(r, m));
        nt_buf_printf(&b, "%s", card);
        free(card);
    } else {
        card_head(x, r, od, &b);
    }
    nt_buf_printf(&b, "\n## Training config\n\nThe keys set (defaults and overrides resolved):\n\n```yaml\n");
    tr_cfg_render(&b, x->c);
    nt_buf_printf(&b, "```\n");
    char *p = nt_path_join(od, "README.md");
    nt_status rc = nt_write_file_atomic(p, b.data, b.len, err);
    free(p);
    nt_buf_free(&b);
    return rc;
}

static nt_status write_state(const tr_ctx *x, const tr_run_result *r, const char *od, nt_err *err) {
    double ep = x->steps_per_epoch ? (double)r->steps / (double)x->steps_per_epoch : 0;
    nt_err e2 = {0};
    tr_metrics_log_end(x->met, ep, r->steps, 0.0, r->train_loss, r->seconds,
                       r->seconds > 0 ? (double)(r->steps * x->micro * x->accum) / r->seconds : 0,
                       r->seconds > 0 ? (double)r->steps / r->seconds : 0, &e2);
    tr_trainer_state st = {.epoch = ep, .global_step = r->steps, .max_steps = x->total_steps,
                           .logging_steps = x->logging_steps, .eval_steps = x->eval_every ? x->eval_every : 500,
                           .save_steps = 500, .num_train_epochs = (int64_t)ceil(cfg_get_float(x->c, "num_epochs")),
                           .train_batch_size = x->micro, .num_input_tokens_seen = r->trained_tokens,
                           .best_global_step = -1, .best_metric = NAN, .should_training_stop = true};
    char *p = nt_path_join(od, "trainer_state.json");
    nt_status rc = tr_trainer_state_write(p, &st, tr_metrics_history(x->met), err);
    free(p);
    return rc;
}

nt_status tr_outputs_write(tr_ctx *x, const tr_run_result *r, nt_err *err) {
    const char *od = cfg_get_str(x->c, "output_dir");
    if (!od) od = "./model-out";
    nt_status rc = nt_mkdirs(od, err);
    ex_metric m[3];
    size_t nm = metrics_of(r, m);
    st_dtype dt = cfg_get_bool(x->c, "bf16") ? ST_BF16 : ST_F32;
    if (rc) return nt_err_prefix(err, "output_dir %s: ", od);
    if (tr_disk_check(x, TR_DISK_FINAL, dt == ST_BF16 ? 2 : 4, err)) return err->code; /* names output_dir */
    rc = tr_save_weights(x, od, dt, m, nm, err);
    if (!rc) rc = copy_tokenizer(x, od, err);
    if (!rc) rc = write_card(x, r, od, err);
    if (!rc) rc = write_state(x, r, od, err);
    if (rc) nt_err_prefix(err, "output_dir %s: ", od);
    return rc;
}
