/* Thread-local, grow-only scratch buffers for compute kernels that need working memory on
 * every call (GEMM packing). Reusing one buffer per thread avoids what a malloc/free per call
 * costs for large sizes: glibc serves anything over 128 KiB with a fresh mmap, so every call
 * would page-fault its buffer in again.
 *
 * Each thread has NT_TLS_SLOTS independent buffers (a kernel that needs two at once takes two
 * slots). A buffer only grows; its contents are undefined on return. Memory is 64-byte
 * aligned. Every buffer is also linked in a process-wide list so it stays reachable (leak
 * checkers see it as in use, not lost) while its thread lives; a thread's buffers are freed
 * when it exits (pthread key destructor), or by nt_tls_scratch_release. */
#ifndef NEWT_BASE_SCRATCH_H
#define NEWT_BASE_SCRATCH_H

#include <stddef.h>

#define NT_TLS_SLOTS 4

/* At least `bytes` bytes (64-byte aligned) owned by the calling thread, slot < NT_TLS_SLOTS.
 * Valid until the same thread asks the same slot for more, or exits. Aborts on OOM. */
void *nt_tls_scratch(unsigned slot, size_t bytes);

/* Frees the calling thread's buffers (e.g. before a leak check or after a large one-off). */
void nt_tls_scratch_release(void);

#endif
