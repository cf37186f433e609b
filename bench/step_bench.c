/* The optimizer side of one training step over a model's real parameter set, the unfused
 * sequence the trainer ran before against tr_step_finish (one fused pass or two):
 *   build/release/bench/step_bench MODEL_DIR [--mode full|lora] [--optim adamw|adamw8|sgd]
 *                                            [--runs N] [--max-norm X]
 * full: every parameter trainable (the benchmark model: 62.3M floats); lora: the frozen f32
 * base with r=16 adapters on q_a, q_b, kv_a, kv_b, o (as bench/m4_step --lora-r 16).
 *   old:   scale every gradient (one thread, as train/step.c did), clip_grad_norm_ (norm pass +
 *          multiply pass; the plain norm when --max-norm 0), the optimizer pass, and the memset
 *          of all gradients that began the next step (m4_model_zero_grads);
 *   fused: tr_step_finish + m4_model_zero_grads (which the fused step makes a no-op).
 * Gradients are refilled (untimed) before each run; old and fused alternate; medians of
 * --runs (default 7) are printed.
 * --bnb-search: "old" is instead tr_step_finish with the 8-bit AdamW's reference binary
 * search (NEWT_BNB_QUANT=search) against the lookup-table kernels, for --optim adamw8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/threads.h"
#include "model/m4_load.h"
#include "model/m4_lora.h"
#include "model/m4_model.h"
#include "train/lora_target.h"
#include "train/step.h"
#include "bench_util.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static nt_status make_lora(m4_model *m, const m4_config *cfg, nt_err *err) {
    static const char *const mods[] = {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
    tr_spec sp = {.modules = mods, .n_modules = 5};
    tr_result res;
    nt_status st = m4_model_freeze_base(m, TN_F32, false, err);
    if (!st) st = tr_resolve(cfg, &sp, &res, err);
    if (st) return st;
    m4_lora_opts o = {.r = 16, .alpha = 32, .seed = 1};
    st = m4_lora_attach(m, &res, &o, err);
    tr_result_free(&res);
    return st;
}

/* Gradients of a summed loss over ~500 tokens: values around 1e-2, varied. */
static void fill(tr_optim *o, uint32_t seed) {
    for (size_t i = 0; i < tr_optim_param_count(o); i++) {
        const tr_param *p = tr_optim_param(o, i);
        for (size_t j = 0; j < p->numel; j++) {
            seed = seed * 1664525u + 1013904223u;
            p->grad[j] = (float)((int32_t)seed >> 8) * 0x1p-30f;
        }
    }
}

