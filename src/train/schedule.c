/* HF / axolotl learning-rate lambdas, written in their Python operand order (all doubles) so
 * the multiplier is bit-identical to LambdaLR's. */
#include "train/schedule.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    tr_sched_kind kind;
} k_names[] = {
    {"linear", TR_SCHED_LINEAR},
    {"cosine", TR_SCHED_COSINE},
    {"constant", TR_SCHED_CONSTANT},
    {"constant_with_warmup", TR_SCHED_CONSTANT_WITH_WARMUP},
    {"cosine_with_min_lr", TR_SCHED_COSINE_WITH_MIN_LR},
};

bool tr_sched_parse_name(const char *name, tr_sched_kind *out) {
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
        if (strcmp(name, k_names[i].name) == 0) {
            *out = k_names[i].kind;
            return true;
        }
    return false;
}

nt_status tr_sched_init(tr_sched *s, const char *lr_scheduler, double base_lr, int64_t warmup,
                        int64_t total, bool has_min_lr_ratio, double min_lr_ratio, nt_err *err) {
    tr_sched_kind k;
    if (!tr_sched_parse_name(lr_scheduler, &k))
        return nt_err_set(err, NT_EUNSUPPORTED, "lr_scheduler: '%s' is not supported", lr_scheduler);
    if (warmup < 0 || total < 0)
        return nt_err_set(err, NT_EINVAL, "lr schedule: warmup %lld / total %lld steps negative",
                          (long long)warmup, (long long)total);
    if (has_min_lr_ratio && !(min_lr_ratio >= 0 && min_lr_ratio <= 1))
        return nt_err_set(err, NT_EINVAL, "cosine_min_lr_ratio: %g outside [0, 1]", min_lr_ratio);
    if (has_min_lr_ratio && k != TR_SCHED_COSINE && k != TR_SCHED_COSINE_WITH_MIN_LR)
        return nt_err_set(err, NT_EINVAL, "cosine_min_lr_ratio needs lr_scheduler cosine, not %s",
                          lr_scheduler);
    if (!has_min_lr_ratio && k == TR_SCHED_COSINE_WITH_MIN_LR)
        return nt_err_set(err, NT_EINVAL,
                          "lr_scheduler cosine_with_min_lr needs min_lr or min_lr_rate");
    if (has_min_lr_ratio && k == TR_SCHED_COSINE) k = TR_SCHED_COSINE_MIN_LR_RATIO;
    *s = (tr_sched){.kind = k, .base_lr = base_lr, .warmup = warmup, .total = total,
                    .min_lr_rate = has_min_lr_ratio ? min_lr_ratio : 0.0};
    return NT_OK;
}

static double imax(int64_t a, int64_t b) { return (double)(a > b ? a : b); }

/* float(current_step - W) / float(max(1, T - W)) */
static double progress(const tr_sched *s, int64_t step) {
    return (double)(step - s->warmup) / imax(1, s->total - s->warmup);
}

double tr_sched_lambda(const tr_sched *s, int64_t step) {
    const double pi = 3.141592653589793, cycles = 0.5;
    if (s->kind == TR_SCHED_CONSTANT) return 1.0;
    if (step < s->warmup) /* max(1.0, W) for constant_with_warmup: same value for int W */
        return (double)step / imax(1, s->warmup);
    switch (s->kind) {
    case TR_SCHED_LINEAR: return fmax(0.0, (double)(s->total - step) / imax(1, s->total - s->warmup));
    case TR_SCHED_COSINE:
        return fmax(0.0, 0.5 * (1.0 + cos(pi * cycles * 2.0 * progress(s, step))));
    case TR_SCHED_CONSTANT_WITH_WARMUP: return 1.0;
    case TR_SCHED_COSINE_WITH_MIN_LR: {
        double f = 0.5 * (1.0 + cos(pi * cycles * 2.0 * progress(s, step)));
        return fmax(0.0, f * (1 - s->min_lr_rate) + s->min_lr_rate);
    }
    case TR_SCHED_COSINE_MIN_LR_RATIO: {
        double scaling = 0.5 * (1.0 + cos(pi * progress(s, step)));
        return (1 - s->min_lr_rate) * scaling + s->min_lr_rate;
    }
    case TR_SCHED_CONSTANT: break;
    }
    return 1.0;
}

double tr_sched_lr(const tr_sched *s, int64_t step) { return s->base_lr * tr_sched_lambda(s, step); }

int64_t tr_warmup_steps_hf(double warmup, int64_t total) {
    if (warmup >= 1) return (int64_t)warmup;
    return warmup > 0 ? (int64_t)ceil((double)total * warmup) : 0;
}

int64_t tr_warmup_steps_axolotl(int64_t warmup_steps, double warmup_ratio, int64_t total) {
    int64_t w;
    if (warmup_steps >= 0)
        w = warmup_steps;
    else if (warmup_ratio >= 0)
        w = (int64_t)(warmup_ratio * (double)total);
    else {
        w = (int64_t)(0.03 * (double)total);
        if (w > 100) w = 100;
    }
    return w == 1 ? 2 : w;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t tr_total_steps_hf(int64_t n_examples, int64_t per_device_batch, int64_t world,
                          int64_t grad_accum, double num_epochs, int64_t max_steps) {
    if (max_steps > 0) return max_steps;
    int64_t len_dl = ceil_div(ceil_div(n_examples, per_device_batch), world);
    int64_t upd = len_dl / grad_accum + (len_dl % grad_accum > 0);
    if (upd < 1) upd = 1;
    return (int64_t)ceil(num_epochs * (double)upd);
}

int64_t tr_total_steps_axolotl(int64_t n_examples, int64_t micro_batch, int64_t world,
                               int64_t grad_accum, double num_epochs, int64_t max_steps) {
    if (max_steps > 0) return max_steps;
    return (int64_t)ceil((double)n_examples * num_epochs / (double)(micro_batch * grad_accum * world));
}
