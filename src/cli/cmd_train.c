/* newt train CONFIG [--key value ...]: fine-tunes base_model on the config's datasets and
 * writes the result to output_dir (src/train/trainer.h, docs/training.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/interrupt.h"
#include "cli/cli.h"
#include "train/trainer.h"

static const char usage_text[] =
    "usage: newt train CONFIG [--threads N] [--no-progress] [--key value ...]\n"
    "  Full fine-tune (adapter unset), LoRA or QLoRA of base_model on the config's datasets;\n"
    "  logs every logging_steps, evaluates on the validation split, and writes the model or\n"
    "  adapter, tokenizer files, README.md, metrics.jsonl and trainer_state.json to output_dir.\n"
    "  Other --key value pairs override config keys (--learning-rate 1e-4, --max_steps=10).\n";

typedef struct {
    const char *config;
    int threads;
    bool progress;
    char **ov;
    int nov;
} train_args;

static int parse_args(int argc, char **argv, train_args *a) {
    *a = (train_args){.progress = true};
    a->ov = calloc((size_t)argc, sizeof *a->ov);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) { fputs(usage_text, stdout); return 0; }
        else if (!strcmp(s, "--threads") && i + 1 < argc) a->threads = atoi(argv[++i]);
        else if (!strcmp(s, "--no-progress")) a->progress = false;
        else if (!strncmp(s, "--", 2) || a->config) a->ov[a->nov++] = argv[i];
        else a->config = s;
    }
    if (a->config) return -1;
    fputs(usage_text, stderr);
    return 2;
}

int cli_cmd_train(int argc, char **argv) {
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) { free(a.ov); return rc; }
    cfg *c = NULL;
    nt_err err = {0};
    if (cfg_load_file(a.config, a.nov, a.ov, &c, &err)) { cli_error("%s", err.msg); free(a.ov); return 1; }
    for (size_t i = 0; i < c->nreports; i++) fprintf(stderr, "newt: note: %s\n", c->reports[i].msg);
    tr_run_opts o = {.threads = a.threads, .progress = a.progress, .out = stdout, .interruptible = true};
    nt_interrupt_install();
    tr_run_result r;
    rc = 0;
    if (tr_train(c, &o, &r, &err)) { cli_error("%s", err.msg); rc = 1; }
    else if (r.interrupted) {
        const char *od = cfg_get_str(c, "output_dir");
        printf("interrupted       at step %lld: checkpoint written to %s/checkpoint-%lld; continue with\n"
               "                  newt train %s --auto_resume_from_checkpoints true\n",
               (long long)r.steps, od ? od : "./model-out", (long long)r.steps, a.config);
        rc = 130;
    } else {
        const char *od = cfg_get_str(c, "output_dir");
        printf("done              %lld steps in %.1f s: loss %.4f -> %.4f (train_loss %.4f)", (long long)r.steps,
               r.seconds, r.first_loss, r.last_loss, r.train_loss);
        if (r.eval_loss == r.eval_loss) printf(", eval_loss %.4f", r.eval_loss);
        printf("\nsaved             %s\n", od ? od : "./model-out");
    }
    cfg_free(c);
    free(a.ov);
    return rc;
}
