/* Checkpoints (docs/training.md, "Checkpoints"): output_dir/checkpoint-N/ holds the weights in
 * f32 (the adapter, or the whole model), the optimizer state, trainer_state.json, the
 * scheduler position and the data position. A checkpoint is built in a hidden temporary
 * folder and renamed into place, so a run killed at any moment leaves either a whole
 * checkpoint or none. No random state needs saving: the data order and packing of epoch e
 * and the LoRA dropout masks of (step, micro-batch) are counter-based streams of the seed. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "model/m4_load.h"
#include "model/m4_lora.h"
#include "train/trainer_internal.h"

#define TR_CKPT_STATE "newt_state.json"

/* Removes a checkpoint folder (flat: files only). */
static void rm_flat(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = nt_path_join(dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Steps of the checkpoints in dir, ascending (checkpoint-N folders with a state file). */
static size_t list_ckpts(const char *dir, int64_t **out) {
    DIR *d = opendir(dir);
    size_t n = 0;
    *out = NULL;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "checkpoint-", 11)) continue;
        long long s = strtoll(e->d_name + 11, &end, 10);
        char *st = nt_xasprintf("%s/%s/%s", dir, e->d_name, TR_CKPT_STATE);
        bool ok = *end == '\0' && s > 0 && nt_path_exists(st);
        free(st);
        if (!ok) continue;
        *out = nt_xrealloc(*out, (n + 1) * sizeof **out);
        size_t i = n++;
        for (; i > 0 && (*out)[i - 1] > s; i--) (*out)[i] = (*out)[i - 1];
        (*out)[i] = s;
    }
    closedir(d);
    return n;
}

static int64_t every_from(const cfg *c, const char *key, int64_t steps_per_epoch) {
    double v = cfg_get_float(c, key);
    return v >= 1 ? (int64_t)v : v > 0 ? (int64_t)ceil(v * (double)steps_per_epoch) : 0;
}

nt_status tr_ckpt_plan(tr_ctx *x, nt_err *err) {
    if (cfg_is_set(x->c, "save_steps") && cfg_is_set(x->c, "saves_per_epoch"))
        return nt_err_set(err, NT_EINVAL, "save_steps: set either save_steps or saves_per_epoch, not both");
    int64_t spe = cfg_get_int(x->c, "saves_per_epoch");
    x->save_every = cfg_is_set(x->c, "save_steps") ? every_from(x->c, "save_steps", x->steps_per_epoch)
                    : spe > 0 ? (x->steps_per_epoch / spe > 0 ? x->steps_per_epoch / spe : 1)
                              : 0;
    const char *rf = cfg_get_str(x->c, "resume_from_checkpoint");
    if (rf) {
        char *st = nt_path_join(rf, TR_CKPT_STATE);
        bool ok = nt_path_exists(st);
        free(st);
        if (!ok) return nt_err_set(err, NT_ENOTFOUND, "resume_from_checkpoint: '%s' is not a newt checkpoint (no %s)", rf, TR_CKPT_STATE);
        x->resume_dir = nt_xstrdup(rf);
    } else if (cfg_get_bool(x->c, "auto_resume_from_checkpoints")) {
        int64_t *s;
        size_t n = list_ckpts(x->out_dir, &s);
        if (n) x->resume_dir = nt_xasprintf("%s/checkpoint-%lld", x->out_dir, (long long)s[n - 1]);
        free(s);
    }
    return NT_OK;
}

static nt_status write_state(const tr_ctx *x, const char *dir, int64_t step, double epoch, nt_err *err) {
    char *text = nt_xasprintf("{\"global_step\": %lld, \"epoch\": %.17g, \"max_steps\": %lld, "
                              "\"scheduler_last_epoch\": %lld, \"lr\": %.17g, \"optimizer\": \"%s\"}\n",
                              (long long)step, epoch, (long long)x->total_steps, (long long)step,
                              tr_sched_lr(&x->sched, step), tr_optim_kind_name(x->to.optim.kind));
    char *p = nt_path_join(dir, TR_CKPT_STATE);
    nt_status rc = nt_write_file_atomic(p, text, strlen(text), err);
    free(p), free(text);
    return rc;
}

static nt_status write_hf_state(const tr_ctx *x, const char *dir, int64_t step, double epoch, nt_err *err) {
    tr_trainer_state st = {.epoch = epoch, .global_step = step, .max_steps = x->total_steps,
                           .logging_steps = x->logging_steps, .eval_steps = x->eval_every ? x->eval_every : 500,
                           .save_steps = x->save_every, .train_batch_size = x->micro,
                           .num_train_epochs = (int64_t)ceil(cfg_get_float(x->c, "num_epochs")),
                           .best_global_step = -1, .best_metric = NAN, .should_save = true};
    char *p = nt_path_join(dir, "trainer_state.json");
    nt_status rc = tr_trainer_state_write(p, &st, tr_metrics_history(x->met), err);
    free(p);
    return rc;
}

