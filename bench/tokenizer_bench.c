/* Tokenizer throughput: newt versus Hugging Face tokenizers (Rust, via its node binding) on the
 * same corpus in the same run. Single-thread MB/s and tokens/s, then 2 threads over many
 * documents. Best of N repeats for each figure (the machine may be shared: the spread is printed).
 *
 *   build/release/bench/tokenizer_bench --tokenizer DIR_OR_FILE [--mb 24] [--repeats 3] [--no-hf]
 *
 * The corpus: English prose (vim's documentation), Python source (the standard library) and
 * license texts from this machine, cut into documents of at most 32 KiB at line ends, plus 10%
 * generated multilingual text (tests/unit/tok_corpus.h); it is written to a JSONL file that the
 * HF side reads, so both encode exactly the same documents. HF needs a tokenizer.json: for a
 * folder the one inside, for a tekken.json the HF file is not available and --no-hf is implied. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "tokenizer/tok.h"
#include "../tests/unit/tok_corpus.h"
#include "bench_util.h"

typedef struct {
    char **doc;
    size_t *len;
    size_t n, cap, bytes;
} corpus;

static void add_doc(corpus *c, const char *p, size_t n) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->doc = nt_xrealloc(c->doc, c->cap * sizeof *c->doc);
        c->len = nt_xrealloc(c->len, c->cap * sizeof *c->len);
    }
    c->doc[c->n] = nt_xstrndup(p, n);
    c->len[c->n++] = n;
    c->bytes += n;
}

/* Cuts a file's text into documents of at most 32 KiB, at line ends. */
static void add_file(corpus *c, const char *path, size_t limit) {
    char *data;
    size_t len;
    nt_err err = {0};
    if (nt_read_file(path, &data, &len, &err)) return;
    for (size_t i = 0; i < len && c->bytes < limit;) {
        size_t e = i + 32768 < len ? i + 32768 : len;
        while (e < len && e > i + 1 && data[e - 1] != '\n') e--;
        add_doc(c, data + i, e - i);
        i = e;
    }
    free(data);
}

