/* Allocation policy: small bookkeeping allocations (strings, values, headers) go through
 * nt_xmalloc & co, which abort with a message when memory is exhausted — recovering from that
 * is not meaningful for a trainer. Large buffers (tensors, datasets) are allocated with plain
 * malloc/mmap by their owners and a failure is reported as NT_ENOMEM. */
#ifndef NEWT_BASE_MEM_H
#define NEWT_BASE_MEM_H

#include <stddef.h>

void *nt_xmalloc(size_t n);
void *nt_xcalloc(size_t count, size_t size);
void *nt_xrealloc(void *p, size_t n);
char *nt_xstrdup(const char *s);
char *nt_xstrndup(const char *s, size_t n);
/* printf into a fresh heap string. */
char *nt_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer (always NUL-terminated for convenience). */
typedef struct {
    char *data;
    size_t len, cap;
} nt_buf;

void nt_buf_reserve(nt_buf *b, size_t extra);
void nt_buf_append(nt_buf *b, const void *data, size_t n);
void nt_buf_puts(nt_buf *b, const char *s);
void nt_buf_putc(nt_buf *b, char c);
void nt_buf_printf(nt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Transfers ownership of the bytes to the caller; the buffer is reset. */
char *nt_buf_take(nt_buf *b, size_t *len);
void nt_buf_free(nt_buf *b);

#endif
