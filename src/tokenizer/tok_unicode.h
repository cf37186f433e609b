/* Unicode General_Category data of the version HF tokenizers' regex engine uses (16.0.0, see
 * scripts/gen-unicode-table.mjs), as ranges for regex classes and as a two-level lookup table
 * of the character classes the pre-tokenizer patterns test. */
#ifndef NEWT_TOKENIZER_TOK_UNICODE_H
#define NEWT_TOKENIZER_TOK_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

typedef enum {
    TOK_UC_OTHER = 0,
    TOK_UC_LU, TOK_UC_LL, TOK_UC_LT, TOK_UC_LM, TOK_UC_LO,
    TOK_UC_MN, TOK_UC_MC, TOK_UC_ME,
    TOK_UC_ND, TOK_UC_NL, TOK_UC_NO,
} tok_uc_cat;

typedef struct {
    uint32_t first, last;
    uint8_t cat;
} tok_uc_range;

extern const tok_uc_range tok_uc_ranges[];
extern const size_t tok_uc_nranges;
/* \w of Rust's regex crate (what HF's single_word check uses). */
extern const tok_uc_range tok_uc_word_ranges[];
extern const size_t tok_uc_nword_ranges;

/* Category bit mask (1 << tok_uc_cat) of a property name (L, Lu, Ll, Lt, Lm, Lo, M, Mn, Mc,
 * Me, N, Nd, Nl, No and their long names); 0 when the name is not one of them. */
uint32_t tok_uc_prop_mask(const char *name, size_t n);
/* Appends the ranges of the categories in mask as a regex class body ("\x{41}-\x{5A}..."). */
void tok_uc_class_body(nt_buf *b, uint32_t mask);

/* Class bits per code point. */
enum {
    TOK_CB_L = 1,     /* \p{L} */
    TOK_CB_N = 2,     /* \p{N} */
    TOK_CB_UP = 4,    /* [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] */
    TOK_CB_LO = 8,    /* [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
    TOK_CB_WS = 16,   /* \s (White_Space) */
    TOK_CB_CRLF = 32, /* \r or \n */
    TOK_CB_WORD = 64, /* Rust regex \w */
};

typedef struct {
    uint16_t *index;  /* cp >> 8 -> block */
    uint8_t *blocks;  /* 256 class bytes per block */
} tok_uc_table;

void tok_uc_table_build(tok_uc_table *t);
void tok_uc_table_free(tok_uc_table *t);
static inline uint8_t tok_uc_bits(const tok_uc_table *t, uint32_t cp) {
    return t->blocks[(size_t)t->index[cp >> 8] << 8 | (cp & 255)];
}

#endif