static bool valid_utf8_file(const char *path) {
    char *data;
    size_t len;
    nt_err err = {0};
    if (nt_read_file(path, &data, &len, &err)) return false;
    bool ok = len > 0 && memchr(data, 0, len) == NULL;
    for (size_t i = 0; ok && i < len; i++) ok = (unsigned char)data[i] != 0xFF && (unsigned char)data[i] != 0xFE;
    free(data);
    return ok;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Files under dir ending in suffix, sorted, recursively. */
static void walk(corpus *c, const char *dir, const char *suffix, size_t limit) {
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        names = nt_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = nt_path_join(dir, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(names[i]), s = strlen(suffix);
        if (c->bytes < limit) {
            if (nt_is_dir(names[i])) walk(c, names[i], suffix, limit);
            else if (k > s && !strcmp(names[i] + k - s, suffix) && valid_utf8_file(names[i])) add_file(c, names[i], limit);
        }
        free(names[i]);
    }
    free(names);
}

static void build_corpus(corpus *c, size_t mb) {
    size_t target = mb << 20, natural = target - target / 10;
    walk(c, "/usr/share/vim/vim90/doc", ".txt", natural / 2);
    walk(c, "/usr/share/common-licenses", "", natural / 2 + (1 << 20));
    walk(c, "/usr/lib/python3.11", ".py", natural);
    walk(c, "/usr/include", ".h", natural);
    uint64_t rng = 42;
    nt_buf b = {0}, doc = {0};
    while (c->bytes < target) { /* multilingual generated documents of ~8 KiB */
        doc.len = 0;
        while (doc.len < 8192) {
            tc_string(&b, &rng);
            nt_buf_append(&doc, b.data, b.len);
            nt_buf_putc(&doc, '\n');
        }
        add_doc(c, doc.data, doc.len);
    }
    nt_buf_free(&b);
    nt_buf_free(&doc);
}

typedef struct {
    const tok_tokenizer *t;
    const corpus *c;
    atomic_size_t *next;
    size_t tokens;
    double cpu; /* this thread's CPU seconds */
} worker;

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *work(void *arg) {
    worker *w = arg;
    double c0 = thread_cpu();
    tok_scratch *s = tok_scratch_new(w->t);
    tok_encoding e = {0};
    nt_err err = {0};
    for (size_t i; (i = atomic_fetch_add(w->next, 1)) < w->c->n;) {
        e.n = 0; /* reuse the buffers */
        if (tok_encode(w->t, w->c->doc[i], w->c->len[i], NULL, s, &e, &err)) {
            fprintf(stderr, "document %zu: %s\n", i, err.msg);
            exit(1);
        }
        w->tokens += e.n;
    }
    tok_encoding_free(&e);
    tok_scratch_free(s);
    w->cpu = thread_cpu() - c0;
    return NULL;
}

/* Wall seconds to encode the corpus with nthreads threads; tokens and CPU seconds counted. */
static double run_newt(const tok_tokenizer *t, const corpus *c, int nthreads, size_t *tokens, double *cpu) {
    atomic_size_t next = 0;
    worker w[8];
    pthread_t th[8];
    double t0 = bn_now();
    for (int i = 0; i < nthreads; i++) {
        w[i] = (worker){t, c, &next, 0, 0};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    *tokens = 0;
    *cpu = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        *tokens += w[i].tokens;
        *cpu += w[i].cpu;
    }
    return bn_now() - t0;
}

typedef struct { double best, worst, cpu; size_t tokens; } timing;

static timing repeat_newt(const tok_tokenizer *t, const corpus *c, int threads, int reps) {
    timing tm = {1e30, 0, 0, 0};
    for (int r = 0; r < reps; r++) {
        double cpu, s = run_newt(t, c, threads, &tm.tokens, &cpu);
        if (s < tm.best) tm.best = s, tm.cpu = cpu;
        if (s > tm.worst) tm.worst = s;
    }
    return tm;
}

static bool run_hf(const char *tokjson, const char *corpus_path, const char *mode, int threads, int reps,
                   timing *tm) {
    char *cmd = nt_xasprintf("RAYON_NUM_THREADS=%d TOKENIZERS_PARALLELISM=%s node bench/hf_tokenizers_bench.js '%s' '%s' %s %d",
                             threads, threads > 1 ? "true" : "false", tokjson, corpus_path, mode, reps);
    FILE *p = popen(cmd, "r");
    free(cmd);
    char line[512] = {0};
    bool ok = p && fgets(line, sizeof line, p);
    if (p) ok = pclose(p) == 0 && ok;
    val *v = NULL;
    nt_err err = {0};
    if (!ok || json_parse(line, strlen(line), &v, &err)) return false;
    tm->best = val_to_double(val_dict_get(v, "seconds"));
    tm->tokens = (size_t)val_dict_get(v, "tokens")->u.i;
    val_unref(v);
    return true;
}

static void report(const char *name, const timing *tm, size_t bytes, double base) {
    double mbs = (double)bytes / 1048576.0 / tm->best;
    printf("%-44s %8.2f MB/s %11.0f tokens/s  %9zu tokens", name, mbs, (double)tm->tokens / tm->best, tm->tokens);
    if (tm->worst > 0) printf("  (best %.3f s, worst %.3f s)", tm->best, tm->worst);
    if (base > 0) printf("  x%.2f", mbs / base);
    putchar('\n');
}

/* The machine may be shared: the load average says how much. */
static void print_load(const char *when) {
    char buf[128] = {0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fgets(buf, sizeof buf, f)) printf("%s: %s", when, buf);
    if (f) fclose(f);
}

static void write_corpus(const corpus *c, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    for (size_t i = 0; i < c->n; i++) {
        fputs("{\"text\": \"", f);
        for (size_t k = 0; k < c->len[i]; k++) {
            unsigned char ch = (unsigned char)c->doc[i][k];
            if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
            else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
            else fputc(ch, f);
        }
        fputs("\"}\n", f);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    const char *path = NULL;
    size_t mb = 24;
    int reps = 3;
    bool hf = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-hf")) hf = false;
        else { fprintf(stderr, "usage: tokenizer_bench --tokenizer PATH [--mb 24] [--repeats 3] [--no-hf]\n"); return 2; }
    }
    if (!path) { fprintf(stderr, "--tokenizer PATH is required\n"); return 2; }
    nt_err err = {0};
    tok_tokenizer *t;
    double t0 = bn_now();
    if (tok_load(path, &t, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    printf("newt loaded %s in %.3f s\n", tok_source(t), bn_now() - t0);
    corpus c = {0};
    build_corpus(&c, mb);
    printf("corpus: %zu documents, %.1f MB\n", c.n, (double)c.bytes / 1048576.0);
    print_load("load average at the start");
    timing n1 = repeat_newt(t, &c, 1, reps), n2 = repeat_newt(t, &c, 2, reps);
    const char *tokjson = tok_get_format(t) == TOK_FORMAT_HF_JSON ? tok_source(t) : NULL;
    timing h_seq = {0}, h_b1 = {0}, h_b2 = {0};
    bool have_hf = false;
    if (hf && tokjson) {
        char *cp = nt_xasprintf("%s/newt-bench-corpus-%d.jsonl", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
        write_corpus(&c, cp);
        have_hf = run_hf(tokjson, cp, "seq", 1, reps, &h_seq) && run_hf(tokjson, cp, "batch", 1, reps, &h_b1) &&
                  run_hf(tokjson, cp, "batch", 2, reps, &h_b2);
        if (!have_hf) fprintf(stderr, "HF tokenizers bench failed (node, .deps/npm: scripts/npm-deps.sh)\n");
        remove(cp);
        free(cp);
    }
    double base = have_hf ? (double)c.bytes / 1048576.0 / h_b1.best : 0;
    if (have_hf) {
        report("HF tokenizers, encode() per doc, 1 thread", &h_seq, c.bytes, base);
        report("HF tokenizers, encodeBatch, 1 rayon thread", &h_b1, c.bytes, base);
        report("HF tokenizers, encodeBatch, 2 rayon threads", &h_b2, c.bytes, base);
        if (h_seq.tokens != n1.tokens || h_b1.tokens != n1.tokens)
            printf("WARNING: token counts differ (newt %zu, HF %zu)\n", n1.tokens, h_b1.tokens);
    }
    report("newt, 1 thread", &n1, c.bytes, base);
    report("newt, 2 threads", &n2, c.bytes, base);
    printf("newt 2-thread scaling: x%.2f (2 threads: %.3f CPU s in %.3f wall s, i.e. %.2f cores were ours; "
           "1 thread: %.3f CPU s)", n1.best / n2.best, n2.cpu, n2.best, n2.cpu / n2.best, n1.cpu);
    if (have_hf) printf("; HF: x%.2f", h_b1.best / h_b2.best);
    printf("\n");
    print_load("load average at the end");
    for (size_t i = 0; i < c.n; i++) free(c.doc[i]);
    free(c.doc);
    free(c.len);
    tok_free(t);
    return 0;
}
