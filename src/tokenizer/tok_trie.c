/* Byte trie of added-token contents, for leftmost-longest matching in text. */
#include <stdlib.h>

#include "tokenizer/tok_internal.h"

static uint32_t trie_node(tok_trie *tr, uint8_t byte) {
    if (tr->n == tr->cap) {
        tr->cap = tr->cap ? tr->cap * 2 : 64;
        tr->nodes = nt_xrealloc(tr->nodes, tr->cap * sizeof *tr->nodes);
    }
    tr->nodes[tr->n] = (tok_trie_node){.first_child = 0, .next_sibling = 0, .added = -1, .byte = byte};
    return tr->n++;
}

void tok_trie_insert(tok_trie *tr, const char *s, size_t n, int32_t added_index) {
    if (!tr->n) trie_node(tr, 0); /* root */
    uint32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        uint32_t ch = tr->nodes[cur].first_child;
        while (ch && tr->nodes[ch].byte != c) ch = tr->nodes[ch].next_sibling;
        if (!ch) {
            ch = trie_node(tr, c);
            tr->nodes[ch].next_sibling = tr->nodes[cur].first_child;
            tr->nodes[cur].first_child = ch;
        }
        cur = ch;
    }
    tr->nodes[cur].added = added_index; /* a later duplicate content wins */
    tr->first[(uint8_t)s[0] >> 3] |= (uint8_t)(1u << ((uint8_t)s[0] & 7));
}

void tok_trie_free(tok_trie *tr) {
    free(tr->nodes);
    tr->nodes = NULL;
    tr->n = tr->cap = 0;
}
