/* Token table, added tokens, regex compilation, accessors and scratch state. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

tok_tokenizer *tok_new(tok_format format, const char *source, uint32_t n_ids) {
    tok_tokenizer *t = nt_xcalloc(1, sizeof *t);
    t->format = format;
    t->source = nt_xstrdup(source);
    t->n_ids = n_ids;
    t->model = nt_xcalloc(n_ids ? n_ids : 1, 1);
    t->added_of = nt_xmalloc((n_ids ? n_ids : 1) * sizeof *t->added_of);
    for (uint32_t i = 0; i < n_ids; i++) t->added_of[i] = -1;
    t->pend = nt_xcalloc(n_ids ? n_ids : 1, sizeof *t->pend);
    t->pend_len = nt_xcalloc(n_ids ? n_ids : 1, sizeof *t->pend_len);
    t->unk_for_bytes = -1;
    for (int r = 0; r < TOK_NROLES; r++) t->roles[r] = -1;
    t->post_prefix[0] = t->post_suffix[0] = -1;
    return t;
}

bool tok_set_bytes(tok_tokenizer *t, uint32_t id, const uint8_t *p, size_t n, uint8_t kind) {
    if (id >= t->n_ids || t->model[id]) return false;
    t->pend[id] = nt_xmalloc(n ? n : 1);
    if (n) memcpy(t->pend[id], p, n);
    t->pend_len[id] = (uint32_t)n;
    t->model[id] = kind;
    return true;
}

bool tok_finish_table(tok_tokenizer *t, uint32_t *dup_id) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < t->n_ids; i++) total += t->pend_len[i];
    t->bytes = nt_xmalloc(total ? total : 1);
    t->off = nt_xmalloc(((size_t)t->n_ids + 1) * sizeof *t->off);
    uint64_t at = 0;
    for (uint32_t i = 0; i < t->n_ids; i++) {
        t->off[i] = at;
        if (t->pend[i]) memcpy(t->bytes + at, t->pend[i], t->pend_len[i]);
        at += t->pend_len[i];
        free(t->pend[i]);
    }
    t->off[t->n_ids] = at;
    free(t->pend);
    free(t->pend_len);
    t->pend = NULL;
    t->pend_len = NULL;
    tok_strmap_init(&t->vocab, t->n_ids);
    for (uint32_t i = 0; i < t->n_ids; i++) {
        if (t->model[i] != 1) continue;
        if (!tok_strmap_put(&t->vocab, t, i)) {
            *dup_id = i;
            return false;
        }
    }
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        t->byte_id[b] = tok_strmap_get(&t->vocab, t, &c, 1);
    }
    return true;
}

nt_status tok_add_token(tok_tokenizer *t, const tok_added *a, nt_err *err) {
    if (a->id >= t->n_ids)
        return nt_err_set(err, NT_EINVAL, "added token id %u out of range", a->id);
    if (a->len == 0) return nt_err_set(err, NT_EINVAL, "added token %u has empty content", a->id);
    if (tok_utf8_check((const uint8_t *)a->content, a->len) != a->len)
        return nt_err_set(err, NT_EINVAL, "added token %u is not valid UTF-8", a->id);
    if (t->added_of[a->id] >= 0) { /* HF: a later entry with the same id replaces it */
        tok_added *old = &t->added[t->added_of[a->id]];
        free(old->content);
        free(old->dec);
        *old = *a;
    } else {
        t->added = nt_xrealloc(t->added, (t->n_added + 1) * sizeof *t->added);
        t->added_of[a->id] = (int32_t)t->n_added;
        t->added[t->n_added++] = *a;
    }
    tok_added *d = &t->added[t->added_of[a->id]];
    d->content = nt_xstrndup(a->content, a->len);
    /* HF's ByteLevel decoder maps a token whose every character is in the byte alphabet to
     * those bytes, any other token to its UTF-8 text. */
    d->dec = nt_xmalloc(a->len);
    size_t dn;
    if (!tok_bytelevel_decode(a->content, a->len, d->dec, &dn)) {
        memcpy(d->dec, a->content, a->len);
        dn = a->len;
    }
    d->dec_len = (uint32_t)dn;
    return NT_OK;
}

static int32_t find_content(const tok_tokenizer *t, const char *s) {
    for (uint32_t i = 0; i < t->n_added; i++)
        if (!strcmp(t->added[i].content, s)) return (int32_t)t->added[i].id;
    return -1;
}

