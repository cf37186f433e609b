/* Minimal test harness: TEST(name) registers a test (constructor attribute), CHECK*
 * record failures without stopping the test, SKIP() marks a test skipped with a reason.
 * The binary prints one line per failure and a closing "name: N passed, N failed, N skipped";
 * scripts/run-tests.sh sums those lines into the final "N passed, N failed" line CI reads.
 * Tests run from the repository root. */
#ifndef NEWT_TEST_H
#define NEWT_TEST_H

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*test_fn)(void);
typedef struct { const char *name; test_fn fn; } test_case;

#define TEST_MAX 1024
static test_case test_cases_[TEST_MAX];
static int test_ncases_;
static int test_cur_failed_, test_cur_skipped_;

static inline void test_register_(const char *name, test_fn fn) {
    if (test_ncases_ < TEST_MAX) test_cases_[test_ncases_++] = (test_case){name, fn};
}

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    __attribute__((constructor)) static void test_reg_##name(void) {            \
        test_register_(#name, test_##name);                                     \
    }                                                                           \
    static void test_##name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
            test_cur_failed_++;                                                 \
        }                                                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            test_cur_failed_++;                                                 \
        }                                                                       \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                      \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        CHECK_MSG(a_ == b_, "%lld != %lld", a_, b_);                            \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                      \
    do {                                                                        \
        const char *a_ = (a), *b_ = (b);                                        \
        CHECK_MSG(a_ && b_ && strcmp(a_, b_) == 0, "\"%s\" != \"%s\"",          \
                  a_ ? a_ : "(null)", b_ ? b_ : "(null)");                      \
    } while (0)

/* Substring check, e.g. that an error message names the offending key. */
#define CHECK_CONTAINS(hay, needle)                                             \
    do {                                                                        \
        const char *h_ = (hay), *n_ = (needle);                                 \
        CHECK_MSG(h_ && n_ && strstr(h_, n_), "\"%s\" does not contain \"%s\"", \
                  h_ ? h_ : "(null)", n_ ? n_ : "(null)");                      \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                   \
    do {                                                                        \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);          \
        CHECK_MSG(fabs(a_ - b_) <= t_, "%.9g vs %.9g (tol %.3g)", a_, b_, t_);  \
    } while (0)

#define SKIP(...)                                                               \
    do {                                                                        \
        fprintf(stderr, "  SKIP: ");                                            \
        fprintf(stderr, __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                    \
        test_cur_skipped_ = 1;                                                  \
        return;                                                                 \
    } while (0)

/* ../shared (reference material) when present; NEWT_SHARED overrides. NULL if absent. */
static inline const char *test_shared_dir(void) {
    const char *env = getenv("NEWT_SHARED");
    const char *dir = env && *env ? env : "../shared";
    struct stat sb;
    return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) ? dir : NULL;
}

static char test_tmpdir_path_[256];

static int test_rm_entry_(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

/* A fresh temporary directory for the test's files, removed when the binary ends (keep it
 * with TEST_KEEP_TMP=1 to look at what a test wrote). */
static inline const char *test_tmpdir(void) {
    char *path = test_tmpdir_path_;
    if (!path[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(path, sizeof test_tmpdir_path_, "%s/newt-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(path)) { perror("mkdtemp"); exit(2); }
    }
    return path;
}

/* The newt binary of the same build as this test (build/<x>/tests/test_y -> build/<x>/newt). */
static inline const char *test_newt_bin(void) {
    static char path[4096];
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
        if (n <= 0) return "newt";
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        if (slash) *slash = '\0';
        slash = strrchr(path, '/');
        if (slash) strcpy(slash, "/newt");
    }
    return path;
}

/* Runs a shell command, captures stdout (and stderr when merge_stderr) into a heap string.
 * Returns the exit status (-1 if it could not run). */
static inline int test_run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    *out = NULL;
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
    }
    buf[len] = '\0';
    *out = buf;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int test_main_(const char *prog) {
    const char *only = getenv("TEST_ONLY");
    int passed = 0, failed = 0, skipped = 0;
    const char *base = strrchr(prog, '/');
    base = base ? base + 1 : prog;
    for (int i = 0; i < test_ncases_; i++) {
        if (only && *only && !strstr(test_cases_[i].name, only)) continue;
        test_cur_failed_ = 0;
        test_cur_skipped_ = 0;
        test_cases_[i].fn();
        if (test_cur_failed_) {
            failed++;
            fprintf(stderr, "FAILED %s.%s\n", base, test_cases_[i].name);
        } else if (test_cur_skipped_) {
            skipped++;
            fprintf(stderr, "skipped %s.%s\n", base, test_cases_[i].name);
        } else {
            passed++;
        }
    }
    if (test_tmpdir_path_[0] && !getenv("TEST_KEEP_TMP"))
        nftw(test_tmpdir_path_, test_rm_entry_, 16, FTW_DEPTH | FTW_PHYS);
    printf("%s: %d passed, %d failed, %d skipped\n", base, passed, failed, skipped);
    return failed ? 1 : 0;
}

#define TEST_MAIN() \
    int main(int argc, char **argv) { (void)argc; return test_main_(argv[0]); }

#endif
