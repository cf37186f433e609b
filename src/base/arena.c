#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define NT_ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NT_ARENA_ASAN 1
#endif
#endif

#ifdef NT_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct nt_arena_chunk {
    uint8_t *base;
    size_t size, used;
    nt_arena_chunk *next;
};

void nt_arena_init(nt_arena *a, size_t chunk_size) {
    *a = (nt_arena){0};
    a->chunk_size = chunk_size ? chunk_size : NT_ARENA_CHUNK;
}

/* Offset in c where an aligned block of `bytes` would start, or SIZE_MAX if it does not fit. */
static size_t chunk_fit(const nt_arena_chunk *c, size_t bytes, size_t align) {
    uintptr_t start = (uintptr_t)c->base + c->used;
    uintptr_t aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
    size_t off = c->used + (size_t)(aligned - start);
    if (off > c->size || bytes > c->size - off) return SIZE_MAX;
    return off;
}

/* Maps a chunk big enough for the request and links it right after the current one, so the
 * empty chunks that follow stay available for later allocations. */
static nt_arena_chunk *chunk_new(nt_arena *a, size_t bytes, size_t align) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t need = bytes + (align > page ? align : 0);
    if (need < bytes) return NULL; /* overflow */
    size_t size = a->chunk_size > need ? a->chunk_size : need;
    size = (size + page - 1) / page * page;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    POISON(p, size);
    nt_arena_chunk *c = nt_xmalloc(sizeof *c);
    *c = (nt_arena_chunk){.base = p, .size = size};
    if (a->cur) {
        c->next = a->cur->next;
        a->cur->next = c;
    } else {
        c->next = a->first;
        a->first = c;
    }
    a->reserved += size;
    return c;
}

void *nt_arena_alloc(nt_arena *a, size_t bytes, size_t align) {
    if (align == 0) align = NT_ARENA_ALIGN;
    if (align & (align - 1)) return NULL;
    if (bytes == 0) bytes = 1;
    nt_arena_chunk *c = a->cur;
    size_t off = c ? chunk_fit(c, bytes, align) : SIZE_MAX;
    if (off == SIZE_MAX) {
        nt_arena_chunk *next = c ? c->next : a->first;
        if (!next || (off = chunk_fit(next, bytes, align)) == SIZE_MAX) {
            if (!(next = chunk_new(a, bytes, align))) return NULL;
            off = chunk_fit(next, bytes, align);
        }
        a->cur = c = next;
    }
    a->in_use += off + bytes - c->used;
    if (a->in_use > a->high_water) a->high_water = a->in_use;
    c->used = off + bytes;
    UNPOISON(c->base + off, bytes);
    return c->base + off;
}

nt_arena_pos nt_arena_mark(const nt_arena *a) {
    return (nt_arena_pos){a->cur, a->cur ? a->cur->used : 0, a->in_use};
}

static void chunk_clear(nt_arena_chunk *c, size_t keep) {
    POISON(c->base + keep, c->size - keep);
    c->used = keep;
}

void nt_arena_rollback(nt_arena *a, nt_arena_pos pos) {
    if (!pos.chunk) {
        nt_arena_reset(a);
        return;
    }
    for (nt_arena_chunk *c = pos.chunk->next; c; c = c->next)
        if (c->used) chunk_clear(c, 0);
    chunk_clear(pos.chunk, pos.used);
    a->cur = pos.chunk;
    a->in_use = pos.in_use;
}

void nt_arena_reset(nt_arena *a) {
    for (nt_arena_chunk *c = a->first; c; c = c->next) chunk_clear(c, 0);
    a->cur = a->first;
    a->in_use = 0;
}

void nt_arena_free(nt_arena *a) {
    for (nt_arena_chunk *c = a->first, *next; c; c = next) {
        next = c->next;
        UNPOISON(c->base, c->size); /* the address range may be reused by anyone after munmap */
        munmap(c->base, c->size);
        free(c);
    }
    nt_arena_init(a, a->chunk_size);
}
