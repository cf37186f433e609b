#include "base/scratch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct nt_scratch_set {
    void *buf[NT_TLS_SLOTS];
    size_t size[NT_TLS_SLOTS];
    struct nt_scratch_set *prev, *next; /* process-wide list: keeps buffers reachable */
} nt_scratch_set;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static nt_scratch_set *g_head;
static _Thread_local nt_scratch_set *t_set;

static void set_free(nt_scratch_set *s) {
    pthread_mutex_lock(&g_lock);
    if (s->prev) s->prev->next = s->next;
    else g_head = s->next;
    if (s->next) s->next->prev = s->prev;
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < NT_TLS_SLOTS; i++) free(s->buf[i]);
    free(s);
}

static void on_thread_exit(void *p) {
    if (p) set_free(p);
}

static void make_key(void) {
    if (pthread_key_create(&g_key, on_thread_exit)) abort();
}

static nt_scratch_set *thread_set(void) {
    if (t_set) return t_set;
    pthread_once(&g_once, make_key);
    nt_scratch_set *s = calloc(1, sizeof *s);
    if (!s) abort();
    pthread_mutex_lock(&g_lock);
    s->next = g_head;
    if (g_head) g_head->prev = s;
    g_head = s;
    pthread_mutex_unlock(&g_lock);
    pthread_setspecific(g_key, s);
    t_set = s;
    return s;
}

void *nt_tls_scratch(unsigned slot, size_t bytes) {
    if (slot >= NT_TLS_SLOTS) abort();
    nt_scratch_set *s = thread_set();
    if (s->size[slot] >= bytes && s->buf[slot]) return s->buf[slot];
    /* grow by at least half again, so a slowly growing sequence of requests reallocates
     * O(log n) times */
    size_t want = bytes > s->size[slot] + s->size[slot] / 2 ? bytes : s->size[slot] + s->size[slot] / 2;
    want = (want + 63) & ~(size_t)63;
    free(s->buf[slot]);
    s->buf[slot] = aligned_alloc(64, want ? want : 64);
    if (!s->buf[slot]) {
        fprintf(stderr, "newt: out of memory (%zu bytes of thread scratch)\n", want);
        abort();
    }
    s->size[slot] = want;
    return s->buf[slot];
}

void nt_tls_scratch_release(void) {
    if (!t_set) return;
    pthread_setspecific(g_key, NULL);
    set_free(t_set);
    t_set = NULL;
}