nt_status tok_finalize(tok_tokenizer *t, nt_err *err) {
    bool need_word = false;
    for (uint32_t i = 0; i < t->n_added; i++) {
        const tok_added *a = &t->added[i];
        tok_trie_insert(a->normalized ? &t->trie_norm : &t->trie_raw, a->content, a->len,
                        (int32_t)i);
        need_word |= a->single_word;
    }
    if (need_word && !t->uc.index) tok_uc_table_build(&t->uc);
    static const char *const names[TOK_NROLES][3] = {
        {"<s>", "<|begin_of_text|>", NULL},
        {"</s>", "<|end_of_text|>", "<|endoftext|>"},
        {"<pad>", "<|pad|>", NULL},
        {"<unk>", NULL, NULL},
    };
    for (int r = 0; r < TOK_NROLES; r++)
        for (int k = 0; k < 3 && t->roles[r] < 0 && names[r][k]; k++)
            t->roles[r] = find_content(t, names[r][k]);
    return NT_OK;
}

void tok_free(tok_tokenizer *t) {
    if (!t) return;
    if (t->pend)
        for (uint32_t i = 0; i < t->n_ids; i++) free(t->pend[i]);
    free(t->pend);
    free(t->pend_len);
    free(t->source);
    free(t->bytes);
    free(t->off);
    free(t->model);
    free(t->added_of);
    tok_strmap_free(&t->vocab);
    tok_pairmap_free(&t->pairs);
    for (uint32_t i = 0; i < t->n_added; i++) {
        free(t->added[i].content);
        free(t->added[i].dec);
    }
    free(t->added);
    tok_trie_free(&t->trie_raw);
    tok_trie_free(&t->trie_norm);
    for (int i = 0; i < t->n_stages; i++) pcre2_code_free(t->stages[i].re);
    tok_uc_table_free(&t->uc);
    free(t);
}

tok_format tok_get_format(const tok_tokenizer *t) { return t->format; }
const char *tok_source(const tok_tokenizer *t) { return t->source; }
uint32_t tok_vocab_size(const tok_tokenizer *t) { return t->n_ids; }
int32_t tok_special_id(const tok_tokenizer *t, tok_role role) {
    return role < TOK_NROLES ? t->roles[role] : -1;
}

int32_t tok_token_id(const tok_tokenizer *t, const char *s, size_t n) {
    for (uint32_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && !memcmp(t->added[i].content, s, n)) return (int32_t)t->added[i].id;
    uint32_t id = tok_strmap_get(&t->vocab, t, (const uint8_t *)s, n);
    return id == TOK_NONE ? -1 : (int32_t)id;
}

const uint8_t *tok_token_bytes(const tok_tokenizer *t, uint32_t id, size_t *len) {
    if (id >= t->n_ids) return NULL;
    if (t->added_of[id] >= 0) {
        *len = t->added[t->added_of[id]].dec_len;
        return t->added[t->added_of[id]].dec;
    }
    if (!t->model[id]) return NULL;
    return tok_bytes_of(t, id, len);
}

bool tok_is_special(const tok_tokenizer *t, uint32_t id) {
    return id < t->n_ids && t->added_of[id] >= 0 && t->added[t->added_of[id]].special;
}

tok_scratch *tok_scratch_new(const tok_tokenizer *t) {
    tok_scratch *s = nt_xcalloc(1, sizeof *s);
    for (int i = 0; i < t->n_stages; i++) {
        if (!t->stages[i].re) continue;
        s->md[i] = pcre2_match_data_create_from_pattern(t->stages[i].re, NULL);
        if (!s->md[i]) abort();
    }
    return s;
}

void tok_scratch_free(tok_scratch *s) {
    if (!s) return;
    for (int i = 0; i < TOK_MAX_STAGES; i++) pcre2_match_data_free(s->md[i]);
    free(s->sym_id);
    free(s->sym_start);
    free(s->sym_end);
    free(s->sym_prev);
    free(s->sym_next);
    free(s->heap);
    free(s->cache_hash);
    free(s->cache_at);
    free(s->cache_data);
    free(s);
}

void tok_encoding_free(tok_encoding *e) {
    free(e->ids);
    free(e->offsets);
    memset(e, 0, sizeof *e);
}

void tok_encoding_push(tok_encoding *e, int32_t id, uint32_t start, uint32_t end) {
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 256;
        e->ids = nt_xrealloc(e->ids, e->cap * sizeof *e->ids);
        e->offsets = nt_xrealloc(e->offsets, e->cap * sizeof *e->offsets);
    }
    e->ids[e->n] = id;
    e->offsets[e->n][0] = start;
    e->offsets[e->n][1] = end;
    e->n++;
}
