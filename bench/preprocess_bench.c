/* Dataset preparation throughput: generates a seeded chat dataset (jsonl, >= --mb MiB), then
 * times each stage on all cores: the cache key (hash of every input), the conversation
 * pipeline (render + tokenize + mask: ds_prepare), split, prepared-cache write and mmap read
 * (with full checksum validation), the packing plan and materializing every packed row.
 *
 *   build/release/bench/preprocess_bench --tokenizer DIR --template FILE.jinja [--mb 50]
 *       [--seed 1] [--seq-len 2048] [--threads N] [--dir /tmp/newt-prep-bench]
 *
 * Without --tokenizer the pipeline stage is skipped and samples get synthetic token ids
 * (lengths from the generator), so split/cache/pack can still be timed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/threads.h"
#include "data/ds_cache.h"
#include "data/ds_opts.h"
#include "data/ds_pack.h"
#include "data/ds_prep.h"
#include "data/ds_split.h"
#include "tokenizer/tok.h"
#include "bench_util.h"

static const char *const words[] = {
    "the", "model", "answer", "question", "data", "train", "loss", "token", "a", "of", "to",
    "and", "in", "is", "that", "for", "with", "as", "on", "be", "this", "by", "it", "from",
    "matrix", "gradient", "layer", "attention", "expert", "router", "sequence", "batch",
    "learning", "rate", "café", "naïve", "über", "日本語", "données", "привет", "42", "3.14",
    "function", "return", "value", "print(x)", "x = 1;", "{\\\"k\\\": 2}", "why?", "because",
    "however,", "therefore", "example:", "step", "first", "then", "finally", "result.",
};
#define NWORDS (sizeof words / sizeof *words)

static uint64_t rnd(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void put_text(nt_buf *b, uint64_t *s, unsigned nwords) {
    for (unsigned w = 0; w < nwords; w++) {
        if (w) nt_buf_putc(b, ' ');
        nt_buf_puts(b, words[rnd(s) % NWORDS]);
    }
}

/* One conversation: optional system turn, 1-4 user/assistant exchanges. */
static void put_conversation(nt_buf *b, uint64_t *s) {
    nt_buf_puts(b, "{\"messages\": [");
    bool sys = rnd(s) % 2;
    if (sys) {
        nt_buf_puts(b, "{\"role\": \"system\", \"content\": \"");
        put_text(b, s, 5 + rnd(s) % 20);
        nt_buf_puts(b, "\"}, ");
    }
    unsigned turns = 1 + rnd(s) % 4;
    for (unsigned t = 0; t < turns; t++) {
        nt_buf_puts(b, t ? ", {\"role\": \"user\", \"content\": \"" : "{\"role\": \"user\", \"content\": \"");
        put_text(b, s, 5 + rnd(s) % 60);
        nt_buf_puts(b, "\"}, {\"role\": \"assistant\", \"content\": \"");
        put_text(b, s, 10 + rnd(s) % 150);
        nt_buf_puts(b, "\"}");
    }
    nt_buf_puts(b, "]}\n");
}

static nt_status generate(const char *path, size_t bytes, uint64_t seed, size_t *nconv, nt_err *err) {
    nt_atomic_file f;
    nt_status st = nt_atomic_open(&f, path, err);
    if (st) return st;
    nt_buf b = {0};
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    size_t total = 0;
    *nconv = 0;
    while (total < bytes && !st) {
        b.len = 0;
        for (int k = 0; k < 1000; k++, (*nconv)++) put_conversation(&b, &s);
        st = nt_atomic_write(&f, b.data, b.len, err);
        total += b.len;
    }
    nt_buf_free(&b);
    if (st) {
        nt_atomic_abort(&f);
        return st;
    }
    return nt_atomic_commit(&f, err);
}

/* Stand-in for the pipeline when no tokenizer is given: plausible lengths, half trained. */
static void synthetic(size_t n, uint32_t seq_len, uint64_t seed, ds_set *out) {
    uint64_t s = seed + 7;
    int32_t *ids = nt_xmalloc(seq_len * sizeof *ids), *lab = nt_xmalloc(seq_len * sizeof *lab);
    for (size_t i = 0; i < n; i++) {
        uint32_t len = 30 + (uint32_t)(rnd(&s) % (seq_len < 1500 ? seq_len - 30 : 1470));
        for (uint32_t k = 0; k < len; k++) {
            ids[k] = (int32_t)(rnd(&s) % 100000);
            lab[k] = k < len / 2 ? DS_IGNORE_INDEX : ids[k];
        }
        ds_set_add(out, ids, lab, len, 0, i + 1);
    }
    free(ids);
    free(lab);
}

typedef struct {
    const char *tokenizer, *tmpl, *dir;
    size_t mb;
    uint64_t seed;
    uint32_t seq_len;
    int threads;
} bench_opts;

static int parse_args(int argc, char **argv, bench_opts *o) {
    *o = (bench_opts){.dir = "/tmp/newt-prep-bench", .mb = 50, .seed = 1, .seq_len = 2048};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return fprintf(stderr, "%s needs a value\n", a), 2;
        if (!strcmp(a, "--tokenizer")) o->tokenizer = v;
        else if (!strcmp(a, "--template")) o->tmpl = v;
        else if (!strcmp(a, "--dir")) o->dir = v;
        else if (!strcmp(a, "--mb")) o->mb = (size_t)atol(v);
        else if (!strcmp(a, "--seed")) o->seed = (uint64_t)atoll(v);
        else if (!strcmp(a, "--seq-len")) o->seq_len = (uint32_t)atol(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else return fprintf(stderr, "unknown option %s\n", a), 2;
        i++;
    }
    return 0;
}

