/* Pre-tokenizer patterns for PCRE2, rewritten so that PCRE2 matches what HF's Oniguruma
 * matches: \s / \S as exactly the White_Space property (PCRE2's UCP \s lacks U+0085 and has
 * U+180E) and \p{L}, \p{N}, \p{M} & co. from newt's Unicode 16 table (PCRE2 10.42 has 14.0).
 * The Tekken pattern itself never reaches PCRE2: tok_tekken_match handles it. */
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_unicode.h"

static const char white_space[] = "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}"
                                  "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

/* Rewrites the \p / \P escape at pattern[i] (pattern[i + 1] is 'p' or 'P'); returns the number of
 * pattern bytes consumed, 0 to copy it unchanged (a property newt's table does not hold). */
static size_t rewrite_property(nt_buf *b, const char *pattern, size_t n, size_t i, bool in_class,
                               nt_status *st, nt_err *err) {
    bool neg = pattern[i + 1] == 'P';
    const char *name = pattern + i + 2;
    size_t len = 1, used = 3;
    if (i + 2 >= n) return 0;
    if (*name == '{') {
        const char *close = memchr(name, '}', n - (i + 2));
        if (!close) return 0;
        name++;
        len = (size_t)(close - name);
        used = len + 4;
    }
    uint32_t mask = tok_uc_prop_mask(name, len);
    if (!mask) return 0;
    if (in_class && neg) {
        *st = nt_err_set(err, NT_EUNSUPPORTED, "regex: \\P{%.*s} inside a character class", (int)len, name);
        return used;
    }
    if (!in_class) nt_buf_puts(b, neg ? "[^" : "[");
    tok_uc_class_body(b, mask);
    if (!in_class) nt_buf_putc(b, ']');
    return used;
}

static nt_status rewrite_pattern(nt_buf *b, const char *pattern, size_t n, nt_err *err) {
    bool in_class = false;
    nt_status st = NT_OK;
    for (size_t i = 0; i < n && !st; i++) {
        char c = pattern[i];
        if (c != '\\' || i + 1 >= n) {
            if (c == '[' && !in_class) in_class = true;
            else if (c == ']' && in_class) in_class = false;
            nt_buf_putc(b, c);
            continue;
        }
        char d = pattern[i + 1];
        size_t used = 0;
        if (d == 's' && in_class) nt_buf_puts(b, white_space), used = 2;
        else if (d == 's' || d == 'S') nt_buf_printf(b, "[%s%s]", d == 'S' ? "^" : "", white_space), used = 2;
        else if (d == 'p' || d == 'P') used = rewrite_property(b, pattern, n, i, in_class, &st, err);
        if (!used) { /* any other escape, copied as is */
            nt_buf_putc(b, c);
            nt_buf_putc(b, d);
            used = 2;
        }
        i += used - 1;
    }
    return st;
}

nt_status tok_compile_regex(const char *pattern, size_t n, pcre2_code **out, nt_err *err) {
    nt_buf b = {0};
    nt_status st = rewrite_pattern(&b, pattern, n, err);
    if (st) {
        nt_buf_free(&b);
        return st;
    }
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)b.data, b.len, PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    nt_buf_free(&b);
    if (!re) {
        char msg[256];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
        return nt_err_set(err, NT_EPARSE, "regex '%.*s': %s", (int)(n > 200 ? 200 : n), pattern, msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT, pcre2_match interprets */
    *out = re;
    return NT_OK;
}

nt_status tok_stage_init(tok_tokenizer *t, tok_stage *st, const char *pattern, size_t n, nt_err *err) {
    if (n == strlen(tok_tekken_pattern) && !memcmp(pattern, tok_tekken_pattern, n)) {
        st->fast = true;
        if (!t->uc.index) tok_uc_table_build(&t->uc);
        return NT_OK;
    }
    return tok_compile_regex(pattern, n, &st->re, err);
}
