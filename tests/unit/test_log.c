#include <pthread.h>
#include <regex.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "test.h"

/* Child mode: the env-driven level is read once per process, so it is tested in a fresh
 * process (this binary re-executed) that logs one line per level to stdout and exits. */
__attribute__((constructor(101))) static void log_child(void) {
    if (!getenv("NEWT_LOG_TEST_CHILD")) return;
    nt_log_set_sink(stdout);
    nt_log_debug("d-line");
    nt_log_info("i-line");
    nt_log_warn("w-line");
    nt_log_error("e-line");
    fflush(stdout);
    _exit(0);
}

static char *run_child(const char *level) {
    char *cmd = nt_xasprintf("NEWT_LOG_TEST_CHILD=1 NEWT_LOG_LEVEL='%s' /proc/%ld/exe", level,
                             (long)getpid());
    FILE *f = popen(cmd, "r");
    free(cmd);
    nt_buf out = {0};
    char chunk[1024];
    size_t r;
    while (f && (r = fread(chunk, 1, sizeof chunk, f)) > 0) nt_buf_append(&out, chunk, r);
    if (f) pclose(f);
    nt_buf_putc(&out, '\0');
    return nt_buf_take(&out, NULL);
}

static char *slurp(FILE *f) {
    fflush(f);
    rewind(f);
    nt_buf b = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) nt_buf_append(&b, chunk, r);
    nt_buf_putc(&b, '\0');
    return nt_buf_take(&b, NULL);
}

static bool matches(const char *s, const char *pattern) {
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) return false;
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

TEST(line_format_and_filtering) {
    FILE *f = tmpfile();
    nt_log_set_sink(f);
    nt_log_set_level(NT_LOG_INFO);
    time_t t0 = time(NULL);
    nt_log_info("hello %d", 42);
    nt_log_debug("hidden");
    nt_log_warn("careful\n"); /* a trailing newline is not doubled */
    nt_log_error("bad");
    time_t t1 = time(NULL);
    char *s = slurp(f);
    CHECK_MSG(matches(s, "^\\[[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\] info: hello 42\n"
                         "\\[[0-9:]{8}\\] warn: careful\n\\[[0-9:]{8}\\] error: bad\n$"),
              "got: %s", s);
    CHECK(!strstr(s, "hidden"));
    CHECK(!strchr(s, '\033')); /* a file sink never gets colour */
    /* the stamp is local wall-clock time of the call */
    char a[16], b[16];
    struct tm tm;
    strftime(a, sizeof a, "[%H:%M:%S]", localtime_r(&t0, &tm));
    strftime(b, sizeof b, "[%H:%M:%S]", localtime_r(&t1, &tm));
    CHECK_MSG(strncmp(s, a, 10) == 0 || strncmp(s, b, 10) == 0, "%.10s vs %s", s, a);
    free(s);
    nt_log_set_sink(NULL);
    fclose(f);
}

TEST(levels_and_colour) {
    FILE *f = tmpfile();
    nt_log_set_sink(f);
    nt_log_set_level(NT_LOG_ERROR);
    CHECK(!nt_log_enabled(NT_LOG_WARN));
    nt_log_warn("no");
    nt_log_set_level(NT_LOG_DEBUG);
    CHECK(nt_log_enabled(NT_LOG_DEBUG));
    nt_log_set_color(true);
    nt_log_debug("yes");
    nt_log_set_sink(NULL);
    char *s = slurp(f);
    CHECK_MSG(matches(s, "^\\[[0-9:]{8}\\] \033\\[2mdebug\033\\[0m: yes\n$"), "got: %s", s);
    free(s);
    fclose(f);
    nt_log_set_level(NT_LOG_INFO);
}

TEST(parse_level) {
    nt_log_level lv;
    CHECK(nt_log_parse_level("DEBUG", &lv) && lv == NT_LOG_DEBUG);
    CHECK(nt_log_parse_level("warning", &lv) && lv == NT_LOG_WARN);
    CHECK(nt_log_parse_level("0", &lv) && lv == NT_LOG_ERROR);
    CHECK(!nt_log_parse_level("loud", &lv));
    CHECK(!nt_log_parse_level("4", &lv));
    CHECK(!nt_log_parse_level("", &lv));
    CHECK_EQ_STR(nt_log_level_name(NT_LOG_WARN), "warn");
}

TEST(env_level) {
    char *s = run_child("debug");
    CHECK_MSG(matches(s, "debug: d-line\n.*info: i-line\n.*warn: w-line\n.*error: e-line\n$"),
              "got: %s", s);
    free(s);
    s = run_child("warn");
    CHECK(!strstr(s, "d-line") && !strstr(s, "i-line"));
    CHECK(strstr(s, "w-line") && strstr(s, "e-line"));
    free(s);
    s = run_child("chatty"); /* unknown: warn once, fall back to info */
    CHECK_CONTAINS(s, "warn: NEWT_LOG_LEVEL='chatty' not understood");
    CHECK(!strstr(s, "d-line") && strstr(s, "i-line"));
    free(s);
}

enum { NTHREADS = 4, NLINES = 400 };

static void *writer(void *arg) {
    long id = (long)arg;
    for (int i = 0; i < NLINES; i++)
        nt_log_info("thread %ld line %d %s", id, i, "padding-padding-padding-padding");
    return NULL;
}

TEST(concurrent_lines_stay_whole) {
    FILE *f = tmpfile();
    nt_log_set_sink(f);
    nt_log_set_level(NT_LOG_INFO);
    pthread_t th[NTHREADS];
    for (long i = 0; i < NTHREADS; i++) pthread_create(&th[i], NULL, writer, (void *)i);
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    nt_log_set_sink(NULL);
    char *s = slurp(f);
    int lines = 0, good = 0;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n"), lines++)
        good += matches(line, "^\\[[0-9:]{8}\\] info: thread [0-3] line [0-9]+ "
                              "padding-padding-padding-padding$");
    CHECK_EQ_INT(lines, NTHREADS * NLINES);
    CHECK_EQ_INT(good, NTHREADS * NLINES);
    free(s);
    fclose(f);
}

TEST(long_message_is_not_truncated) {
    FILE *f = tmpfile();
    nt_log_set_sink(f);
    char *big = nt_xmalloc(5001);
    memset(big, 'x', 5000);
    big[5000] = '\0';
    nt_log_info("%s|end", big);
    nt_log_set_sink(NULL);
    char *s = slurp(f);
    CHECK_EQ_INT(strlen(s), strlen("[00:00:00] info: ") + 5000 + 5);
    CHECK_CONTAINS(s, "x|end\n");
    free(s);
    free(big);
    fclose(f);
}

TEST_MAIN()
