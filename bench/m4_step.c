/* Forward + backward throughput and peak RSS of the model on random tokens:
 *   build/release/bench/m4_step MODEL_DIR [--mode full|lora] [--storage f32|bf16|nf4|nf4dq]
 *                                         [--seq T] [--steps N] [--warmup N] [--ckpt]
 *                                         [--chunk ROWS (lm_head + loss rows per chunk)]
 *                                         [--lora-r R (lora: adapters, alpha 2R)] [--lora-dropout P]
 * full: every parameter trainable (all gradients). lora: every parameter frozen — the LoRA
 * base: the backward computes every dX and no weight gradient; --storage picks how the
 * frozen linear weights are kept; with --lora-r, adapters of rank R on the five MLA
 * projections (PyTorch baseline's targets, model/m4_lora.h). Neither mode runs an
 * optimizer. Each timed step is zero_grads + forward (with loss) + backward.
 * Prints one line "newt mode=... tokens/s=... maxrss=... MiB" (bench/model.sh parses it);
 * cpu/step is the process CPU time of the median step (all threads, spinning included), a
 * second view of a step when other processes share the cores. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/threads.h"
#include "model/m4_load.h"
#include "model/m4_lora.h"
#include "model/m4_model.h"
#include "train/lora_target.h"
#include "bench_util.h"


static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const char *dir, *mode, *storage;
    int64_t T, chunk, lora_r;
    double lora_dropout;
    int steps, warmup;
    bool ckpt;
} args;

static int parse(int argc, char **argv, args *a) {
    *a = (args){.mode = "full", .storage = "f32", .T = 512, .steps = 5, .warmup = 1};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--ckpt")) a->ckpt = true;
        else if (!strcmp(s, "--mode") && v) a->mode = argv[++i];
        else if (!strcmp(s, "--storage") && v) a->storage = argv[++i];
        else if (!strcmp(s, "--seq") && v) a->T = atoll(argv[++i]);
        else if (!strcmp(s, "--chunk") && v) a->chunk = atoll(argv[++i]);
        else if (!strcmp(s, "--lora-r") && v) a->lora_r = atoll(argv[++i]);
        else if (!strcmp(s, "--lora-dropout") && v) a->lora_dropout = atof(argv[++i]);
        else if (!strcmp(s, "--steps") && v) a->steps = atoi(argv[++i]);
        else if (!strcmp(s, "--warmup") && v) a->warmup = atoi(argv[++i]);
        else if (s[0] != '-' && !a->dir) a->dir = s;
        else return 1;
    }
    bool lora = !strcmp(a->mode, "lora");
    if (a->lora_r < 0 || (a->lora_r && !lora)) return 1;
    if (!a->dir || a->T < 2 || a->steps < 1 || a->warmup < 0 || (!lora && strcmp(a->mode, "full")) ||
        (strcmp(a->storage, "f32") && (!lora || (strcmp(a->storage, "bf16") && strcmp(a->storage, "nf4") && strcmp(a->storage, "nf4dq")))))
        return 1;
    return 0;
}

/* lora: freeze everything, linear weights stored as asked (before loading, so compact
 * tensors are converted as they are read). */
static nt_status setup(m4_model *m, const args *a, nt_err *err) {
    if (strcmp(a->mode, "lora")) return NT_OK;
    tn_dtype dt = !strcmp(a->storage, "bf16") ? TN_BF16 : !strncmp(a->storage, "nf4", 3) ? TN_NF4 : TN_F32;
    return m4_model_freeze_base(m, dt, !strcmp(a->storage, "nf4dq"), err);
}

