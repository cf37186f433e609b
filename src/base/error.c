#include "base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_v(nt_err *err, nt_status code, const char *fmt, va_list ap) {
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

nt_status nt_err_set(nt_err *err, nt_status code, const char *fmt, ...) {
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    set_v(err, code, fmt, ap);
    va_end(ap);
    return code;
}

nt_status nt_err_errno(nt_err *err, nt_status code, const char *fmt, ...) {
    int saved = errno;
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    set_v(err, code, fmt, ap);
    va_end(ap);
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
    return code;
}

nt_status nt_err_prefix(nt_err *err, const char *fmt, ...) {
    if (!err) return NT_OK;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is intended: the message keeps as much of the tail as fits. */
    size_t np = strnlen(prefix, sizeof err->msg - 1);
    memcpy(err->msg, prefix, np);
    size_t room = sizeof err->msg - 1 - np, no = strnlen(old, sizeof old);
    if (no > room) no = room;
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = '\0';
    return err->code;
}

void nt_err_clear(nt_err *err) {
    if (!err) return;
    err->code = NT_OK;
    err->msg[0] = '\0';
}

const char *nt_status_name(nt_status code) {
    switch (code) {
    case NT_OK: return "ok";
    case NT_EIO: return "I/O error";
    case NT_EPARSE: return "parse error";
    case NT_EINVAL: return "invalid value";
    case NT_ENOTFOUND: return "not found";
    case NT_EUNSUPPORTED: return "not supported";
    case NT_ENOMEM: return "out of memory";
    case NT_ELIMIT: return "limit exceeded";
    case NT_ERAISE: return "template raised an exception";
    }
    return "unknown error";
}
