/* Bump arena for per-step scratch memory. Memory is planned, not discovered: a training step
 * takes its temporaries from an arena and resets it at the end of the step, so the steady
 * state makes no malloc/free calls and the high-water mark says exactly how much scratch a
 * step needs (the trainer prints it).
 *
 * Chunks are anonymous mmaps (the OS commits pages only when touched), chained in a list that
 * survives reset. Under AddressSanitizer every byte not handed out is poisoned, so touching
 * scratch after reset/rollback, or past the end of an allocation into padding, is reported.
 * Not thread-safe: one arena per thread (or per step, owned by the loop). */
#ifndef NEWT_BASE_ARENA_H
#define NEWT_BASE_ARENA_H

#include <stddef.h>

#define NT_ARENA_ALIGN 64                  /* default alignment: a cache line, any SIMD width */
#define NT_ARENA_CHUNK ((size_t)16 << 20)  /* default chunk size */

typedef struct nt_arena_chunk nt_arena_chunk;

typedef struct {
    nt_arena_chunk *first, *cur; /* chunks after cur are empty (used == 0) */
    size_t chunk_size;
    size_t in_use;     /* bytes handed out since reset, alignment padding included */
    size_t high_water; /* max in_use over the arena's life (not cleared by reset) */
    size_t reserved;   /* bytes mapped in chunks */
} nt_arena;

/* A position to roll back to; valid until a reset or a rollback to an earlier position. */
typedef struct {
    nt_arena_chunk *chunk;
    size_t used, in_use;
} nt_arena_pos;

/* chunk_size 0 = NT_ARENA_CHUNK. No memory is mapped until the first allocation. */
void nt_arena_init(nt_arena *a, size_t chunk_size);
/* align 0 = NT_ARENA_ALIGN; otherwise a power of two. Requests larger than the chunk size get
 * a chunk of their own. Returns NULL only when the OS refuses memory (callers report
 * NT_ENOMEM) or align is not a power of two. bytes == 0 gives a unique valid pointer. */
void *nt_arena_alloc(nt_arena *a, size_t bytes, size_t align);
/* Scoped scratch inside a step: pos = nt_arena_mark(a); ...; nt_arena_rollback(a, pos)
 * frees everything allocated after the mark at once. */
nt_arena_pos nt_arena_mark(const nt_arena *a);
void nt_arena_rollback(nt_arena *a, nt_arena_pos pos);
/* Forgets every allocation but keeps the chunks for reuse. */
void nt_arena_reset(nt_arena *a);
/* Unmaps all chunks; the arena can be reused after nt_arena_init. */
void nt_arena_free(nt_arena *a);

#endif
