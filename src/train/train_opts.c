/* Training settings from a config, with the reference defaults (spec formats.md §5.2, §6). */
#include "train/train_opts.h"

#include <math.h>
#include <string.h>

static nt_status read_min_lr(const cfg *c, tr_train_opts *o, nt_err *err) {
    if (cfg_is_set(c, "cosine_min_lr_ratio")) {
        o->has_min_lr_ratio = true;
        o->min_lr_ratio = cfg_get_float(c, "cosine_min_lr_ratio");
    }
    const val *kw = cfg_get(c, "lr_scheduler_kwargs");
    if (strcmp(o->lr_scheduler, "cosine_with_min_lr") != 0 || !val_is(kw, VAL_DICT)) return NT_OK;
    const val *rate = val_dict_get(kw, "min_lr_rate"), *min_lr = val_dict_get(kw, "min_lr");
    if (rate && min_lr)
        return nt_err_set(err, NT_EINVAL, "lr_scheduler_kwargs: set min_lr or min_lr_rate, not both");
    if ((rate && !val_is_number(rate)) || (min_lr && !val_is_number(min_lr)))
        return nt_err_set(err, NT_EINVAL, "lr_scheduler_kwargs: min_lr / min_lr_rate must be numbers");
    if (rate || min_lr) {
        o->has_min_lr_ratio = true;
        /* transformers: min_lr_rate = min_lr / initial lr */
        o->min_lr_ratio = rate ? val_to_double(rate) : val_to_double(min_lr) / o->learning_rate;
    }
    return NT_OK;
}

nt_status tr_train_opts_from_config(const cfg *c, tr_train_opts *o, nt_err *err) {
    const char *name = cfg_get_str(c, "optimizer");
    tr_optim_kind kind;
    if (!name) name = "adamw_torch_fused";
    if (!tr_optim_parse_name(name, &kind))
        return nt_err_set(err, NT_EUNSUPPORTED,
                          "optimizer: '%s' is not supported (adamw_torch, adamw_torch_fused, "
                          "adamw_hf, adamw_bnb_8bit, adamw_8bit, paged_adamw_8bit, sgd)", name);
    *o = (tr_train_opts){.optim = tr_optim_defaults(kind), .max_grad_norm = 1.0,
                         .warmup_steps = -1, .warmup_ratio = -1, .logging_steps = -1};
    if (cfg_is_set(c, "adam_beta1")) o->optim.beta1 = cfg_get_float(c, "adam_beta1");
    if (cfg_is_set(c, "adam_beta2")) o->optim.beta2 = cfg_get_float(c, "adam_beta2");
    if (cfg_is_set(c, "adam_epsilon")) o->optim.eps = cfg_get_float(c, "adam_epsilon");
    o->learning_rate = cfg_get_float(c, "learning_rate");
    o->weight_decay = cfg_get_float(c, "weight_decay");
    if (cfg_is_set(c, "max_grad_norm")) o->max_grad_norm = cfg_get_float(c, "max_grad_norm");
    o->lr_scheduler = cfg_get_str(c, "lr_scheduler");
    if (!o->lr_scheduler) o->lr_scheduler = "cosine";
    tr_sched_kind sk;
    if (!tr_sched_parse_name(o->lr_scheduler, &sk))
        return nt_err_set(err, NT_EUNSUPPORTED,
                          "lr_scheduler: '%s' is not supported (cosine, linear, constant, "
                          "constant_with_warmup, cosine_with_min_lr)", o->lr_scheduler);
    if (cfg_is_set(c, "warmup_steps") && cfg_is_set(c, "warmup_ratio"))
        return nt_err_set(err, NT_EINVAL, "warmup_steps and warmup_ratio are exclusive");
    if (cfg_is_set(c, "warmup_steps")) o->warmup_steps = cfg_get_int(c, "warmup_steps");
    if (cfg_is_set(c, "warmup_ratio")) o->warmup_ratio = cfg_get_float(c, "warmup_ratio");
    if (cfg_is_set(c, "logging_steps")) o->logging_steps = cfg_get_int(c, "logging_steps");
    o->use_tensorboard = cfg_get_bool(c, "use_tensorboard");
    return read_min_lr(c, o, err);
}

nt_status tr_train_schedule(const tr_train_opts *o, int64_t total, tr_sched *s, nt_err *err) {
    int64_t w = tr_warmup_steps_axolotl(o->warmup_steps, o->warmup_ratio, total);
    return tr_sched_init(s, o->lr_scheduler, o->learning_rate, w, total, o->has_min_lr_ratio,
                         o->min_lr_ratio, err);
}

int64_t tr_train_logging_steps(const tr_train_opts *o, int64_t total) {
    if (o->logging_steps > 0) return o->logging_steps;
    int64_t n = (int64_t)(0.005 * (double)total);
    if (n > 10) n = 10;
    return n < 1 ? 1 : n;
}
