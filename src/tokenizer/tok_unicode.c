/* Property masks, regex class bodies and the class lookup table from the category ranges. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "tokenizer/tok_unicode.h"

#define B(c) (1u << (c))
#define MASK_L (B(TOK_UC_LU) | B(TOK_UC_LL) | B(TOK_UC_LT) | B(TOK_UC_LM) | B(TOK_UC_LO))
#define MASK_M (B(TOK_UC_MN) | B(TOK_UC_MC) | B(TOK_UC_ME))
#define MASK_N (B(TOK_UC_ND) | B(TOK_UC_NL) | B(TOK_UC_NO))

uint32_t tok_uc_prop_mask(const char *name, size_t n) {
    static const struct { const char *s, *l; uint32_t m; } props[] = {
        {"L", "Letter", MASK_L}, {"Lu", "Uppercase_Letter", B(TOK_UC_LU)},
        {"Ll", "Lowercase_Letter", B(TOK_UC_LL)}, {"Lt", "Titlecase_Letter", B(TOK_UC_LT)},
        {"Lm", "Modifier_Letter", B(TOK_UC_LM)}, {"Lo", "Other_Letter", B(TOK_UC_LO)},
        {"M", "Mark", MASK_M}, {"Mn", "Nonspacing_Mark", B(TOK_UC_MN)},
        {"Mc", "Spacing_Mark", B(TOK_UC_MC)}, {"Me", "Enclosing_Mark", B(TOK_UC_ME)},
        {"N", "Number", MASK_N}, {"Nd", "Decimal_Number", B(TOK_UC_ND)},
        {"Nl", "Letter_Number", B(TOK_UC_NL)}, {"No", "Other_Number", B(TOK_UC_NO)},
    };
    for (size_t i = 0; i < sizeof props / sizeof *props; i++)
        if ((strlen(props[i].s) == n && !memcmp(props[i].s, name, n)) ||
            (strlen(props[i].l) == n && !memcmp(props[i].l, name, n)))
            return props[i].m;
    return 0;
}

void tok_uc_class_body(nt_buf *b, uint32_t mask) {
    for (size_t i = 0; i < tok_uc_nranges;) {
        if (!(mask & B(tok_uc_ranges[i].cat))) { i++; continue; }
        uint32_t first = tok_uc_ranges[i].first, last = tok_uc_ranges[i].last;
        for (i++; i < tok_uc_nranges && tok_uc_ranges[i].first == last + 1 && (mask & B(tok_uc_ranges[i].cat)); i++)
            last = tok_uc_ranges[i].last;
        if (first == last) nt_buf_printf(b, "\\x{%X}", first);
        else nt_buf_printf(b, "\\x{%X}-\\x{%X}", first, last);
    }
}

static uint8_t bits_of_cat(uint8_t cat) {
    uint32_t m = B(cat);
    uint8_t bits = 0;
    if (m & MASK_L) bits |= TOK_CB_L;
    if (m & MASK_N) bits |= TOK_CB_N;
    if (m & (B(TOK_UC_LU) | B(TOK_UC_LT) | B(TOK_UC_LM) | B(TOK_UC_LO) | MASK_M)) bits |= TOK_CB_UP;
    if (m & (B(TOK_UC_LL) | B(TOK_UC_LM) | B(TOK_UC_LO) | MASK_M)) bits |= TOK_CB_LO;
    return bits;
}

#define NCP 0x110000u

void tok_uc_table_build(tok_uc_table *t) {
    uint8_t *flat = nt_xcalloc(NCP, 1);
    for (size_t i = 0; i < tok_uc_nranges; i++) {
        uint8_t bits = bits_of_cat(tok_uc_ranges[i].cat);
        memset(flat + tok_uc_ranges[i].first, bits, tok_uc_ranges[i].last - tok_uc_ranges[i].first + 1);
    }
    for (size_t i = 0; i < tok_uc_nword_ranges; i++)
        for (uint32_t c = tok_uc_word_ranges[i].first; c <= tok_uc_word_ranges[i].last; c++) flat[c] |= TOK_CB_WORD;
    for (uint32_t c = 0; c < NCP; c++)
        if (tok_is_unicode_whitespace(c)) flat[c] |= TOK_CB_WS;
    flat['\r'] |= TOK_CB_CRLF;
    flat['\n'] |= TOK_CB_CRLF;
    /* blocks whose 256 bytes are all equal share one stored block per value */
    t->index = nt_xmalloc((NCP >> 8) * sizeof *t->index);
    size_t nb = 0, cap = 64;
    t->blocks = nt_xmalloc(cap * 256);
    int16_t uniform[256];
    memset(uniform, 0xff, sizeof uniform);
    for (uint32_t blk = 0; blk < (NCP >> 8); blk++) {
        const uint8_t *p = flat + ((size_t)blk << 8);
        bool same = true;
        for (int i = 1; i < 256 && same; i++) same = p[i] == p[0];
        if (same && uniform[p[0]] >= 0) { t->index[blk] = (uint16_t)uniform[p[0]]; continue; }
        if (nb == cap) t->blocks = nt_xrealloc(t->blocks, (cap *= 2) * 256);
        memcpy(t->blocks + nb * 256, p, 256);
        if (same) uniform[p[0]] = (int16_t)nb;
        t->index[blk] = (uint16_t)nb++;
    }
    free(flat);
}

void tok_uc_table_free(tok_uc_table *t) {
    free(t->index);
    free(t->blocks);
    t->index = NULL;
    t->blocks = NULL;
}
