/* Template lexer: Jinja2's data/tag split and whitespace control, then the tokens inside
 * {{ }} and {% %}. Comments are dropped here. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "template/tmpl_lex.h"

typedef struct {
    tmpl *t;
    const char *s;
    size_t n, pos;
    int line, col; /* of pos */
    toklist *out;
    nt_err *err;
} lexer;

static bool is_ws(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31); }

static void advance(lexer *L, size_t to) {
    for (; L->pos < to; L->pos++) {
        if (L->s[L->pos] == '\n') {
            L->line++;
            L->col = 1;
        } else {
            L->col++;
        }
    }
}

static tok *push(lexer *L, tok_kind k, int line, int col) {
    if (L->out->n == L->out->cap) {
        L->out->cap = L->out->cap ? 2 * L->out->cap : 256;
        L->out->toks = nt_xrealloc(L->out->toks, L->out->cap * sizeof(tok));
    }
    tok *tk = &L->out->toks[L->out->n++];
    memset(tk, 0, sizeof *tk);
    tk->kind = (uint8_t)k;
    tk->line = line;
    tk->col = col;
    return tk;
}

static const char *dup(lexer *L, const char *s, size_t n) {
    char *p = tmpl_arena_alloc(&L->t->arena, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static nt_status lex_fail(lexer *L, const char *msg) {
    return nt_err_set(L->err, NT_EPARSE, "%s:%d:%d: %s", L->t->name, L->line, L->col, msg);
}

static void utf8_put(nt_buf *b, uint32_t cp) {
    char u[4];
    if (cp < 0x80) { u[0] = (char)cp; nt_buf_append(b, u, 1); }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 63)); nt_buf_append(b, u, 2); }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 63));
        u[2] = (char)(0x80 | (cp & 63)); nt_buf_append(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 63));
        u[2] = (char)(0x80 | (cp >> 6 & 63)); u[3] = (char)(0x80 | (cp & 63)); nt_buf_append(b, u, 4);
    }
}

/* Hex escape of `len` digits at p; -1 if malformed. */
static long hexn(const char *p, size_t avail, int len) {
    if ((size_t)len > avail) return -1;
    long v = 0;
    for (int i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)p[i])) return -1;
        v = v * 16 + (isdigit((unsigned char)p[i]) ? p[i] - '0' : (tolower((unsigned char)p[i]) - 'a' + 10));
    }
    return v;
}

/* A string literal, with Python's unicode-escape rules (what Jinja2 applies). */
static nt_status lex_string(lexer *L, int line, int col) {
    char q = L->s[L->pos];
    size_t i = L->pos + 1;
    nt_buf b = {0};
    while (i < L->n && L->s[i] != q) {
        char c = L->s[i];
        if (c != '\\' || i + 1 >= L->n) { nt_buf_putc(&b, c); i++; continue; }
        char e = L->s[i + 1];
        const char *simple = strchr("nrtabfv\\'\"", e);
        if (simple && e) {
            static const char map[] = "\n\r\t\a\b\f\v\\'\"";
            nt_buf_putc(&b, map[simple - "nrtabfv\\'\""]);
            i += 2;
        } else if (e == 'x' || e == 'u' || e == 'U') {
            int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            long v = hexn(L->s + i + 2, L->n - i - 2, len);
            if (v < 0 || v > 0x10FFFF) { nt_buf_free(&b); return lex_fail(L, "malformed escape in string literal"); }
            utf8_put(&b, (uint32_t)v);
            i += 2 + (size_t)len;
        } else if (e >= '0' && e <= '7') {
            uint32_t v = 0;
            size_t k = i + 1;
            for (int d = 0; d < 3 && k < L->n && L->s[k] >= '0' && L->s[k] <= '7'; d++, k++) v = v * 8 + (uint32_t)(L->s[k] - '0');
            utf8_put(&b, v);
            i = k;
        } else if (e == '\n') {
            i += 2;
        } else {
            nt_buf_putc(&b, '\\');
            i++;
        }
    }
    if (i >= L->n) { nt_buf_free(&b); return lex_fail(L, "unterminated string"); }
    tok *tk = push(L, T_STRING, line, col);
    tk->s = dup(L, b.data ? b.data : "", b.len);
    tk->n = b.len;
    nt_buf_free(&b);
    advance(L, i + 1);
    return NT_OK;
}

