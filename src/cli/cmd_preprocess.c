/* newt preprocess CONFIG: datasets -> tokenized, masked samples -> split -> prepared cache
 * (-> packing plan), with a summary of everything read, kept and dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/ds_cache.h"
#include "data/ds_debug.h"
#include "data/ds_opts.h"
#include "data/ds_pack.h"
#include "data/ds_prep.h"
#include "data/ds_split.h"

static const char usage_text[] =
    "usage: newt preprocess CONFIG [--debug] [--debug-num-examples N] [--export-jsonl PATH]\n"
    "                       [--threads N] [--color|--no-color] [--key value ...]\n"
    "  Reads every datasets: entry, renders and tokenizes each conversation, computes the label\n"
    "  masks, splits off val_set_size, writes the prepared cache under dataset_prepared_path\n"
    "  (default last_run_prepared; reused when nothing changed) and prints a summary.\n"
    "  --debug prints the first N (default 5) training samples token by token, trained tokens\n"
    "  green and masked red (« » around trained tokens without colour). --export-jsonl writes\n"
    "  {\"input_ids\", \"labels\", \"dataset\", \"row\"} per sample (train, then validation).\n"
    "  Other --key value pairs override config keys.\n";

typedef struct {
    const char *config, *export_path;
    bool debug;
    int debug_n, threads, color; /* color: -1 auto */
    char **ov;
    int nov;
} pp_args;

typedef struct {
    const cfg *c;
    const tok_tokenizer *t;
    int threads;
    ds_stats st;
    bool built;
} pp_build;

static int parse_args(int argc, char **argv, pp_args *a) {
    *a = (pp_args){.debug_n = 5, .color = -1};
    a->ov = calloc((size_t)argc, sizeof *a->ov);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) { fputs(usage_text, stdout); return 0; }
        else if (!strcmp(s, "--debug")) a->debug = true;
        else if (!strcmp(s, "--debug-num-examples") && has) a->debug = true, a->debug_n = atoi(argv[++i]);
        else if (!strcmp(s, "--export-jsonl") && has) a->export_path = argv[++i];
        else if (!strcmp(s, "--threads") && has) a->threads = atoi(argv[++i]);
        else if (!strcmp(s, "--color")) a->color = 1;
        else if (!strcmp(s, "--no-color")) a->color = 0;
        else if (!strncmp(s, "--", 2)) a->ov[a->nov++] = argv[i];
        else if (!a->config) a->config = s;
        else a->ov[a->nov++] = argv[i]; /* the value of an override */
    }
    if (a->config) return -1;
    fputs(usage_text, stderr);
    return 2;
}

static nt_status build(void *ctx, ds_set *train, ds_set *valid, nt_err *err) {
    pp_build *b = ctx;
    b->built = true;
    return ds_prepare_split(b->c, b->t, b->threads, train, valid, &b->st, err);
}

static void print_build(const ds_stats *s) {
    printf("rows read         %llu\n", (unsigned long long)s->rows);
    printf("samples kept      %llu (truncated %llu)\n", (unsigned long long)s->kept, (unsigned long long)s->truncated);
    printf("rows dropped      %llu\n", (unsigned long long)ds_stats_dropped(s));
    for (int d = 0; d < DS_DROP_COUNT; d++)
        if (s->dropped[d]) printf("  %-18s %llu\n", ds_drop_name((ds_drop)d), (unsigned long long)s->dropped[d]);
    for (size_t i = 0; i < s->nnotes; i++) printf("  dropped: %s\n", s->notes[i]);
    if (ds_stats_dropped(s) > s->nnotes) printf("  (first %zu drops shown)\n", s->nnotes);
    printf("tokens            %llu (trained %llu, %.1f%%)\n", (unsigned long long)s->tokens,
           (unsigned long long)s->trained, s->tokens ? 100.0 * (double)s->trained / (double)s->tokens : 0.0);
    if (s->unterminated)
        printf("warning: %llu trained turns end without a trained EOS/EOT token: the template closes them with\n"
               "  tokens that are neither eos_token nor in eot_tokens (add the turn terminator, e.g. <|im_end|>,\n"
               "  to eot_tokens; see docs/datasets.md)\n", (unsigned long long)s->unterminated);
    printf("preprocessing     %.3f s on %d threads: %.0f conversations/s, %.0f tokens/s\n", s->seconds, s->threads,
           s->seconds > 0 ? (double)s->rows / s->seconds : 0.0, s->seconds > 0 ? (double)s->tokens / s->seconds : 0.0);
}

