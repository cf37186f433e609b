/* BPE on one pre-tokenized piece. The pair map gives each mergeable adjacent pair a priority
 * (HF: merge rank; Tekken: rank of the merged token); the lowest priority merges first, the
 * leftmost on ties -- the order both HF's Word::merge_all and tiktoken follow. Short pieces
 * use a linear scan, long ones a heap so that a huge piece stays O(n log n). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* HF offsets of a byte-level token: whole characters, even when the token holds a part. */
static void push_token(tok_encoding *out, const uint8_t *text, uint32_t id, size_t s, size_t e) {
    while ((text[s] & 0xC0) == 0x80) s--;
    size_t last = e - 1;
    while ((text[last] & 0xC0) == 0x80) last--;
    uint8_t c = text[last];
    size_t end = last + (c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4);
    tok_encoding_push(out, (int32_t)id, (uint32_t)s, (uint32_t)end);
}

static void reserve(tok_scratch *s, size_t n) {
    if (n <= s->sym_cap) return;
    size_t c = s->sym_cap ? s->sym_cap : 256;
    while (c < n) c *= 2;
    s->sym_id = nt_xrealloc(s->sym_id, c * sizeof *s->sym_id);
    s->sym_start = nt_xrealloc(s->sym_start, c * sizeof *s->sym_start);
    s->sym_end = nt_xrealloc(s->sym_end, c * sizeof *s->sym_end);
    s->sym_prev = nt_xrealloc(s->sym_prev, c * sizeof *s->sym_prev);
    s->sym_next = nt_xrealloc(s->sym_next, c * sizeof *s->sym_next);
    s->sym_cap = c;
}

static void merge_short(const tok_tokenizer *t, tok_scratch *s, size_t m, const uint8_t *text,
                        tok_encoding *out) {
    uint32_t *id = s->sym_id, *st = s->sym_start, *en = s->sym_end;
    uint64_t *pr = s->sym_prio;
    for (size_t i = 0; i + 1 < m; i++) pr[i] = tok_pairmap_get(&t->pairs, id[i], id[i + 1]);
    while (m > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (pr[i] < pr[best]) best = i;
        if (pr[best] == UINT64_MAX) break;
        id[best] = (uint32_t)pr[best];
        en[best] = en[best + 1];
        size_t tail = m - best - 2;
        memmove(id + best + 1, id + best + 2, tail * sizeof *id);
        memmove(st + best + 1, st + best + 2, tail * sizeof *st);
        memmove(en + best + 1, en + best + 2, tail * sizeof *en);
        memmove(pr + best + 1, pr + best + 2, tail * sizeof *pr);
        m--;
        if (best > 0) pr[best - 1] = tok_pairmap_get(&t->pairs, id[best - 1], id[best]);
        if (best + 1 < m) pr[best] = tok_pairmap_get(&t->pairs, id[best], id[best + 1]);
    }
    for (size_t i = 0; i < m; i++) push_token(out, text, id[i], st[i], en[i]);
}

static void heap_push(tok_scratch *s, size_t *hn, uint64_t key) {
    if (*hn == s->heap_cap) {
        s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 256;
        s->heap = nt_xrealloc(s->heap, s->heap_cap * sizeof *s->heap);
    }
    size_t i = (*hn)++;
    while (i > 0 && s->heap[(i - 1) / 2] > key) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = key;
}

static uint64_t heap_pop(tok_scratch *s, size_t *hn) {
    uint64_t top = s->heap[0], last = s->heap[--(*hn)];
    size_t i = 0, n = *hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && s->heap[c + 1] < s->heap[c]) c++;
        if (s->heap[c] >= last) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* Pair at symbol i and its right neighbour: priority << 32 | id, or UINT64_MAX. */
static uint64_t pair_at(const tok_tokenizer *t, const tok_scratch *s, int32_t i) {
    int32_t j = s->sym_next[i];
    return j < 0 ? UINT64_MAX : tok_pairmap_get(&t->pairs, s->sym_id[i], s->sym_id[j]);
}

static void push_pair(const tok_tokenizer *t, tok_scratch *s, size_t *hn, int32_t i) {
    uint64_t v = pair_at(t, s, i);
    if (v != UINT64_MAX) heap_push(s, hn, (v >> 32) << 32 | (uint32_t)i);
}

/* Heap entries are (priority, position) only: at pop an entry is used when the pair now at
 * that position has that priority. A pair present with key K always has an entry K, so pops
 * follow the exact (lowest priority, leftmost) order; outdated entries fail the check. */
static void merge_long(const tok_tokenizer *t, tok_scratch *s, size_t m, const uint8_t *text,
                       tok_encoding *out) {
    for (size_t i = 0; i < m; i++) {
        s->sym_prev[i] = (int32_t)i - 1;
        s->sym_next[i] = i + 1 < m ? (int32_t)i + 1 : -1;
    }
    size_t hn = 0;
    for (size_t i = 0; i + 1 < m; i++) push_pair(t, s, &hn, (int32_t)i);
    while (hn) {
        uint64_t key = heap_pop(s, &hn);
        int32_t i = (int32_t)(uint32_t)key;
        if (s->sym_id[i] == TOK_NONE) continue;
        uint64_t v = pair_at(t, s, i);
        if (v == UINT64_MAX || v >> 32 != key >> 32) continue;
        int32_t j = s->sym_next[i];
        s->sym_id[i] = (uint32_t)v;
        s->sym_end[i] = s->sym_end[j];
        s->sym_id[j] = TOK_NONE;
        s->sym_next[i] = s->sym_next[j];
        if (s->sym_next[j] >= 0) s->sym_prev[s->sym_next[j]] = i;
        if (s->sym_prev[i] >= 0) push_pair(t, s, &hn, s->sym_prev[i]);
        push_pair(t, s, &hn, i);
    }
    for (int32_t i = 0; i >= 0; i = s->sym_next[i])
        push_token(out, text, s->sym_id[i], s->sym_start[i], s->sym_end[i]);
}

void tok_bpe_piece(const tok_tokenizer *t, tok_scratch *s, const uint8_t *text, size_t a,
                   size_t b, tok_encoding *out) {
    size_t n = b - a;
    if (t->ignore_merges || n == 1) {
        uint32_t id = tok_strmap_get(&t->vocab, t, text + a, n);
        if (id != TOK_NONE) {
            tok_encoding_push(out, (int32_t)id, (uint32_t)a, (uint32_t)b);
            return;
        }
    }
    reserve(s, n);
    size_t m = 0;
    for (size_t i = a; i < b; i++) {
        uint32_t id = t->byte_id[text[i]];
        if (id == TOK_NONE) {
            if (t->unk_for_bytes < 0) continue; /* HF drops it when the model has no unk */
            id = (uint32_t)t->unk_for_bytes;
        }
        s->sym_id[m] = id;
        s->sym_start[m] = (uint32_t)i;
        s->sym_end[m] = (uint32_t)i + 1;
        m++;
    }
    if (!m) return;
    if (m <= TOK_SHORT_PIECE) merge_short(t, s, m, text, out);
    else merge_long(t, s, m, text, out);
}
