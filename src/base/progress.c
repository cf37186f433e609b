#include "base/progress.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Rate samples closer together than this are merged: per-update rates of a fast loop are
 * noise. The smoothing weight of a new sample follows tqdm's default (0.3). */
#define SAMPLE_MIN_S 0.1
#define SMOOTHING 0.3

double nt_progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void nt_progress_set_interval(nt_progress *p, double seconds) {
    if (seconds > 0) p->interval = seconds;
}

void nt_progress_set_postfix(nt_progress *p, const char *postfix) {
    snprintf(p->postfix, sizeof p->postfix, "%s", postfix ? postfix : "");
}

/* "MM:SS", or "H:MM:SS" from an hour on. */
static void fmt_time(char *buf, size_t size, double s) {
    long t = s > 0 && s < 1e9 ? (long)s : 0;
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%02ld:%02ld", t / 60, t % 60);
}

/* About three significant digits with a k/M/G suffix: 34.5, 1.23k, 12.3M. */
static void fmt_scaled(char *buf, size_t size, double v) {
    static const char *const suffix[] = {"", "k", "M", "G", "T"};
    int i = 0;
    while (v >= 999.5 && i < 4) v /= 1000, i++;
    const char *f = v < 9.995 ? "%.2f%s" : v < 99.95 ? "%.1f%s" : "%.0f%s";
    snprintf(buf, size, f, v, suffix[i]);
}

static void fmt_rate(char *buf, size_t size, double rate, const char *unit) {
    char num[32];
    if (!(rate > 0) || !isfinite(rate)) {
        snprintf(buf, size, "? %s/s", unit);
    } else if (rate < 1) { /* slow loops read better as seconds per unit */
        fmt_scaled(num, sizeof num, 1 / rate);
        snprintf(buf, size, "%s s/%s", num, unit);
    } else {
        fmt_scaled(num, sizeof num, rate);
        snprintf(buf, size, "%s %s/s", num, unit);
    }
}

/* The bar in 1/8 cells: full blocks, one partial block, blanks. */
static size_t fmt_bar(char *buf, size_t size, double frac, int width) {
    static const char *const part[] = {"▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    long eighths = (long)(frac * width * 8);
    size_t len = 0;
    for (int cell = 0; cell < width && len + 4 < size; cell++) {
        long e = eighths - 8L * cell;
        const char *s = e >= 8 ? "█" : e > 0 ? part[e - 1] : " ";
        size_t n = strlen(s);
        memcpy(buf + len, s, n);
        len += n;
    }
    buf[len] = '\0';
    return len;
}

/* The rate shown: the smoothed one while running, the whole-run average once finished. */
static double shown_rate(const nt_progress *p, double elapsed) {
    double avg = elapsed > 0 ? (double)p->n / elapsed : 0;
    return p->finished || !(p->rate > 0) ? avg : p->rate;
}

size_t nt_progress_format(const nt_progress *p, double now, char *buf, size_t size) {
    double elapsed = now - p->t_start;
    double rate = shown_rate(p, elapsed);
    char el[32], rt[64], eta[32], bar[256];
    fmt_time(el, sizeof el, elapsed);
    fmt_rate(rt, sizeof rt, rate, p->unit);
    const char *sep = p->desc[0] ? " " : "";
    const char *psep = p->postfix[0] ? " " : "";
    int n;
    if (p->total > 0) {
        double frac = p->n >= p->total ? 1.0 : p->n > 0 ? (double)p->n / (double)p->total : 0;
        fmt_bar(bar, sizeof bar, frac, p->bar_width);
        if (rate > 0) fmt_time(eta, sizeof eta, (double)(p->total - p->n) / rate);
        else snprintf(eta, sizeof eta, "?");
        if (p->n >= p->total) snprintf(eta, sizeof eta, "00:00");
        n = snprintf(buf, size, "%s%s%3d%%|%s| %lld/%lld [%s<%s, %s]%s%s", p->desc, sep,
                     (int)(frac * 100), bar, (long long)p->n, (long long)p->total, el, eta, rt,
                     psep, p->postfix);
    } else {
        n = snprintf(buf, size, "%s%s%lld %s [%s, %s]%s%s", p->desc, sep, (long long)p->n,
                     p->unit, el, rt, psep, p->postfix);
    }
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* Display columns of UTF-8 text (the bar glyphs are one column each). */
static int columns(const char *s) {
    int c = 0;
    for (; *s; s++) c += ((unsigned char)*s & 0xC0) != 0x80;
    return c;
}

static void draw(nt_progress *p, double now) {
    char line[512];
    nt_progress_format(p, now, line, sizeof line);
    if (p->tty) {
        int cols = columns(line);
        int pad = p->last_cols > cols ? p->last_cols - cols : 0;
        fprintf(p->out, "\r%s%*s", line, pad, "");
        p->last_cols = cols;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->t_draw = now;
}

void nt_progress_start_at(nt_progress *p, const char *desc, int64_t total, const char *unit,
                          FILE *out, double now) {
    memset(p, 0, sizeof *p);
    snprintf(p->desc, sizeof p->desc, "%s", desc ? desc : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit && *unit ? unit : "it");
    p->total = total > 0 ? total : 0;
    p->out = out ? out : stderr;
    p->tty = isatty(fileno(p->out));
    p->interval = p->tty ? NT_PROGRESS_TTY_INTERVAL : NT_PROGRESS_PLAIN_INTERVAL;
    p->bar_width = 10;
    p->t_start = p->t_draw = p->t_sample = now;
    if (p->tty) draw(p, now);
}

void nt_progress_start(nt_progress *p, const char *desc, int64_t total, const char *unit,
                       FILE *out) {
    nt_progress_start_at(p, desc, total, unit, out, nt_progress_now());
}

void nt_progress_set_tty(nt_progress *p, bool tty) {
    p->tty = tty;
    p->interval = tty ? NT_PROGRESS_TTY_INTERVAL : NT_PROGRESS_PLAIN_INTERVAL;
}

void nt_progress_update_at(nt_progress *p, int64_t n, double now) {
    if (p->finished) return;
    p->n += n;
    double dt = now - p->t_sample;
    if (dt >= SAMPLE_MIN_S) {
        double inst = (double)(p->n - p->n_sample) / dt;
        p->rate = p->rate > 0 ? SMOOTHING * inst + (1 - SMOOTHING) * p->rate : inst;
        p->t_sample = now;
        p->n_sample = p->n;
    }
    if (now - p->t_draw >= p->interval) draw(p, now);
}

void nt_progress_update(nt_progress *p, int64_t n) {
    nt_progress_update_at(p, n, nt_progress_now());
}

void nt_progress_finish_at(nt_progress *p, double now) {
    if (p->finished || !p->out) return;
    p->finished = true;
    draw(p, now);
    if (p->tty) fputc('\n', p->out);
    fflush(p->out);
}

void nt_progress_finish(nt_progress *p) { nt_progress_finish_at(p, nt_progress_now()); }