static nt_status lex_number(lexer *L, int line, int col) {
    size_t i = L->pos;
    bool is_float = false;
    char buf[64];
    size_t k = 0;
    while (i < L->n && (isdigit((unsigned char)L->s[i]) || L->s[i] == '_')) {
        if (L->s[i] != '_' && k < 63) buf[k++] = L->s[i];
        i++;
    }
    if (i + 1 < L->n && L->s[i] == '.' && isdigit((unsigned char)L->s[i + 1])) {
        is_float = true;
        buf[k++] = '.';
        for (i++; i < L->n && (isdigit((unsigned char)L->s[i]) || L->s[i] == '_'); i++)
            if (L->s[i] != '_' && k < 63) buf[k++] = L->s[i];
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-')) j++;
        if (j < L->n && isdigit((unsigned char)L->s[j])) {
            is_float = true;
            while (i < j && k < 63) buf[k++] = L->s[i++];
            while (i < L->n && isdigit((unsigned char)L->s[i])) { if (k < 63) buf[k++] = L->s[i]; i++; }
        }
    }
    buf[k] = 0;
    tok *tk = push(L, is_float ? T_FLOAT : T_INT, line, col);
    if (is_float) {
        tk->f = strtod(buf, NULL);
    } else {
        errno = 0;
        tk->i = strtoll(buf, NULL, 10);
        if (errno) return lex_fail(L, "integer literal out of range");
    }
    advance(L, i);
    return NT_OK;
}

static const char *const OPS[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%",
                                  "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".",
                                  ":", "|"};

/* Whether the tag ends here: returns the end's length (with a `-`/`+` modifier) or 0. */
static size_t tag_end_at(lexer *L, bool block, int depth, char *mod) {
    const char *p = L->s + L->pos;
    size_t left = L->n - L->pos;
    char e = block ? '%' : '}';
    *mod = 0;
    /* `+` marks only a block's end; in a {{ }} it is the operator */
    if (left >= 3 && (p[0] == '-' || (p[0] == '+' && block)) && p[1] == e && p[2] == '}' &&
        (block || depth == 0)) {
        *mod = p[0];
        return 3;
    }
    if (left >= 2 && p[0] == e && p[1] == '}' && (block || depth == 0)) return 2;
    return 0;
}

/* Consumes a tag end at pos and the whitespace it removes (`-`, or trim_blocks' newline). */
static nt_status after_tag_end(lexer *L, bool block, int depth, bool *line_starting) {
    char mod;
    size_t el = tag_end_at(L, block, depth, &mod);
    if (!el) return lex_fail(L, "expected '%}'");
    advance(L, L->pos + el);
    *line_starting = false;
    if (mod == '-') {
        while (L->pos < L->n && is_ws((unsigned char)L->s[L->pos])) advance(L, L->pos + 1);
    } else if (block && mod != '+' && L->pos < L->n && L->s[L->pos] == '\n') {
        advance(L, L->pos + 1); /* trim_blocks */
        *line_starting = true;
    }
    return NT_OK;
}

