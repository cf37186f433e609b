/* Seeded mutation fuzzer (no libFuzzer needed, runs under the gcc sanitizer build).
 *
 * A fuzz program defines the seeds and the target and ends with FUZZ_MAIN():
 *
 *   static void fuzz_seeds(fuzz_corpus *c) { fuzz_add(c, data, n); ... }
 *   static void fuzz_target(const uint8_t *data, size_t n) { ... parse, free ... }
 *   FUZZ_MAIN()
 *
 * argv[1] is the duration in seconds (default 5), FUZZ_SEED the RNG seed (default: time).
 * Inputs are mutated seeds (bit flips, byte sets, interesting integers, inserts, deletes,
 * splices, truncations). A crash, sanitizer report or leak aborts the process, and the seed
 * is printed first so the run can be reproduced. On a sanitizer report or an abort the input
 * that caused it is printed last, as a C string, because a CI log often keeps only its tail.
 * The closing line is the harness's "name: 1 passed, 0 failed, 0 skipped". */
#ifndef NEWT_FUZZ_H
#define NEWT_FUZZ_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

typedef struct {
    uint8_t **items;
    size_t *lens;
    size_t n, cap;
} fuzz_corpus;

static inline void fuzz_add(fuzz_corpus *c, const void *data, size_t n) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = realloc(c->items, c->cap * sizeof *c->items);
        c->lens = realloc(c->lens, c->cap * sizeof *c->lens);
        if (!c->items || !c->lens) abort();
    }
    c->items[c->n] = malloc(n ? n : 1);
    if (!c->items[c->n]) abort();
    if (n) memcpy(c->items[c->n], data, n);
    c->lens[c->n++] = n;
}

