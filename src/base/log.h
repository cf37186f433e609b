/* Levelled logging: "[HH:MM:SS] level: message" lines on stderr (or a redirected sink).
 * The level comes from NEWT_LOG_LEVEL (error|warn|info|debug, or 0..3) unless the CLI sets
 * it (-v / -q) with nt_log_set_level, which always wins. Colour is used only when the sink is
 * a terminal and NO_COLOR is unset (https://no-color.org). Each line is written with a single
 * stdio call, so lines from several threads never interleave mid-line.
 *
 * This configuration is the only global state of the logger. Libraries log progress and
 * warnings; errors that the caller must handle are returned as nt_err, not logged. */
#ifndef NEWT_BASE_LOG_H
#define NEWT_BASE_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum { NT_LOG_ERROR = 0, NT_LOG_WARN, NT_LOG_INFO, NT_LOG_DEBUG } nt_log_level;

void nt_log_set_level(nt_log_level level);
nt_log_level nt_log_get_level(void);
bool nt_log_enabled(nt_log_level level);
/* "error", "warn"/"warning", "info", "debug" (any case) or "0".."3"; false if unknown. */
bool nt_log_parse_level(const char *s, nt_log_level *out);
const char *nt_log_level_name(nt_log_level level);

/* Redirects output (tests, log files); NULL restores stderr. Colour is re-decided for the
 * new sink: only a TTY with NO_COLOR unset gets it. */
void nt_log_set_sink(FILE *sink);
/* Forces colour on or off for the current sink (e.g. a --color flag). */
void nt_log_set_color(bool on);

void nt_log(nt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define nt_log_error(...) nt_log(NT_LOG_ERROR, __VA_ARGS__)
#define nt_log_warn(...) nt_log(NT_LOG_WARN, __VA_ARGS__)
#define nt_log_info(...) nt_log(NT_LOG_INFO, __VA_ARGS__)
#define nt_log_debug(...) nt_log(NT_LOG_DEBUG, __VA_ARGS__)

#endif