static int packing(const cfg *c, const ds_set *train, nt_err *err) {
    if (!cfg_get_bool(c, "sample_packing")) return 0;
    ds_pack_opts o = ds_pack_opts_from_cfg(c);
    ds_pack_plan p = {0};
    if (ds_pack_plan_build(train, &o, &p, err)) { cli_error("%s", err->msg); return 1; }
    printf("packing           %zu samples in %zu bins of %u tokens: efficiency %.2f%%\n", p.nitems, p.nbins,
           o.seq_len, 100.0 * ds_pack_efficiency(&p));
    ds_pack_plan_free(&p);
    return 0;
}

static int after_cache(const pp_args *a, const cfg *c, const tok_tokenizer *t, const ds_cache *dc) {
    nt_err err = {0};
    printf("split             train %zu, validation %zu\n", dc->train.n, dc->val.n);
    if (packing(c, &dc->train, &err)) return 1;
    if (a->export_path) {
        ds_set both = {0};
        ds_set_append(&both, &dc->train);
        ds_set_append(&both, &dc->val);
        nt_status st = ds_export_jsonl(&both, a->export_path, &err);
        ds_set_free(&both);
        if (st) { cli_error("%s", err.msg); return 1; }
        printf("exported          %s\n", a->export_path);
    }
    if (a->debug) {
        bool color = a->color >= 0 ? a->color : isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        nt_buf b = {0};
        for (size_t i = 0; i < dc->train.n && (int)i < a->debug_n; i++) ds_debug_sample(&b, &dc->train, i, t, color);
        fwrite(b.data ? b.data : "", 1, b.len, stdout);
        nt_buf_free(&b);
    }
    return 0;
}

static int run(const pp_args *a, const cfg *c, const tok_tokenizer *t) {
    nt_err err = {0};
    uint8_t key[DS_CACHE_KEY_LEN];
    if (ds_prepare_key(c, t, key, &err)) { cli_error("%s", err.msg); return 1; }
    const char *dir = cfg_get_str(c, "dataset_prepared_path");
    pp_build b = {.c = c, .t = t, .threads = a->threads};
    ds_cache dc = {0};
    bool reused = false;
    nt_status st = ds_cache_get(dir ? dir : "last_run_prepared", key, build, &b, &dc, &reused, &err);
    if (b.built) print_build(&b.st);
    ds_stats_free(&b.st);
    if (st) { cli_error("%s", err.msg); return 1; }
    char *path = ds_cache_path(dir ? dir : "last_run_prepared", key);
    printf("prepared data     %s (%s)\n", path, reused ? "reused: nothing changed" : "built");
    free(path);
    int rc = after_cache(a, c, t, &dc);
    ds_cache_close(&dc);
    return rc;
}

int cli_cmd_preprocess(int argc, char **argv) {
    pp_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) { free(a.ov); return rc; }
    cfg *c = NULL;
    tok_tokenizer *t = NULL;
    nt_err err = {0};
    if (cfg_load_file(a.config, a.nov, a.ov, &c, &err)) { cli_error("%s", err.msg); free(a.ov); return 1; }
    for (size_t i = 0; i < c->nreports; i++) fprintf(stderr, "newt: note: %s\n", c->reports[i].msg);
    const char *tp = cfg_get_str(c, "tokenizer_config");
    if (!tp) tp = cfg_get_str(c, "base_model");
    if (tok_load(tp, &t, &err)) { cli_error("tokenizer: %s", err.msg); rc = 1; }
    else rc = run(&a, c, t);
    tok_free(t);
    cfg_free(c);
    free(a.ov);
    return rc;
}
