/* Encoding: added tokens first (two passes, as HF's AddedVocabulary), then the pre-tokenizer
 * and BPE on the text between them; BOS/EOS and the post-processor template around it. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Longest added token starting at p[0..n): its index, or -1; *len gets its length. */
static int32_t trie_longest(const tok_trie *tr, const uint8_t *p, size_t n, size_t *len) {
    int32_t best = -1;
    uint32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t ch = tr->nodes[cur].first_child;
        while (ch && tr->nodes[ch].byte != p[i]) ch = tr->nodes[ch].next_sibling;
        if (!ch) break;
        cur = ch;
        if (tr->nodes[cur].added >= 0) {
            best = tr->nodes[cur].added;
            *len = i + 1;
        }
    }
    return best;
}

/* Is the character at the start (at_end false) or the end (at_end true) of text[a..b) a word
 * character? HF tests single_word tokens with Rust regex's \w on both sides of the match. */
static bool word_at(const tok_tokenizer *t, const uint8_t *text, size_t a, size_t b, bool at_end) {
    if (a >= b) return false;
    size_t s = a;
    if (at_end) {
        s = b - 1;
        while (s > a && (text[s] & 0xC0) == 0x80) s--;
    }
    uint32_t cp;
    tok_utf8_next(text + s, &cp);
    return tok_uc_bits(&t->uc, cp) & TOK_CB_WORD;
}

static size_t skip_ws_back(const uint8_t *text, size_t lo, size_t at) {
    while (at > lo) {
        size_t s = at - 1;
        while (s > lo && (text[s] & 0xC0) == 0x80) s--;
        uint32_t cp;
        tok_utf8_next(text + s, &cp);
        if (!tok_is_unicode_whitespace(cp)) break;
        at = s;
    }
    return at;
}

static size_t skip_ws_fwd(const uint8_t *text, size_t at, size_t hi) {
    while (at < hi) {
        uint32_t cp;
        int k = tok_utf8_next(text + at, &cp);
        if (!tok_is_unicode_whitespace(cp)) break;
        at += (size_t)k;
    }
    return at;
}

typedef struct {
    const tok_tokenizer *t;
    const tok_encode_opts *o;
    tok_scratch *s;
    const uint8_t *text;
    tok_encoding *out;
    nt_err *err;
} enc_ctx;

static nt_status encode_plain(enc_ctx *c, size_t a, size_t b, int pass);

/* Splits text[a..b) on the added tokens of one trie; plain parts go to the next pass. */
static nt_status encode_pass(enc_ctx *c, size_t a, size_t b, int pass) {
    const tok_trie *tr = pass == 0 ? &c->t->trie_raw : &c->t->trie_norm;
    if (!tr->n) return encode_plain(c, a, b, pass);
    const uint8_t *text = c->text;
    size_t plain = a; /* start of the text not yet emitted */
    size_t i = a;
    while (i < b) {
        if (!(tr->first[text[i] >> 3] & (1u << (text[i] & 7)))) { i++; continue; }
        size_t len = 0;
        int32_t k = trie_longest(tr, text + i, b - i, &len);
        if (k < 0) { i++; continue; }
        const tok_added *ad = &c->t->added[k];
        size_t start = i, stop = i + len;
        if (ad->special && c->o->no_special) { i = stop; continue; } /* HF skips the whole match */
        if (ad->single_word && (word_at(c->t, text, a, start, true) || word_at(c->t, text, stop, b, false))) {
            i = stop;
            continue;
        }
        if (ad->lstrip) start = skip_ws_back(text, plain, start);
        if (ad->rstrip) stop = skip_ws_fwd(text, stop, b);
        if (start > plain) {
            nt_status st = encode_plain(c, plain, start, pass);
            if (st) return st;
        }
        tok_encoding_push(c->out, (int32_t)ad->id, (uint32_t)start, (uint32_t)stop);
        plain = i = stop;
    }
    return plain < b ? encode_plain(c, plain, b, pass) : NT_OK;
}

static nt_status encode_plain(enc_ctx *c, size_t a, size_t b, int pass) {
    if (pass == 0) return encode_pass(c, a, b, 1);
    return tok_pretok_encode(c->t, c->s, c->text, a, b, c->out, c->err);
}

static void push_ids(tok_encoding *out, const int32_t *ids, uint32_t at) {
    for (int i = 0; i < 4 && ids[i] >= 0; i++) tok_encoding_push(out, ids[i], at, at);
}

nt_status tok_encode(const tok_tokenizer *t, const char *text, size_t n, const tok_encode_opts *o,
                     tok_scratch *s, tok_encoding *out, nt_err *err) {
    static const tok_encode_opts defaults = {0};
    if (!o) o = &defaults;
    if (n >= UINT32_MAX) return nt_err_set(err, NT_ELIMIT, "text of %zu bytes is too long (max 4 GiB)", n);
    const uint8_t *p = (const uint8_t *)text;
    size_t bad = tok_utf8_check(p, n);
    if (bad != n) return nt_err_set(err, NT_EINVAL, "invalid UTF-8 at byte %zu (0x%02x)", bad, p[bad]);
    if ((o->add_bos && t->roles[TOK_ROLE_BOS] < 0) || (o->add_eos && t->roles[TOK_ROLE_EOS] < 0))
        return nt_err_set(err, NT_EINVAL, "%s: the tokenizer has no %s token", t->source,
                          o->add_bos && t->roles[TOK_ROLE_BOS] < 0 ? "BOS" : "EOS");
    tok_scratch *own = s ? NULL : tok_scratch_new(t);
    enc_ctx c = {t, o, s ? s : own, p, out, err};
    if (o->add_special) push_ids(out, t->post_prefix, 0);
    if (o->add_bos) tok_encoding_push(out, t->roles[TOK_ROLE_BOS], 0, 0);
    nt_status st = n ? encode_pass(&c, 0, n, 0) : NT_OK;
    if (!st && o->add_eos) tok_encoding_push(out, t->roles[TOK_ROLE_EOS], 0, 0);
    if (!st && o->add_special) push_ids(out, t->post_suffix, 0);
    tok_scratch_free(own);
    return st;
}
