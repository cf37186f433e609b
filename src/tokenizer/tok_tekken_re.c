/* A hand-written matcher for the Tekken pre-tokenizer pattern
 *
 *   [^\r\n\p{L}\p{N}]?[UP]*[LO]+ | [^\r\n\p{L}\p{N}]?[UP]+[LO]* | \p{N} |
 *    ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 *   UP = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], LO = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
 *
 * giving exactly the match a backtracking engine (Oniguruma, PCRE2) finds: alternatives in
 * order, greedy quantifiers giving back one character at a time. Every character starts some
 * alternative, so a match always begins where the previous one ended. It is several times
 * faster than the regex engine; a unit test checks it against PCRE2 on generated text. */
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_unicode.h"

const char tok_tekken_pattern[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

#define FAIL SIZE_MAX

typedef struct {
    const tok_uc_table *uc;
    const uint8_t *s;
    size_t len;
} rx;

/* Class bits of the character at i; *next gets the index after it. */
static inline uint8_t at(const rx *r, size_t i, size_t *next) {
    uint8_t c = r->s[i];
    if (c < 0x80) {
        *next = i + 1;
        return r->uc->blocks[r->uc->index[0] * 256u + c];
    }
    uint32_t cp;
    *next = i + (size_t)tok_utf8_next(r->s + i, &cp);
    return tok_uc_bits(r->uc, cp);
}

static inline bool is_p(uint8_t b) { return !(b & (TOK_CB_L | TOK_CB_N | TOK_CB_CRLF)); }
static inline bool is_q(uint8_t b) { return !(b & (TOK_CB_WS | TOK_CB_L | TOK_CB_N)); }

/* End of the run of characters having any bit of mask, from i. */
static size_t run(const rx *r, size_t i, uint8_t mask) {
    size_t n;
    while (i < r->len && (at(r, i, &n) & mask)) i = n;
    return i;
}

/* [UP]*[LO]+ from i0 */
static size_t up_star_lo_plus(const rx *r, size_t i0) {
    size_t i = i0, n, last_lo_end = FAIL;
    uint8_t b = 0;
    while (i < r->len && ((b = at(r, i, &n)) & TOK_CB_UP)) {
        if (b & TOK_CB_LO) last_lo_end = n;
        i = n;
    }
    if (i < r->len && (b & TOK_CB_LO)) return run(r, i, TOK_CB_LO);
    return last_lo_end; /* [UP]* gives back down to the last character that is also LO */
}

static size_t alt1(const rx *r, size_t p, uint8_t b0, size_t n0) {
    if (is_p(b0)) {
        size_t e = up_star_lo_plus(r, n0);
        if (e != FAIL) return e;
    }
    return up_star_lo_plus(r, p);
}

static size_t alt2(const rx *r, size_t p, uint8_t b0, size_t n0) {
    if (is_p(b0)) {
        size_t j = run(r, n0, TOK_CB_UP);
        if (j > n0) return run(r, j, TOK_CB_LO);
    }
    size_t j = run(r, p, TOK_CB_UP);
    return j > p ? run(r, j, TOK_CB_LO) : FAIL;
}

static size_t q_run(const rx *r, size_t i) {
    size_t n;
    while (i < r->len && is_q(at(r, i, &n))) i = n;
    return i;
}

static size_t alt4(const rx *r, size_t p) {
    size_t i0 = r->s[p] == ' ' ? p + 1 : p;
    size_t j = q_run(r, i0);
    if (j == i0) return FAIL; /* without the space: ' ' is \s, so no match either */
    while (j < r->len && (r->s[j] == '\r' || r->s[j] == '\n' || r->s[j] == '/')) j++;
    return j;
}

/* \s*[\r\n]+ | \s+(?!\S) | \s+ for a whitespace character at p */
static size_t alt567(const rx *r, size_t p) {
    size_t i = p, n, last_nl_end = FAIL, last_start = p;
    while (i < r->len && (at(r, i, &n) & TOK_CB_WS)) {
        if (r->s[i] == '\r' || r->s[i] == '\n') last_nl_end = n;
        last_start = i;
        i = n;
    }
    if (last_nl_end != FAIL) return last_nl_end;
    if (i == r->len) return i;          /* \s+ then end of text: (?!\S) holds */
    if (last_start > p) return last_start; /* give back one so (?!\S) sees a space */
    return i;                            /* \s+ */
}

size_t tok_tekken_match(const tok_uc_table *uc, const uint8_t *s, size_t len, size_t p) {
    rx r = {uc, s, len};
    size_t n0, e;
    uint8_t b0 = at(&r, p, &n0);
    if ((b0 & (TOK_CB_L | TOK_CB_N)) != TOK_CB_N || is_p(b0)) {
        if ((e = alt1(&r, p, b0, n0)) != FAIL) return e;
        if ((e = alt2(&r, p, b0, n0)) != FAIL) return e;
    }
    if (b0 & TOK_CB_N) return n0;
    if ((e = alt4(&r, p)) != FAIL) return e;
    if (b0 & TOK_CB_WS) return alt567(&r, p);
    return n0; /* not reached: every character starts an alternative */
}