static cfg *make_cfg(const bench_opts *o, const char *jsonl) {
    char *y = nt_xasprintf("base_model: %s\nlearning_rate: 0.0001\nsequence_len: %u\nseed: %llu\n"
                           "val_set_size: 0.01\nsample_packing: true\n%s%s\n"
                           "datasets:\n  - path: %s\n    type: chat_template\n",
                           o->tokenizer ? o->tokenizer : ".", o->seq_len, (unsigned long long)o->seed,
                           o->tmpl ? "chat_template: jinja\nchat_template_jinja: " : "",
                           o->tmpl ? o->tmpl : "", jsonl);
    cfg *c = NULL;
    nt_err err = {0};
    if (cfg_load_text(y, strlen(y), "bench.yml", 0, NULL, &c, &err)) fprintf(stderr, "config: %s\n", err.msg);
    free(y);
    return c;
}

static int fail(const nt_err *err) {
    fprintf(stderr, "preprocess_bench: %s\n", err->msg);
    return 1;
}

/* Split, cache write + read, pack plan and every packed row, timed. */
static int later_stages(const ds_set *all, const cfg *c, const bench_opts *o, const uint8_t *key) {
    nt_err err = {0};
    ds_set tr = {0}, va = {0};
    double t0 = bn_now();
    if (ds_split(all, &(ds_split_opts){0.01, true, o->seed}, &tr, &va, &err)) return fail(&err);
    double t1 = bn_now();
    char *path = ds_cache_path(o->dir, key);
    if (ds_cache_write(path, key, &tr, &va, &err)) return fail(&err);
    double t2 = bn_now();
    ds_cache cc;
    if (ds_cache_read(path, key, &cc, &err)) return fail(&err);
    double t3 = bn_now();
    ds_pack_opts po = ds_pack_opts_from_cfg(c);
    ds_pack_plan p;
    if (ds_pack_plan_build(&cc.train, &po, &p, &err)) return fail(&err);
    double t4 = bn_now();
    ds_pack_row r;
    ds_pack_row_alloc(&r, po.seq_len);
    uint64_t sum = 0;
    for (size_t b = 0; b < p.nbins; b++) sum += ds_pack_row_fill(&cc.train, &p, b, true, 11, &r);
    double t5 = bn_now();
    double mb = (double)(tr.ntok + va.ntok) * 8 / 1e6;
    printf("split (val 1%%, shuffled)    %8.3f s  %zu train / %zu val\n", t1 - t0, tr.n, va.n);
    printf("cache write (atomic)        %8.3f s  %.1f MB of columns, %.0f MB/s\n", t2 - t1, mb, mb / (t2 - t1));
    printf("cache read (mmap + verify)  %8.3f s  %.0f MB/s\n", t3 - t2, mb / (t3 - t2));
    printf("pack plan (FFD)             %8.3f s  %zu bins of %u, efficiency %.2f%%\n", t4 - t3, p.nbins,
           po.seq_len, 100 * ds_pack_efficiency(&p));
    printf("materialize packed rows     %8.3f s  %.0f rows/s (%llu tokens)\n", t5 - t4,
           (double)p.nbins / (t5 - t4), (unsigned long long)sum);
    ds_pack_row_free(&r);
    ds_pack_plan_free(&p);
    ds_cache_close(&cc);
    ds_set_free(&tr);
    ds_set_free(&va);
    free(path);
    return 0;
}

int main(int argc, char **argv) {
    bench_opts o;
    if (parse_args(argc, argv, &o)) return 2;
    int threads = nt_threads_init(o.threads);
    nt_log_set_level(NT_LOG_WARN);
    nt_err err = {0};
    if (nt_mkdirs(o.dir, &err)) return fail(&err);
    char *jsonl = nt_xasprintf("%s/chat.jsonl", o.dir);
    size_t nconv = 0;
    double t0 = bn_now();
    if (generate(jsonl, o.mb << 20, o.seed, &nconv, &err)) return fail(&err);
    printf("generate                    %8.3f s  %zu conversations, %zu MiB -> %s\n", bn_now() - t0, nconv, o.mb, jsonl);
    cfg *c = make_cfg(&o, jsonl);
    if (!c) return 1;
    ds_set all = {0};
    uint8_t key[DS_CACHE_KEY_LEN] = {0};
    tok_tokenizer *t = NULL;
    if (o.tokenizer) {
        if (tok_load(o.tokenizer, &t, &err)) return fail(&err);
        double k0 = bn_now();
        if (ds_prepare_key(c, t, key, &err)) return fail(&err);
        double k1 = bn_now();
        printf("cache key (hash all inputs) %8.3f s\n", k1 - k0);
        ds_stats st = {0};
        if (ds_prepare(c, t, threads, &all, &st, &err)) return fail(&err);
        double k2 = bn_now();
        printf("pipeline (%2d threads)       %8.3f s  %.0f conversations/s, %.0f tokens/s "
               "(%llu rows, %llu kept, %llu tokens, %llu trained)\n", threads, k2 - k1,
               (double)st.rows / (k2 - k1), (double)st.tokens / (k2 - k1), (unsigned long long)st.rows,
               (unsigned long long)st.kept, (unsigned long long)st.tokens, (unsigned long long)st.trained);
        ds_stats_free(&st);
    } else {
        synthetic(nconv, o.seq_len, o.seed, &all);
        nt_hash_buf(&o.seed, sizeof o.seed, key, sizeof key);
        printf("pipeline                    skipped (no --tokenizer): %zu synthetic samples\n", all.n);
    }
    int rc = later_stages(&all, c, &o, key);
    ds_set_free(&all);
    tok_free(t);
    cfg_free(c);
    free(jsonl);
    return rc;
}