/* Keeps the newest save_total_limit checkpoints. */
static void prune(const tr_ctx *x) {
    int64_t limit = cfg_get_int(x->c, "save_total_limit"), *s;
    size_t n = list_ckpts(x->out_dir, &s);
    for (size_t i = 0; limit > 0 && i + (size_t)limit < n; i++) {
        char *d = nt_xasprintf("%s/checkpoint-%lld", x->out_dir, (long long)s[i]);
        rm_flat(d);
        free(d);
    }
    free(s);
}

nt_status tr_ckpt_save(tr_ctx *x, int64_t step, double epoch, nt_err *err) {
    char *tmp = nt_xasprintf("%s/.checkpoint-%lld.tmp", x->out_dir, (long long)step);
    char *fin = nt_xasprintf("%s/checkpoint-%lld", x->out_dir, (long long)step);
    char *opt = nt_path_join(tmp, "optimizer.safetensors");
    nt_status rc = tr_disk_check(x, TR_DISK_CHECKPOINT, 4, err); /* before touching anything */
    if (!rc) rm_flat(tmp);
    if (!rc) rc = nt_mkdirs(tmp, err);
    if (!rc) rc = tr_save_weights(x, tmp, ST_F32, NULL, 0, err);
    if (!rc) rc = tr_optim_save(x->opt, opt, err);
    if (!rc) rc = write_hf_state(x, tmp, step, epoch, err);
    if (!rc) rc = write_state(x, tmp, step, epoch, err); /* last: its presence marks a whole checkpoint */
    if (!rc) {
        rm_flat(fin);
        if (rename(tmp, fin)) rc = nt_err_errno(err, NT_EIO, "%s: rename to %s", tmp, fin);
    }
    if (rc) nt_err_prefix(err, "checkpoint %lld: ", (long long)step), rm_flat(tmp);
    else prune(x); /* only after the new checkpoint is whole: a failed save deletes nothing */
    free(tmp), free(fin), free(opt);
    return rc;
}

/* modules_to_save tensors of an adapter checkpoint (keys base_model.model.<name>, F32). */
static nt_status load_saved(tr_ctx *x, const char *path, nt_err *err) {
    if (!x->targets.n_saved) return NT_OK;
    st_file *f = NULL;
    if (st_file_open(path, &f, err)) return err->code;
    nt_status rc = NT_OK;
    for (size_t k = 0; k < x->targets.n_saved && !rc; k++) {
        char *key = nt_xasprintf("base_model.model.%s", x->targets.saved[k].name);
        const st_tensor *t = st_file_find(f, key);
        int64_t i = tr_model_find_saved(x->model, x->targets.saved[k].name);
        float *dst = i >= 0 ? m4_model_param_data(x->model, (size_t)i) : NULL;
        if (!t || !dst || t->dtype != ST_F32 || t->nbytes != (uint64_t)x->targets.saved[k].numel * 4)
            rc = nt_err_set(err, NT_EINVAL, "%s: tensor %s missing or not F32 of the expected size", path, key);
        else memcpy(dst, t->data, t->nbytes);
        free(key);
    }
    st_file_close(f);
    return rc;
}

static nt_status load_weights(tr_ctx *x, nt_err *err) {
    if (x->adapter && x->have_targets) {
        char *p = nt_path_join(x->resume_dir, "adapter_model.safetensors");
        nt_status rc = m4_lora_load(x->model, p, err);
        if (!rc) rc = load_saved(x, p, err);
        free(p);
        return rc;
    }
    m4_weights *w = NULL;
    nt_status rc = m4_weights_open(x->resume_dir, &w, err);
    if (!rc) rc = m4_model_load(x->model, w, err);
    m4_weights_close(w);
    return rc;
}

nt_status tr_ckpt_resume(tr_ctx *x, nt_err *err) {
    if (!x->resume_dir) return NT_OK;
    char *sp = nt_path_join(x->resume_dir, TR_CKPT_STATE), *op = nt_path_join(x->resume_dir, "optimizer.safetensors");
    char *hp = nt_path_join(x->resume_dir, "trainer_state.json");
    val *st = NULL;
    nt_status rc = json_parse_file(sp, &st, err);
    const val *gs = rc ? NULL : val_dict_get(st, "global_step");
    if (!rc && (!gs || !val_is(gs, VAL_INT) || gs->u.i < 1 || gs->u.i > x->total_steps))
        rc = nt_err_set(err, NT_EINVAL, "%s: global_step missing or beyond max_steps %lld", sp, (long long)x->total_steps);
    if (!rc) x->resume_step = gs->u.i;
    if (!rc) rc = load_weights(x, err);
    if (!rc) rc = tr_optim_load(x->opt, op, err);
    if (!rc) rc = tr_metrics_load_history(x->met, hp, err);
    if (rc) nt_err_prefix(err, "resume_from_checkpoint %s: ", x->resume_dir);
    val_unref(st);
    free(sp), free(op), free(hp);
    return rc;
}
