/* Open-addressing hash maps for the vocabulary (bytes -> id) and the merges ((l, r) -> rank). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* FNV-1a-style mixing over 8-byte words: fast for the short keys tokens are. */
uint64_t tok_hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull ^ (n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n) memcpy(&w, p, n);
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32);
}

static uint64_t pow2_at_least(uint64_t n) {
    uint64_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

void tok_strmap_init(tok_strmap *m, uint32_t expected) {
    uint64_t cap = pow2_at_least((uint64_t)expected * 2 + 1);
    m->slots = nt_xcalloc(cap, sizeof *m->slots);
    m->mask = (uint32_t)(cap - 1);
    m->n = 0;
}

void tok_strmap_free(tok_strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

uint32_t tok_strmap_get(const tok_strmap *m, const tok_tokenizer *t, const uint8_t *p, size_t n) {
    for (uint32_t i = (uint32_t)tok_hash_bytes(p, n) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t s = m->slots[i];
        if (!s) return TOK_NONE;
        size_t len;
        const uint8_t *q = tok_bytes_of(t, s - 1, &len);
        if (len == n && (n == 0 || memcmp(p, q, n) == 0)) return s - 1;
    }
}

bool tok_strmap_put(tok_strmap *m, const tok_tokenizer *t, uint32_t id) {
    size_t n;
    const uint8_t *p = tok_bytes_of(t, id, &n);
    if (tok_strmap_get(m, t, p, n) != TOK_NONE) return false;
    if ((uint64_t)(m->n + 1) * 2 > (uint64_t)m->mask + 1) { /* grow */
        uint32_t *old = m->slots, oldcap = m->mask + 1;
        m->slots = nt_xcalloc((size_t)oldcap * 2, sizeof *m->slots);
        m->mask = oldcap * 2 - 1;
        for (uint32_t i = 0; i < oldcap; i++) {
            if (!old[i]) continue;
            size_t k;
            const uint8_t *q = tok_bytes_of(t, old[i] - 1, &k);
            uint32_t j = (uint32_t)tok_hash_bytes(q, k) & m->mask;
            while (m->slots[j]) j = (j + 1) & m->mask;
            m->slots[j] = old[i];
        }
        free(old);
    }
    uint32_t i = (uint32_t)tok_hash_bytes(p, n) & m->mask;
    while (m->slots[i]) i = (i + 1) & m->mask;
    m->slots[i] = id + 1;
    m->n++;
    return true;
}

void tok_pairmap_init(tok_pairmap *m, uint64_t expected) {
    uint64_t cap = pow2_at_least(expected * 2 + 1);
    m->keys = nt_xmalloc(cap * sizeof *m->keys);
    memset(m->keys, 0xff, cap * sizeof *m->keys);
    m->vals = nt_xmalloc(cap * sizeof *m->vals);
    m->mask = cap - 1;
    m->n = 0;
}

void tok_pairmap_free(tok_pairmap *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static void pairmap_grow(tok_pairmap *m) {
    uint64_t oldcap = m->mask + 1;
    uint64_t *ok = m->keys, *ov = m->vals;
    tok_pairmap_init(m, oldcap);
    for (uint64_t i = 0; i < oldcap; i++) {
        if (ok[i] == UINT64_MAX) continue;
        uint64_t j = ((ok[i] * 0x9E3779B97F4A7C15ull) >> 17) & m->mask;
        while (m->keys[j] != UINT64_MAX) j = (j + 1) & m->mask;
        m->keys[j] = ok[i];
        m->vals[j] = ov[i];
        m->n++;
    }
    free(ok);
    free(ov);
}

/* A later put of the same pair replaces the earlier one (HF collects merges into a map). */
void tok_pairmap_put(tok_pairmap *m, uint32_t l, uint32_t r, uint32_t prio, uint32_t id) {
    if ((m->n + 1) * 2 > m->mask + 1) pairmap_grow(m);
    uint64_t k = (uint64_t)l << 32 | r;
    uint64_t i = ((k * 0x9E3779B97F4A7C15ull) >> 17) & m->mask;
    while (m->keys[i] != UINT64_MAX && m->keys[i] != k) i = (i + 1) & m->mask;
    if (m->keys[i] == UINT64_MAX) m->n++;
    m->keys[i] = k;
    m->vals[i] = (uint64_t)prio << 32 | id;
}
