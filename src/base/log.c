#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The logger's configuration: atomics so that worker threads may log while the main thread
 * adjusts the level; -1 means "not chosen yet" (NEWT_LOG_LEVEL or the default decides). */
static _Atomic int g_level = -1;
static _Atomic(FILE *) g_sink = NULL;
static _Atomic int g_color = -1; /* -1: decide from the sink on first use */
static pthread_once_t g_env_once = PTHREAD_ONCE_INIT;
static const char *g_env_bad; /* an unparsable NEWT_LOG_LEVEL, reported once */

static const char *const NAMES[] = {"error", "warn", "info", "debug"};
/* red, yellow, green, dim */
static const char *const COLORS[] = {"\033[31m", "\033[33m", "\033[32m", "\033[2m"};

bool nt_log_parse_level(const char *s, nt_log_level *out) {
    if (!s) return false;
    static const char *const alias[] = {"error", "warning", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, NAMES[i]) == 0 || strcasecmp(s, alias[i]) == 0 ||
            (s[0] == '0' + i && s[1] == '\0')) {
            *out = (nt_log_level)i;
            return true;
        }
    }
    return false;
}

const char *nt_log_level_name(nt_log_level level) {
    return (unsigned)level < 4 ? NAMES[level] : "?";
}

static void read_env(void) {
    const char *env = getenv("NEWT_LOG_LEVEL");
    nt_log_level lv = NT_LOG_INFO;
    if (env && *env && !nt_log_parse_level(env, &lv)) g_env_bad = env;
    int unset = -1;
    atomic_compare_exchange_strong(&g_level, &unset, (int)lv);
}

void nt_log_set_level(nt_log_level level) {
    pthread_once(&g_env_once, read_env); /* so a later lazy read cannot override this */
    atomic_store(&g_level, (int)level);
}

nt_log_level nt_log_get_level(void) {
    pthread_once(&g_env_once, read_env);
    return (nt_log_level)atomic_load(&g_level);
}

bool nt_log_enabled(nt_log_level level) { return (int)level <= (int)nt_log_get_level(); }

static FILE *sink(void) {
    FILE *f = atomic_load(&g_sink);
    return f ? f : stderr;
}

static bool auto_color(FILE *f) {
    const char *nc = getenv("NO_COLOR");
    return isatty(fileno(f)) && !(nc && *nc);
}

void nt_log_set_sink(FILE *f) {
    atomic_store(&g_sink, f);
    atomic_store(&g_color, auto_color(f ? f : stderr) ? 1 : 0);
}

void nt_log_set_color(bool on) { atomic_store(&g_color, on ? 1 : 0); }

static bool use_color(FILE *f) {
    int c = atomic_load(&g_color);
    if (c < 0) {
        c = auto_color(f) ? 1 : 0;
        atomic_store(&g_color, c);
    }
    return c == 1;
}

/* Formats the whole line first and hands it to stdio in one call (stdio locks the FILE per
 * call), which is what keeps concurrent lines whole. */
static void emit(nt_log_level level, const char *fmt, va_list ap) {
    FILE *f = sink();
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char head[64];
    bool col = use_color(f);
    snprintf(head, sizeof head, "[%02d:%02d:%02d] %s%s%s: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
             col ? COLORS[level] : "", NAMES[level], col ? "\033[0m" : "");
    char small[1024];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    char *msg = small, *big = NULL;
    if (n >= (int)sizeof small && (big = malloc((size_t)n + 1))) {
        vsnprintf(big, (size_t)n + 1, fmt, ap2);
        msg = big;
    }
    va_end(ap2);
    size_t mlen = strlen(msg);
    const char *nl = mlen && msg[mlen - 1] == '\n' ? "" : "\n";
    fprintf(f, "%s%s%s", head, msg, nl);
    fflush(f);
    free(big);
}

void nt_log(nt_log_level level, const char *fmt, ...) {
    if ((unsigned)level > NT_LOG_DEBUG) level = NT_LOG_DEBUG;
    if (!nt_log_enabled(level)) return;
    static atomic_flag warned = ATOMIC_FLAG_INIT;
    if (g_env_bad && !atomic_flag_test_and_set(&warned))
        nt_log(NT_LOG_WARN, "NEWT_LOG_LEVEL='%s' not understood (error|warn|info|debug); using info",
               g_env_bad);
    va_list ap;
    va_start(ap, fmt);
    emit(level, fmt, ap);
    va_end(ap);
}
