/* Errors are values: library functions return an nt_status (0 = NT_OK) and fill an nt_err
 * whose message names the file, key, line or row at fault. Only cli/ prints and exits.
 *
 *   nt_err err = {0};
 *   if (st_open(&f, path, &err)) { fprintf(stderr, "newt: %s\n", err.msg); ... }
 *
 * Callers that add context prefix it: nt_err_prefix(err, "%s: ", path) turns
 * "tensor 'x': bad dtype" into "model.safetensors: tensor 'x': bad dtype". */
#ifndef NEWT_BASE_ERROR_H
#define NEWT_BASE_ERROR_H

#include <stddef.h>

typedef enum {
    NT_OK = 0,
    NT_EIO,          /* open/read/write/mmap failed (errno text in message) */
    NT_EPARSE,       /* malformed input: JSON, YAML, safetensors header, ... */
    NT_EINVAL,       /* well-formed but invalid value (wrong type, out of range) */
    NT_ENOTFOUND,    /* a named file, key or tensor does not exist */
    NT_EUNSUPPORTED, /* valid but not implemented (yet) */
    NT_ENOMEM,       /* a large allocation failed */
    NT_ELIMIT,       /* a safety limit was hit (size, depth, iterations) */
    NT_ERAISE,       /* a chat template called raise_exception() */
} nt_status;

typedef struct {
    nt_status code;
    char msg[1024];
} nt_err;

/* Sets code and message (printf-style); returns code so callers can `return nt_err_set(...)`.
 * err may be NULL (the error is then only returned). */
nt_status nt_err_set(nt_err *err, nt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like nt_err_set with ": <strerror(errno)>" appended. */
nt_status nt_err_errno(nt_err *err, nt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context to an existing message; returns err->code. */
nt_status nt_err_prefix(nt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void nt_err_clear(nt_err *err);

const char *nt_status_name(nt_status code);

#endif