/* Tokens of one {{ }} or {% %} up to and including its end; whitespace after it handled. */
static nt_status lex_tag(lexer *L, bool block, bool *line_starting) {
    int depth = 0;
    for (;;) {
        while (L->pos < L->n && is_ws((unsigned char)L->s[L->pos])) advance(L, L->pos + 1);
        if (L->pos >= L->n) return lex_fail(L, block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
        char mod;
        if (tag_end_at(L, block, depth, &mod)) {
            push(L, block ? T_BLOCK_END : T_VAR_END, L->line, L->col);
            return after_tag_end(L, block, depth, line_starting);
        }
        int line = L->line, col = L->col;
        char c = L->s[L->pos];
        nt_status st = NT_OK;
        if (c == '\'' || c == '"') {
            st = lex_string(L, line, col);
        } else if (isdigit((unsigned char)c)) {
            st = lex_number(L, line, col);
        } else if (isalpha((unsigned char)c) || c == '_') {
            size_t i = L->pos;
            while (i < L->n && (isalnum((unsigned char)L->s[i]) || L->s[i] == '_')) i++;
            tok *tk = push(L, T_NAME, line, col);
            tk->s = dup(L, L->s + L->pos, i - L->pos);
            tk->n = i - L->pos;
            advance(L, i);
        } else {
            size_t k = 0;
            for (; k < sizeof OPS / sizeof *OPS; k++)
                if (!strncmp(L->s + L->pos, OPS[k], strlen(OPS[k]))) break;
            if (k == sizeof OPS / sizeof *OPS) return lex_fail(L, "unexpected character in tag");
            if (strchr("([{", OPS[k][0]) && OPS[k][1] == 0) depth++;
            if (strchr(")]}", OPS[k][0]) && OPS[k][1] == 0 && depth > 0) depth--;
            tok *tk = push(L, T_OP, line, col);
            tk->s = OPS[k];
            tk->n = strlen(OPS[k]);
            advance(L, L->pos + tk->n);
        }
        if (st) return st;
    }
}

static void emit_text(lexer *L, const char *s, size_t n, int line, int col) {
    if (!n) return;
    tok *tk = push(L, T_TEXT, line, col);
    tk->s = dup(L, s, n);
    tk->n = n;
}

static void text_before(lexer *L, size_t start, size_t tag, char kind, char mod, bool line_starting,
                        int line, int col);

/* {% raw %}...{% endraw %}: the body is text. Returns false if this tag is not raw. */
static bool try_raw(lexer *L, size_t after_open, nt_status *st, bool *line_starting) {
    size_t i = after_open;
    while (i < L->n && is_ws((unsigned char)L->s[i])) i++;
    if (L->n - i < 3 || strncmp(L->s + i, "raw", 3)) return false;
    size_t j = i + 3;
    while (j < L->n && is_ws((unsigned char)L->s[j])) j++;
    if (L->n - j < 2 || (strncmp(L->s + j, "%}", 2) && strncmp(L->s + j, "-%}", 3))) return false;
    size_t body = j + (L->s[j] == '-' ? 3 : 2);
    bool strip_after = L->s[j] == '-';
    for (size_t k = body; k + 1 < L->n; k++) {
        if (L->s[k] != '{' || L->s[k + 1] != '%') continue;
        size_t m = k + 2, e = k;
        bool strip_before = m < L->n && L->s[m] == '-';
        if (strip_before || (m < L->n && L->s[m] == '+')) m++;
        while (m < L->n && is_ws((unsigned char)L->s[m])) m++;
        if (L->n - m < 6 || strncmp(L->s + m, "endraw", 6)) continue;
        m += 6;
        while (m < L->n && is_ws((unsigned char)L->s[m])) m++;
        size_t b0 = body;
        if (strip_after) while (b0 < k && is_ws((unsigned char)L->s[b0])) b0++;
        /* Jinja2 lexes the body and {% endraw %} like text before any block tag: `-` strips
         * all whitespace, otherwise lstrip_blocks drops the indentation of the tag's line */
        bool body_line_starting = b0 > body && L->s[b0 - 1] == '\n';
        char mod = strip_before ? '-' : L->s[k + 2] == '+' ? '+' : 0;
        text_before(L, b0, e, '%', mod, body_line_starting, L->line, L->col);
        advance(L, m);
        *st = after_tag_end(L, true, 0, line_starting);
        return true;
    }
    *st = lex_fail(L, "missing {% endraw %}");
    return true;
}

static nt_status lex_comment(lexer *L, bool *line_starting) {
    const char *end = memmem(L->s + L->pos, L->n - L->pos, "#}", 2);
    if (!end) return lex_fail(L, "unclosed comment");
    size_t e = (size_t)(end - L->s);
    bool strip = e > L->pos && L->s[e - 1] == '-';
    advance(L, e + 2);
    *line_starting = false;
    if (strip) {
        while (L->pos < L->n && is_ws((unsigned char)L->s[L->pos])) advance(L, L->pos + 1);
    } else if (L->pos < L->n && L->s[L->pos] == '\n') {
        advance(L, L->pos + 1);
        *line_starting = true;
    }
    return NT_OK;
}

/* Text before a tag, with `-` (strip all whitespace) or lstrip_blocks applied. */
static void text_before(lexer *L, size_t start, size_t tag, char kind, char mod, bool line_starting,
                        int line, int col) {
    size_t e = tag;
    if (mod == '-') {
        while (e > start && is_ws((unsigned char)L->s[e - 1])) e--;
    } else if (mod != '+' && kind != '{') {
        size_t l = e;
        while (l > start && L->s[l - 1] != '\n') l--;
        if (l > start || line_starting) {
            size_t k = l;
            while (k < e && is_ws((unsigned char)L->s[k])) k++;
            if (k == e) e = l;
        }
    }
    emit_text(L, L->s + start, e - start, line, col);
}

nt_status tmpl_lex(tmpl *t, const char *src, size_t n, toklist *out, nt_err *err) {
    lexer L = {.t = t, .s = src, .n = n, .line = 1, .col = 1, .out = out, .err = err};
    bool line_starting = true;
    while (L.pos < L.n) {
        size_t start = L.pos, k = start;
        int line = L.line, col = L.col;
        while (k + 1 < L.n && !(L.s[k] == '{' && strchr("{%#", L.s[k + 1]))) k++;
        if (k + 1 >= L.n) {
            emit_text(&L, L.s + start, L.n - start, line, col);
            break;
        }
        char kind = L.s[k + 1];
        char mod = k + 2 < L.n && (L.s[k + 2] == '-' || L.s[k + 2] == '+') ? L.s[k + 2] : 0;
        text_before(&L, start, k, kind, mod, line_starting, line, col);
        advance(&L, k);
        int tl = L.line, tc = L.col;
        size_t after_open = k + 2 + (mod ? 1 : 0);
        nt_status st = NT_OK;
        if (kind == '#') {
            advance(&L, after_open);
            st = lex_comment(&L, &line_starting);
        } else if (kind == '%' && try_raw(&L, after_open, &st, &line_starting)) {
            /* handled */
        } else {
            push(&L, kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN, tl, tc);
            advance(&L, after_open);
            st = lex_tag(&L, kind == '%', &line_starting);
        }
        if (st) return st;
    }
    push(&L, T_EOF, L.line, L.col);
    return NT_OK;
}