/* The sequence train/step.c ran before tr_optim_fused_step. */
static float old_step(tr_optim *o, m4_model *m, double s, double max_norm, double lr) {
    for (size_t i = 0; i < tr_optim_param_count(o); i++) {
        float *g = tr_optim_param(o, i)->grad;
        size_t n = tr_optim_param(o, i)->numel;
        for (size_t k = 0; k < n; k++) g[k] = (float)(g[k] * s);
    }
    float gn = max_norm > 0 ? tr_optim_clip_grad_norm(o, max_norm) : tr_optim_grad_norm(o);
    tr_optim_step(o, lr);
    (void)m4_model_grad_data(m, 0); /* forget "known zero": zero_grads memsets, as it always did */
    m4_model_zero_grads(m);
    return gn;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *mode = "full", *optim = "adamw";
    int runs = 7;
    bool bnb_search = false;
    double max_norm = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--mode") && v) mode = argv[++i];
        else if (!strcmp(argv[i], "--optim") && v) optim = argv[++i];
        else if (!strcmp(argv[i], "--runs") && v) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-norm") && v) max_norm = atof(argv[++i]);
        else if (!strcmp(argv[i], "--bnb-search")) bnb_search = true;
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else dir = NULL, i = argc;
    }
    if (!dir || runs < 1 || (strcmp(mode, "full") && strcmp(mode, "lora")))
        return fprintf(stderr, "usage: step_bench MODEL_DIR [--mode full|lora] [--optim adamw|adamw8|sgd] "
                               "[--runs N] [--max-norm X] [--bnb-search]\n"), 2;
    int threads = nt_threads_init(0);
    nt_err err = {0};
    m4_weights *w = NULL;
    m4_model *m = NULL;
    bool lora = !strcmp(mode, "lora");
    if (m4_weights_open(dir, &w, &err) || m4_model_new(&m4_weights_config(w)->text, NULL, &m, &err) ||
        (lora && make_lora(m, m4_weights_config(w), &err)) || m4_model_load(m, w, &err) ||
        m4_model_alloc_grads(m, &err))
        return fprintf(stderr, "step_bench: %s\n", err.msg), 1;
    m4_weights_close(w);
    tr_optim_hparams hp = tr_optim_defaults(!strcmp(optim, "adamw8") ? TR_OPT_ADAMW_8BIT
                                            : !strcmp(optim, "sgd")  ? TR_OPT_SGD
                                                                     : TR_OPT_ADAMW);
    tr_optim *o = NULL;
    if (tr_step_optim_new(m, &hp, 0.01, &o, &err)) return fprintf(stderr, "step_bench: %s\n", err.msg), 1;
    size_t nf = 0;
    for (size_t i = 0; i < tr_optim_param_count(o); i++) nf += tr_optim_param(o, i)->numel;
    double *t_old = malloc((size_t)runs * sizeof(double)), *t_new = malloc((size_t)runs * sizeof(double));
    double scale = 1.0 / 511, lr = 1e-5;
    for (int r = -1; r < runs; r++) { /* r = -1: warm-up (first touch of the states) */
        fill(o, 7u + (uint32_t)r);
        if (bnb_search) setenv("NEWT_BNB_QUANT", "search", 1);
        double t0 = bn_now();
        if (bnb_search) tr_step_finish(o, m, scale, max_norm, lr), m4_model_zero_grads(m);
        else old_step(o, m, scale, max_norm, lr);
        double t1 = bn_now();
        unsetenv("NEWT_BNB_QUANT");
        fill(o, 7u + (uint32_t)r);
        double t2 = bn_now();
        tr_step_finish(o, m, scale, max_norm, lr);
        m4_model_zero_grads(m);
        double t3 = bn_now();
        if (r >= 0) t_old[r] = t1 - t0, t_new[r] = t3 - t2;
    }
    qsort(t_old, (size_t)runs, sizeof(double), cmp);
    qsort(t_new, (size_t)runs, sizeof(double), cmp);
    printf("%s %s: %.2fM trainable floats in %zu tensors, max_norm %g, %d threads, %d runs\n", mode,
           tr_optim_kind_name(hp.kind), nf / 1e6, tr_optim_param_count(o), max_norm, threads, runs);
    printf("%s median %8.2f ms (min %.2f, max %.2f)\n",
           bnb_search ? "fused, bnb binary search:              " : "old   (scale, clip/norm, step, memset):",
           1e3 * t_old[runs / 2], 1e3 * t_old[0], 1e3 * t_old[runs - 1]);
    printf("fused (tr_step_finish, no memset):      median %8.2f ms (min %.2f, max %.2f)\n", 1e3 * t_new[runs / 2],
           1e3 * t_new[0], 1e3 * t_new[runs - 1]);
    printf("saved: %.2f ms per step (%.2fx); %.2f vs %.2f ns per parameter\n",
           1e3 * (t_old[runs / 2] - t_new[runs / 2]), t_old[runs / 2] / t_new[runs / 2],
           1e9 * t_old[runs / 2] / (double)nf, 1e9 * t_new[runs / 2] / (double)nf);
    free(t_old), free(t_new);
    tr_optim_free(o);
    m4_model_free(m);
    return 0;
}
