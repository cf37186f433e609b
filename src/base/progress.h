/* tqdm-like progress reporting for long loops (dataset preparation, training steps).
 *
 * On a terminal one line is redrawn in place (\r) at most every 0.1 s:
 *   desc  42%|████▏     | 420/1000 [00:12<00:16, 34.5 it/s] postfix
 * When the output is not a terminal (a log file, CI), a plain line is written at most every
 * `interval` seconds (default 10) plus one final line: no carriage returns end up in files.
 * An unknown total (<= 0) drops the bar, percentage and ETA: "desc 420 it [00:12, 34.5 it/s]".
 * The rate is scaled with k/M/G; the ETA uses an exponentially smoothed rate so that one slow
 * step does not make it jump. Every entry point has an _at variant taking `now` (seconds on
 * any monotonic scale) so output is deterministic under test. Not thread-safe: update from
 * the thread that owns the loop. */
#ifndef NEWT_BASE_PROGRESS_H
#define NEWT_BASE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NT_PROGRESS_TTY_INTERVAL 0.1
#define NT_PROGRESS_PLAIN_INTERVAL 10.0

typedef struct {
    char desc[64], unit[16], postfix[160];
    int64_t total, n;
    FILE *out;
    bool tty;        /* redraw in place; decided by isatty() at start, tests may override */
    bool finished;
    double interval; /* minimum seconds between outputs */
    int bar_width;   /* cells of the bar (default 10) */
    double t_start, t_draw;
    double t_sample; /* rate smoothing: last sample point */
    int64_t n_sample;
    double rate;     /* smoothed units per second, 0 = no sample yet */
    int last_cols;   /* width of the last in-place line, to blank its leftovers */
} nt_progress;

/* CLOCK_MONOTONIC in seconds: the clock the non-_at functions use. */
double nt_progress_now(void);

/* total <= 0: unknown. unit NULL = "it". out NULL = stderr. */
void nt_progress_start(nt_progress *p, const char *desc, int64_t total, const char *unit,
                       FILE *out);
void nt_progress_start_at(nt_progress *p, const char *desc, int64_t total, const char *unit,
                          FILE *out, double now);
/* Overrides the TTY detection (tests, --progress=plain); resets the interval to the mode's
 * default. */
void nt_progress_set_tty(nt_progress *p, bool tty);
/* Plain (non-TTY) output period in seconds (> 0). */
void nt_progress_set_interval(nt_progress *p, double seconds);
/* Adds n units done; output happens only when the interval has passed. */
void nt_progress_update(nt_progress *p, int64_t n);
void nt_progress_update_at(nt_progress *p, int64_t n, double now);
/* Text after the counters, e.g. "loss=1.23 lr=2e-5"; shown from the next output on. */
void nt_progress_set_postfix(nt_progress *p, const char *postfix);
/* Writes the final line (average rate over the whole run) and a newline. Idempotent. */
void nt_progress_finish(nt_progress *p);
void nt_progress_finish_at(nt_progress *p, double now);

/* The line as it would be shown at `now` (no \r, no newline); returns its length. */
size_t nt_progress_format(const nt_progress *p, double now, char *buf, size_t size);

#endif
