/* Training settings from a config: defaults (HF v5 / axolotl, spec formats.md §5.2, §6.3),
 * explicit values, and errors for what newt does not implement. */
#include <string.h>

#include "test.h"

#include "config/config.h"
#include "train/train_opts.h"

#define BASE "base_model: m\nlearning_rate: 0.0002\ndatasets:\n  - path: d.jsonl\n"

static cfg *load(const char *extra) {
    char text[1024];
    snprintf(text, sizeof text, "%s%s", BASE, extra);
    cfg *c = NULL;
    nt_err err = {0};
    CHECK_MSG(cfg_load_text(text, strlen(text), "config.yml", 0, NULL, &c, &err) == NT_OK, "%s", err.msg);
    return c;
}

TEST(defaults) {
    cfg *c = load("");
    tr_train_opts o;
    nt_err err = {0};
    CHECK(c && tr_train_opts_from_config(c, &o, &err) == NT_OK);
    CHECK(o.optim.kind == TR_OPT_ADAMW); /* adamw_torch_fused */
    CHECK(o.optim.beta1 == 0.9 && o.optim.beta2 == 0.999 && o.optim.eps == 1e-8);
    CHECK(o.learning_rate == 0.0002 && o.weight_decay == 0.0 && o.max_grad_norm == 1.0);
    CHECK_EQ_STR(o.lr_scheduler, "cosine");
    CHECK(!o.use_tensorboard && !o.has_min_lr_ratio);
    /* axolotl: warmup min(int(0.03 T), 100); logging max(min(int(0.005 T), 10), 1) */
    tr_sched s;
    CHECK(tr_train_schedule(&o, 1000, &s, &err) == NT_OK);
    CHECK(s.kind == TR_SCHED_COSINE && s.warmup == 30 && s.total == 1000);
    CHECK_EQ_INT(tr_train_logging_steps(&o, 1000), 5);
    CHECK_EQ_INT(tr_train_logging_steps(&o, 100000), 10);
    CHECK_EQ_INT(tr_train_logging_steps(&o, 50), 1);
    cfg_free(c);
}

TEST(explicit_values) {
    cfg *c = load("optimizer: adamw_bnb_8bit\nweight_decay: 0.01\nadam_beta1: 0.8\n"
                  "adam_beta2: 0.95\nadam_epsilon: 1e-6\nmax_grad_norm: 0.3\n"
                  "lr_scheduler: linear\nwarmup_ratio: 0.1\nlogging_steps: 7\n"
                  "use_tensorboard: true\n");
    tr_train_opts o;
    nt_err err = {0};
    CHECK(c && tr_train_opts_from_config(c, &o, &err) == NT_OK);
    CHECK(o.optim.kind == TR_OPT_ADAMW_8BIT);
    CHECK(o.optim.beta1 == 0.8 && o.optim.beta2 == 0.95 && o.optim.eps == 1e-6);
    CHECK(o.weight_decay == 0.01 && o.max_grad_norm == 0.3 && o.use_tensorboard);
    tr_sched s;
    CHECK(tr_train_schedule(&o, 95, &s, &err) == NT_OK);
    CHECK(s.kind == TR_SCHED_LINEAR && s.warmup == 9); /* floor(0.1 * 95) */
    CHECK_EQ_INT(tr_train_logging_steps(&o, 1000), 7);
    cfg_free(c);
}

TEST(min_lr_variants) {
    cfg *c = load("cosine_min_lr_ratio: 0.1\nwarmup_steps: 4\n");
    tr_train_opts o;
    tr_sched s;
    nt_err err = {0};
    CHECK(c && tr_train_opts_from_config(c, &o, &err) == NT_OK);
    CHECK(tr_train_schedule(&o, 40, &s, &err) == NT_OK);
    CHECK(s.kind == TR_SCHED_COSINE_MIN_LR_RATIO && s.min_lr_rate == 0.1 && s.warmup == 4);
    cfg_free(c);
    c = load("lr_scheduler: cosine_with_min_lr\nlr_scheduler_kwargs:\n  min_lr: 0.00002\n");
    CHECK(c && tr_train_opts_from_config(c, &o, &err) == NT_OK);
    CHECK(tr_train_schedule(&o, 40, &s, &err) == NT_OK);
    CHECK(s.kind == TR_SCHED_COSINE_WITH_MIN_LR && s.min_lr_rate == 0.00002 / 0.0002);
    cfg_free(c);
    c = load("lr_scheduler: cosine_with_min_lr\n");
    CHECK(c && tr_train_opts_from_config(c, &o, &err) == NT_OK);
    CHECK(tr_train_schedule(&o, 40, &s, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "min_lr");
    cfg_free(c);
}

TEST(unsupported_choices) {
    tr_train_opts o;
    nt_err err = {0};
    cfg *c = load("optimizer: lion_8bit\n");
    CHECK(c && tr_train_opts_from_config(c, &o, &err) == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "optimizer: 'lion_8bit' is not supported");
    cfg_free(c);
    c = load("lr_scheduler: one_cycle\n");
    CHECK(c && tr_train_opts_from_config(c, &o, &err) == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "lr_scheduler: 'one_cycle'");
    cfg_free(c);
}

TEST_MAIN()
