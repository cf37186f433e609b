/* Pre-tokenizer: each stage splits a piece with its regex (HF Split semantics: behavior,
 * invert) and hands the resulting pieces to the next stage; the last stage feeds BPE.
 * Pieces stream through, so memory does not grow with the length of the text. */
#include "tokenizer/tok_internal.h"

typedef struct {
    const tok_tokenizer *t;
    tok_scratch *s;
    const uint8_t *text;
    tok_encoding *out;
    nt_err *err;
} pt_ctx;

static nt_status run_stage(pt_ctx *c, int k, size_t a, size_t b);

/* Forwards a non-empty piece to stage k (or BPE past the last stage). */
static nt_status emit(pt_ctx *c, int k, size_t a, size_t b) {
    if (a >= b) return NT_OK;
    if (k >= c->t->n_stages) {
        if (b - a > TOK_MAX_PIECE)
            return nt_err_set(c->err, NT_ELIMIT, "a pre-tokenized piece of %zu bytes at byte %zu exceeds the "
                              "limit of %u bytes for one BPE word", b - a, a, TOK_MAX_PIECE);
        tok_bpe_piece(c->t, c->s, c->text, a, b, c->out);
        return NT_OK;
    }
    return run_stage(c, k, a, b);
}

/* Behaviour combiner: receives (range, is_match) in order, emits merged pieces. */
typedef struct {
    size_t pa, pb;
    bool has, pending_match, prev_match;
} combiner;

static nt_status combine(pt_ctx *c, int next, tok_split_behavior bh, combiner *cb, size_t a,
                         size_t b, bool m) {
    nt_status st = NT_OK;
    switch (bh) {
    case TOK_SPLIT_ISOLATED: return emit(c, next, a, b);
    case TOK_SPLIT_REMOVED: return m ? NT_OK : emit(c, next, a, b);
    case TOK_SPLIT_MERGED_PREV: /* a match joins the previous piece unless that was a match */
    case TOK_SPLIT_CONTIGUOUS:  /* runs of equal kind join */
        if (cb->has && ((bh == TOK_SPLIT_MERGED_PREV && m && !cb->prev_match) ||
                        (bh == TOK_SPLIT_CONTIGUOUS && m == cb->prev_match))) {
            cb->pb = b;
        } else {
            if (cb->has) st = emit(c, next, cb->pa, cb->pb);
            cb->pa = a, cb->pb = b, cb->has = true;
        }
        cb->prev_match = m;
        return st;
    case TOK_SPLIT_MERGED_NEXT: /* a match joins the next piece unless that is a match */
        if (cb->has) {
            if (!m) {
                cb->has = false;
                return emit(c, next, cb->pa, b);
            }
            st = emit(c, next, cb->pa, cb->pb);
            cb->has = false;
        }
        if (st) return st;
        if (m) {
            cb->pa = a, cb->pb = b, cb->has = true;
            return NT_OK;
        }
        return emit(c, next, a, b);
    }
    return NT_OK;
}

/* The fast matcher: every match starts where the previous one ended. */
static nt_status run_fast(pt_ctx *c, int k, size_t a, size_t b) {
    const tok_stage *sg = &c->t->stages[k];
    combiner cb = {0};
    nt_status st = NT_OK;
    for (size_t p = a; p < b && !st;) {
        size_t e = a + tok_tekken_match(&c->t->uc, c->text + a, b - a, p - a);
        st = sg->behavior == TOK_SPLIT_ISOLATED ? emit(c, k + 1, p, e)
                                                : combine(c, k + 1, sg->behavior, &cb, p, e, !sg->invert);
        p = e;
    }
    if (!st && cb.has) st = emit(c, k + 1, cb.pa, cb.pb);
    return st;
}

static nt_status run_stage(pt_ctx *c, int k, size_t a, size_t b) {
    const tok_stage *sg = &c->t->stages[k];
    if (sg->fast) return run_fast(c, k, a, b);
    pcre2_match_data *md = c->s->md[k];
    const uint8_t *subj = c->text + a;
    size_t len = b - a, pos = 0, prev = 0;
    combiner cb = {0};
    nt_status st = NT_OK;
    while (pos <= len && !st) {
        int rc = pcre2_jit_match(sg->re, subj, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_JIT_BADOPTION)
            rc = pcre2_match(sg->re, subj, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0)
            return nt_err_set(c->err, NT_ELIMIT, "pre-tokenizer regex failed (PCRE2 error %d) at byte %zu",
                              rc, a + pos);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms > prev) st = combine(c, k + 1, sg->behavior, &cb, a + prev, a + ms, sg->invert);
        if (!st) st = combine(c, k + 1, sg->behavior, &cb, a + ms, a + me, !sg->invert);
        prev = me;
        if (me == ms) { /* empty match: step over one character */
            if (me >= len) break;
            uint32_t cp;
            pos = me + (size_t)tok_utf8_next(subj + me, &cp);
        } else {
            pos = me;
        }
    }
    if (!st && prev < len) st = combine(c, k + 1, sg->behavior, &cb, a + prev, b, sg->invert);
    if (!st && cb.has) st = emit(c, k + 1, cb.pa, cb.pb);
    return st;
}

nt_status tok_pretok_encode(const tok_tokenizer *t, tok_scratch *s, const uint8_t *text, size_t a,
                            size_t b, tok_encoding *out, nt_err *err) {
    pt_ctx c = {t, s, text, out, err};
    return emit(&c, 0, a, b);
}