/* --lora-r: adapters on q_a, q_b, kv_a, kv_b, o of every layer. */
static nt_status attach(m4_model *m, const m4_config *cfg, const args *a, nt_err *err) {
    if (!a->lora_r) return NT_OK;
    static const char *const mods[] = {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
    tr_spec sp = {.modules = mods, .n_modules = 5};
    tr_result res;
    nt_status st = tr_resolve(cfg, &sp, &res, err);
    if (st) return st;
    m4_lora_opts o = {.r = a->lora_r, .alpha = 2.0 * (double)a->lora_r, .dropout = a->lora_dropout,
                       .seed = 1};
    st = m4_lora_attach(m, &res, &o, err);
    tr_result_free(&res);
    return st;
}

static void print_report(const m4_model *m) {
    m4_param_report r;
    m4_model_report(m, &r);
    printf("params:");
    for (int d = 0; d < TN_DTYPE_COUNT; d++)
        if (r.count[d]) printf(" %s %.2fM = %.1f MiB;", tn_dtype_name((tn_dtype)d), r.count[d] / 1e6, r.bytes[d] / 1048576.0);
    printf(" trainable %.2fM, gradients %.1f MiB\n", r.trainable / 1e6, r.grad_bytes / 1048576.0);
}

int main(int argc, char **argv) {
    args a;
    if (parse(argc, argv, &a))
        return fprintf(stderr, "usage: m4_step MODEL_DIR [--mode full|lora] [--storage f32|bf16|nf4|nf4dq (lora)] "
                               "[--seq T] [--steps N] [--warmup N] [--ckpt] [--chunk ROWS] [--lora-r R [--lora-dropout P]]\n"), 2;
    m4_options opt = {.checkpointing = a.ckpt, .xent_chunk = a.chunk};
    nt_threads_init(0);
    nt_err err = {0};
    m4_weights *w = NULL;
    m4_model *m = NULL;
    if (m4_weights_open(a.dir, &w, &err) || m4_model_new(&m4_weights_config(w)->text, &opt, &m, &err) ||
        setup(m, &a, &err) || m4_model_load(m, w, &err) || m4_model_alloc_grads(m, &err) ||
        attach(m, m4_weights_config(w), &a, &err))
        return fprintf(stderr, "m4_step: %s\n", err.msg), 1;
    m4_weights_close(w);
    int32_t *ids = malloc(a.T * sizeof(int32_t)), *labels = malloc(a.T * sizeof(int32_t));
    srand(1);
    for (int64_t i = 0; i < a.T; i++) {
        ids[i] = rand() % (int)m4_model_config(m)->vocab_size;
        labels[i] = rand() % (int)m4_model_config(m)->vocab_size;
    }
    m4_batch b = {1, a.T, ids, labels, NULL, NULL};
    double *dt = malloc(a.steps * sizeof(double)), *cpu = malloc(a.steps * sizeof(double));
    m4_loss loss = {0};
    for (int s = 0; s < a.warmup + a.steps; s++) {
        double t0 = bn_now(), c0 = bn_clock(CLOCK_PROCESS_CPUTIME_ID);
        m4_model_zero_grads(m);
        if (m4_forward(m, &b, true, NULL, &loss, &err) || m4_backward(m, &err))
            return fprintf(stderr, "m4_step: %s\n", err.msg), 1;
        if (s >= a.warmup) {
            dt[s - a.warmup] = bn_now() - t0;
            cpu[s - a.warmup] = bn_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    qsort(dt, a.steps, sizeof(double), cmp);
    qsort(cpu, a.steps, sizeof(double), cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    print_report(m);
    printf("newt mode=%s lora_r=%lld dropout=%g storage=%s ckpt=%d threads=%d T=%lld loss=%.4f step median=%.0f ms (min %.0f, max %.0f, n=%d) "
           "tokens/s=%.0f maxrss=%.0f MiB rss_end=%.0f MiB cpu/step=%.0f ms\n", a.mode, (long long)a.lora_r, a.lora_dropout, a.storage, a.ckpt, nt_threads_count(), (long long)a.T, loss.loss,
           dt[a.steps / 2] * 1e3, dt[0] * 1e3, dt[a.steps - 1] * 1e3, a.steps, a.T / dt[a.steps / 2], ru.ru_maxrss / 1024.0,
           bn_rss_mib() /* after the steps, checkpoint unmapped */, cpu[a.steps / 2] * 1e3);
    free(cpu);
    free(dt); free(ids); free(labels);
    m4_model_free(m);
    return 0;
}