static inline uint64_t fuzz_rand(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Mutates buf (length *n, capacity cap) in place with 1..8 random edits. */
static inline void fuzz_mutate(uint8_t *buf, size_t *n, size_t cap, const fuzz_corpus *c,
                               uint64_t *rng) {
    static const int64_t interesting[] = {0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff,
                                          0x7fffffff, 0xffffffffLL, INT64_MAX, INT64_MIN, 8};
    int edits = 1 + (int)(fuzz_rand(rng) % 8);
    for (int e = 0; e < edits; e++) {
        size_t len = *n;
        switch (fuzz_rand(rng) % 7) {
        case 0: if (len) buf[fuzz_rand(rng) % len] ^= (uint8_t)(1u << (fuzz_rand(rng) % 8)); break;
        case 1: if (len) buf[fuzz_rand(rng) % len] = (uint8_t)fuzz_rand(rng); break;
        case 2: if (len >= 8) {
                int64_t v = interesting[fuzz_rand(rng) % (sizeof interesting / sizeof *interesting)];
                size_t w = (size_t)1 << (fuzz_rand(rng) % 4);
                size_t at = fuzz_rand(rng) % (len - w + 1);
                memcpy(buf + at, &v, w);
            } break;
        case 3: if (len < cap) { /* insert a byte, often a syntax character */
                static const char syn[] = "{}[]\":,0123456789.eE+-\\ \n\x00\xff";
                size_t at = fuzz_rand(rng) % (len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = fuzz_rand(rng) % 2 ? (uint8_t)syn[fuzz_rand(rng) % (sizeof syn - 1)]
                                             : (uint8_t)fuzz_rand(rng);
                (*n)++;
            } break;
        case 4: if (len) { /* delete a range */
                size_t at = fuzz_rand(rng) % len, k = 1 + fuzz_rand(rng) % 16;
                if (k > len - at) k = len - at;
                memmove(buf + at, buf + at + k, len - at - k);
                *n -= k;
            } break;
        case 5: if (len) *n = fuzz_rand(rng) % len; break; /* truncate */
        case 6: if (c->n) { /* splice a piece of another seed */
                size_t j = fuzz_rand(rng) % c->n;
                if (!c->lens[j]) break;
                size_t from = fuzz_rand(rng) % c->lens[j], k = 1 + fuzz_rand(rng) % 64;
                if (k > c->lens[j] - from) k = c->lens[j] - from;
                size_t at = fuzz_rand(rng) % (len + 1);
                if (at + k > cap) break;
                memcpy(buf + at, c->items[j] + from, k);
                if (at + k > len) *n = at + k;
            } break;
        }
    }
}

static void fuzz_seeds(fuzz_corpus *c);
static void fuzz_target(const uint8_t *data, size_t n);

/* The input under test, for the crash report (a fuzz program is single-threaded). */
static struct {
    const char *name;
    unsigned long long seed;
    const uint8_t *data;
    size_t n;
} fuzz_now_;

static void fuzz_report_(void) {
    if (!fuzz_now_.data) return;
    const uint8_t *d = fuzz_now_.data;
    size_t n = fuzz_now_.n, shown = n < 4096 ? n : 4096;
    fprintf(stderr, "\n%s: FUZZ_SEED=%llu failed on this %zu-byte input%s:\n\"", fuzz_now_.name, fuzz_now_.seed,
            n, shown < n ? " (first 4096 bytes)" : "");
    for (size_t i = 0; i < shown; i++) {
        if (d[i] == '"' || d[i] == '\\') fprintf(stderr, "\\%c", d[i]);
        else if (d[i] == '\n') fputs("\\n\"\n\"", stderr);
        else if (d[i] >= 32 && d[i] < 127) fputc(d[i], stderr);
        else fprintf(stderr, "\\%03o", d[i]); /* octal: never swallows a following digit past 3 */
    }
    fputs("\"\n", stderr);
    fuzz_now_.data = NULL;
}

static void fuzz_on_abort_(int sig) {
    fuzz_report_();
    signal(sig, SIG_DFL);
    raise(sig);
}

static inline int fuzz_main_(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5.0;
    const char *env = getenv("FUZZ_SEED");
    uint64_t seed = env && *env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    const char *name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    fprintf(stderr, "%s: FUZZ_SEED=%llu, %.0f s\n", name, (unsigned long long)seed, seconds);
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    fuzz_now_.name = name;
    fuzz_now_.seed = (unsigned long long)seed;
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_set_death_callback(fuzz_report_);
#endif
    signal(SIGABRT, fuzz_on_abort_);
    fuzz_corpus c = {0};
    fuzz_seeds(&c);
    size_t maxlen = 0;
    for (size_t i = 0; i < c.n; i++) {
        fuzz_now_.data = c.items[i];
        fuzz_now_.n = c.lens[i];
        fuzz_target(c.items[i], c.lens[i]);
        fuzz_now_.data = NULL;
        if (c.lens[i] > maxlen) maxlen = c.lens[i];
    }
    size_t cap = maxlen + 4096;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long iters = 0;
    for (;; iters++) {
        if ((iters & 63) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec) >= seconds)
                break;
        }
        size_t j = c.n ? fuzz_rand(&rng) % c.n : 0, n = c.n ? c.lens[j] : 0;
        if (n) memcpy(buf, c.items[j], n);
        fuzz_mutate(buf, &n, cap, &c, &rng);
        /* Exact-size copy so that reads past the end are caught by ASan. */
        uint8_t *input = malloc(n ? n : 1);
        if (!input) abort();
        memcpy(input, buf, n);
        fuzz_now_.data = input;
        fuzz_now_.n = n;
        fuzz_target(input, n);
        fuzz_now_.data = NULL;
        free(input);
    }
    free(buf);
    for (size_t i = 0; i < c.n; i++) free(c.items[i]);
    free(c.items);
    free(c.lens);
    fprintf(stderr, "%s: %lu inputs, no crash\n", name, iters);
    printf("%s: 1 passed, 0 failed, 0 skipped\n", name);
    return 0;
}

#define FUZZ_MAIN() \
    int main(int argc, char **argv) { return fuzz_main_(argc, argv); }

#endif
