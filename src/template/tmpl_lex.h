/* Template lexer (internal): source text to tokens, applying Jinja2's whitespace rules as
 * transformers configures them (trim_blocks, lstrip_blocks, `-`/`+` modifiers, the template's
 * final newline dropped, \r\n and \r read as \n). */
#ifndef NEWT_TEMPLATE_TMPL_LEX_H
#define NEWT_TEMPLATE_TMPL_LEX_H

#include "template/tmpl_int.h"

typedef enum {
    T_EOF, T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STRING, T_INT, T_FLOAT, T_OP,
} tok_kind;

typedef struct {
    uint8_t kind;
    int line, col;
    const char *s; /* text / name / decoded string / operator (arena, NUL-terminated) */
    size_t n;
    int64_t i;
    double f;
} tok;

typedef struct {
    tok *toks;
    size_t n, cap;
} toklist;

/* Tokenizes; strings live in t->arena. */
nt_status tmpl_lex(tmpl *t, const char *src, size_t n, toklist *out, nt_err *err);

#endif
