/* tekken.json -> tokenizer: ids 0..num_special-1 are the special tokens (matched in text as HF's
 * converted file does, unless no_special), rank r is id num_special + r. Merging follows
 * tiktoken: the adjacent pair whose concatenation has the lowest rank merges first. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Every split (l, r) of a rank's bytes with both halves in the vocabulary is a mergeable pair
 * whose priority is the rank of the whole. */
static void build_pairs(tok_tokenizer *t, const tok_ranks *r) {
    tok_pairmap_init(&t->pairs, (uint64_t)r->n_ranks * 3);
    for (uint32_t k = 0; k < r->n_ranks; k++) {
        const uint8_t *p = r->bytes + r->off[k];
        size_t n = r->off[k + 1] - r->off[k];
        for (size_t cut = 1; cut < n; cut++) {
            uint32_t a = tok_strmap_get(&t->vocab, t, p, cut);
            if (a == TOK_NONE) continue;
            uint32_t b = tok_strmap_get(&t->vocab, t, p + cut, n - cut);
            if (b != TOK_NONE) tok_pairmap_put(&t->pairs, a, b, k, r->num_special + k);
        }
    }
}

nt_status tok_from_ranks(const tok_ranks *r, const char *source, tok_tokenizer **out, nt_err *err) {
    uint32_t inner = r->vocab_size - r->num_special;
    uint32_t n_ranks = r->n_ranks < inner ? r->n_ranks : inner;
    tok_ranks view = *r;
    view.n_ranks = n_ranks;
    tok_tokenizer *t = tok_new(TOK_FORMAT_TEKKEN, source, r->num_special + n_ranks);
    t->ignore_merges = true;
    nt_status st = NT_OK;
    for (uint32_t k = 0; k < n_ranks; k++)
        tok_set_bytes(t, r->num_special + k, r->bytes + r->off[k], r->off[k + 1] - r->off[k], 1);
    uint32_t dup;
    if (!tok_finish_table(t, &dup)) {
        st = nt_err_set(err, NT_EINVAL, "rank %u: same bytes as an earlier rank", dup - r->num_special);
        goto fail;
    }
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] == TOK_NONE) {
            st = nt_err_set(err, NT_EINVAL, "no rank for the single byte 0x%02x", b);
            goto fail;
        }
    build_pairs(t, &view);
    for (uint32_t i = 0; i < r->num_special; i++) {
        tok_added a = {.content = r->specials[i], .len = (uint32_t)strlen(r->specials[i]), .id = i,
                       .special = true};
        if ((st = tok_add_token(t, &a, err))) goto fail;
    }
    t->n_stages = 1;
    t->stages[0].behavior = TOK_SPLIT_ISOLATED;
    if ((st = tok_stage_init(t, &t->stages[0], r->pattern, strlen(r->pattern), err))) {
        nt_err_prefix(err, "config.pattern: ");
        goto fail;
    }
    if ((st = tok_finalize(t, err))) goto fail;
    *out = t;
    return NT_OK;
fail:
    tok_free(t);
    return st;
}

nt_status tok_load_tekken(const char *path, tok_tokenizer **out, nt_err *err) {
    tok_ranks r;
    nt_status st = tok_ranks_load(path, &r, err);
    if (st) return st;
    st = tok_from_ranks(&r, path, out, err);
    tok_ranks_free(&r);
    return st ? nt_err_prefix(err, "%s: ", path) : NT_OK;
}
