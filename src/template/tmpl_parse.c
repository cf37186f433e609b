/* Template parser: tokens to AST, following Jinja2's grammar and operator precedence
 * (condexpr < or < and < not < compare < +,- < ~ < *,/,//,% < ** < unary < postfix/filters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/tmpl_lex.h"

#define MAX_NEST 200

typedef struct {
    tmpl *t;
    toklist tl;
    size_t i;
    nt_err *err;
    jmp_buf jb;
    int nest;
} parser;

static const tok *peek(parser *P) { return &P->tl.toks[P->i]; }
static const tok *peek2(parser *P) {
    return P->i + 1 < P->tl.n ? &P->tl.toks[P->i + 1] : &P->tl.toks[P->tl.n - 1];
}
static const tok *next(parser *P) {
    const tok *tk = &P->tl.toks[P->i];
    if (tk->kind != T_EOF) P->i++;
    return tk;
}

_Noreturn static void pfail(parser *P, const tok *at, const char *fmt, const char *arg) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    nt_err_set(P->err, NT_EPARSE, "%s:%d:%d: %s", P->t->name, at->line, at->col, msg);
    longjmp(P->jb, 1);
}

static bool is_op(const tok *tk, const char *op) { return tk->kind == T_OP && !strcmp(tk->s, op); }
static bool is_name(const tok *tk, const char *nm) { return tk->kind == T_NAME && !strcmp(tk->s, nm); }

/* A token as Jinja2's lexer.describe_token names it in syntax errors. */
static const char *describe_tok(const tok *tk) {
    switch (tk->kind) {
    case T_EOF: return "end of template";
    case T_VAR_END: return "end of print statement";
    case T_BLOCK_END: return "end of statement block";
    case T_STRING: return "string";
    case T_INT: return "integer";
    case T_FLOAT: return "float";
    default: return tk->s ? tk->s : "?";
    }
}

static void expect_op(parser *P, const char *op) {
    if (!is_op(peek(P), op)) {
        char m[160];
        snprintf(m, sizeof m, "expected token '%s', got '%.100s'", op, describe_tok(peek(P)));
        pfail(P, peek(P), "%s", m);
    }
    next(P);
}

static const char *expect_name(parser *P) {
    if (peek(P)->kind != T_NAME) pfail(P, peek(P), "expected a name%s", NULL);
    return next(P)->s;
}

static void expect_block_end(parser *P) {
    if (peek(P)->kind != T_BLOCK_END) pfail(P, peek(P), "expected end of statement block%s", NULL);
    next(P);
}

static node *mk(parser *P, nkind k, const tok *at) {
    node *n = tmpl_arena_alloc(&P->t->arena, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)k;
    n->line = at->line;
    n->col = at->col;
    n->sym = -1;
    return n;
}

typedef struct {
    node **v;
    size_t n, cap;
} nvec;

/* Vectors grow inside the arena, so a parse error (longjmp) leaks nothing. */
static void nv_push_(parser *P, nvec *v, node *x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 8;
        node **nv = tmpl_arena_alloc(&P->t->arena, cap * sizeof *nv);
        if (v->n) memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}
#define nv_push(v, x) nv_push_(P, v, x)

static void set_kids(parser *P, node *n, nvec *v) {
    (void)P;
    n->nkids = v->n;
    n->kids = v->v;
    memset(v, 0, sizeof *v);
}

static tv *lit_new(parser *P, tv_kind k) {
    tv *v = tmpl_arena_alloc(&P->t->arena, sizeof *v);
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)k;
    return v;
}

static node *expr(parser *P);
static node *expr_nocond(parser *P);
static node *unary(parser *P, bool with_filter);

static void enter(parser *P) {
    if (++P->nest > MAX_NEST) pfail(P, peek(P), "expression or block nested too deeply%s", NULL);
}

/* Call arguments after '(' : positional and name=value. */
static void call_args(parser *P, nvec *args) {
    expect_op(P, "(");
    while (!is_op(peek(P), ")")) {
        if (args->n) expect_op(P, ",");
        if (is_op(peek(P), ")")) break;
        if (peek(P)->kind == T_NAME && is_op(peek2(P), "=")) {
            const tok *nt = next(P);
            next(P);
            node *kw = mk(P, N_KWARG, nt);
            kw->name = nt->s;
            kw->a = expr(P);
            nv_push(args, kw);
        } else {
            nv_push(args, expr(P));
        }
    }
    expect_op(P, ")");
}

static node *primary(parser *P) {
    const tok *tk = next(P);
    node *n;
    switch (tk->kind) {
    case T_STRING: {
        n = mk(P, N_LIT, tk);
        n->lit = lit_new(P, TV_STR);
        const char *s = tk->s;
        size_t len = tk->n;
        if (peek(P)->kind == T_STRING) { /* adjacent literals concatenate */
            nt_buf b = {0};
            nt_buf_append(&b, tk->s, tk->n);
            while (peek(P)->kind == T_STRING) {
                const tok *x = next(P);
                nt_buf_append(&b, x->s, x->n);
            }
            char *p = tmpl_arena_alloc(&P->t->arena, b.len + 1);
            memcpy(p, b.data, b.len + 1);
            s = p;
            len = b.len;
            nt_buf_free(&b);
        }
        n->lit->u.str.s = s;
        n->lit->u.str.n = len;
        return n;
    }
    case T_INT: n = mk(P, N_LIT, tk); n->lit = lit_new(P, TV_INT); n->lit->u.i = tk->i; return n;
    case T_FLOAT: n = mk(P, N_LIT, tk); n->lit = lit_new(P, TV_FLOAT); n->lit->u.f = tk->f; return n;
    case T_NAME:
        if (!strcmp(tk->s, "true") || !strcmp(tk->s, "True") || !strcmp(tk->s, "false") ||
            !strcmp(tk->s, "False")) {
            n = mk(P, N_LIT, tk);
            n->lit = lit_new(P, TV_BOOL);
            n->lit->u.b = tk->s[0] == 't' || tk->s[0] == 'T';
            return n;
        }
        if (!strcmp(tk->s, "none") || !strcmp(tk->s, "None")) {
            n = mk(P, N_LIT, tk);
            n->lit = lit_new(P, TV_NONE);
            return n;
        }
        n = mk(P, N_NAME, tk);
        n->name = tk->s;
        n->sym = tmpl_sym(P->t, tk->s, tk->n);
        return n;
    case T_OP:
        if (!strcmp(tk->s, "(")) {
            enter(P);
            if (is_op(peek(P), ")")) { next(P); n = mk(P, N_TUPLE, tk); P->nest--; return n; }
            node *first = expr(P);
            if (is_op(peek(P), ",")) {
                nvec v = {0};
                nv_push(&v, first);
                while (is_op(peek(P), ",")) {
                    next(P);
                    if (is_op(peek(P), ")")) break;
                    nv_push(&v, expr(P));
                }
                first = mk(P, N_TUPLE, tk);
                set_kids(P, first, &v);
            }
            expect_op(P, ")");
            P->nest--;
            return first;
        }
        if (!strcmp(tk->s, "[") || !strcmp(tk->s, "{")) {
            bool dict = tk->s[0] == '{';
            enter(P);
            n = mk(P, dict ? N_DICT : N_LIST, tk);
            nvec v = {0};
            const char *close = dict ? "}" : "]";
            while (!is_op(peek(P), close)) {
                if (v.n) expect_op(P, ",");
                if (is_op(peek(P), close)) break;
                nv_push(&v, expr(P));
                if (dict) { expect_op(P, ":"); nv_push(&v, expr(P)); }
            }
            expect_op(P, close);
            set_kids(P, n, &v);
            P->nest--;
            return n;
        }
        break;
    default: break;
    }
    pfail(P, tk, "unexpected '%s'", describe_tok(tk));
}

/* [a], [a:b:c] after the '['. */
static node *subscript(parser *P, node *obj, const tok *at) {
    node *parts[3] = {NULL, NULL, NULL};
    int k = 0;
    bool slice = false;
    for (;;) {
        if (is_op(peek(P), ":")) {
            next(P);
            slice = true;
            if (++k > 2) pfail(P, peek(P), "invalid slice%s", NULL);
            continue;
        }
        if (is_op(peek(P), "]")) break;
        if (parts[k]) pfail(P, peek(P), "expected ']'%s", NULL);
        parts[k] = expr(P);
    }
    expect_op(P, "]");
    node *n = mk(P, slice ? N_SLICE : N_ITEM, at);
    n->a = obj;
    if (slice) { n->b = parts[0]; n->c = parts[1]; n->d = parts[2]; }
    else {
        if (!parts[0]) pfail(P, at, "expected an index%s", NULL);
        n->b = parts[0];
    }
    return n;
}

static node *postfix(parser *P, node *n) {
    for (;;) {
        const tok *tk = peek(P);
        if (is_op(tk, ".")) {
            next(P);
            const tok *nt = next(P);
            if (nt->kind == T_INT) { /* foo.0 is foo[0] */
                node *it = mk(P, N_ITEM, nt);
                it->a = n;
                it->b = mk(P, N_LIT, nt);
                it->b->lit = lit_new(P, TV_INT);
                it->b->lit->u.i = nt->i;
                n = it;
                continue;
            }
            if (nt->kind != T_NAME) pfail(P, nt, "expected an attribute name%s", NULL);
            node *a = mk(P, N_ATTR, nt);
            a->a = n;
            a->name = nt->s;
            a->nlen = nt->n;
            n = a;
        } else if (is_op(tk, "[")) {
            next(P);
            n = subscript(P, n, tk);
        } else if (is_op(tk, "(")) {
            node *c = mk(P, N_CALL, tk);
            c->a = n;
            nvec v = {0};
            call_args(P, &v);
            set_kids(P, c, &v);
            n = c;
        } else {
            return n;
        }
    }
}

static bool starts_primary(const tok *tk) {
    if (tk->kind == T_STRING || tk->kind == T_INT || tk->kind == T_FLOAT) return true;
    if (tk->kind == T_OP) return is_op(tk, "(") || is_op(tk, "[") || is_op(tk, "{");
    if (tk->kind != T_NAME) return false;
    /* Jinja2's parse_test: any other name (in, not, if, ...) is read as the argument */
    static const char *const stop[] = {"else", "or", "and"};
    for (size_t i = 0; i < sizeof stop / sizeof *stop; i++)
        if (!strcmp(tk->s, stop[i])) return false;
    return true;
}

static node *filters(parser *P, node *n) {
    for (;;) {
        const tok *tk = peek(P);
        if (is_op(tk, "|")) {
            next(P);
            node *f = mk(P, N_FILTER, tk);
            f->a = n;
            f->name = expect_name(P);
            f->fid = tmpl_filter_id(f->name);
            nvec v = {0};
            if (is_op(peek(P), "(")) call_args(P, &v);
            set_kids(P, f, &v);
            n = f;
        } else if (is_name(tk, "is")) {
            next(P);
            node *t = mk(P, N_TEST, tk);
            t->a = n;
            if (is_name(peek(P), "not")) { next(P); t->neg = true; }
            t->name = expect_name(P);
            t->fid = tmpl_test_id(t->name);
            t->shape = tmpl_test_is_shape(t->name);
            nvec v = {0};
            if (is_op(peek(P), "(")) call_args(P, &v);
            else if (starts_primary(peek(P))) {
                if (is_name(peek(P), "is")) pfail(P, peek(P), "You cannot chain multiple tests with is%s", NULL);
                nv_push(&v, postfix(P, primary(P)));
            }
            set_kids(P, t, &v);
            n = t;
        } else if (is_op(tk, "(")) {
            n = postfix(P, n);
        } else {
            return n;
        }
    }
}

static node *unary(parser *P, bool with_filter) {
    const tok *tk = peek(P);
    node *n;
    enter(P);
    if (is_op(tk, "-") || is_op(tk, "+")) {
        next(P);
        n = mk(P, tk->s[0] == '-' ? N_NEG : N_POS, tk);
        n->a = unary(P, false);
    } else {
        n = primary(P);
    }
    n = postfix(P, n);
    if (with_filter) n = filters(P, n);
    P->nest--;
    return n;
}

static node *bin(parser *P, const tok *at, op_kind op, node *a, node *b) {
    node *n = mk(P, N_BIN, at);
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    return n;
}

static node *power(parser *P) {
    node *n = unary(P, true);
    while (is_op(peek(P), "**")) {
        const tok *tk = next(P);
        n = bin(P, tk, OP_POW, n, unary(P, true));
    }
    return n;
}

static node *math2(parser *P) {
    node *n = power(P);
    for (;;) {
        const tok *tk = peek(P);
        op_kind op;
        if (is_op(tk, "*")) op = OP_MUL;
        else if (is_op(tk, "/")) op = OP_DIV;
        else if (is_op(tk, "//")) op = OP_FDIV;
        else if (is_op(tk, "%")) op = OP_MOD;
        else return n;
        next(P);
        n = bin(P, tk, op, n, power(P));
    }
}

static node *concat(parser *P) {
    node *n = math2(P);
    while (is_op(peek(P), "~")) {
        const tok *tk = next(P);
        n = bin(P, tk, OP_CAT, n, math2(P));
    }
    return n;
}

static node *math1(parser *P) {
    node *n = concat(P);
    for (;;) {
        const tok *tk = peek(P);
        if (!is_op(tk, "+") && !is_op(tk, "-")) return n;
        next(P);
        n = bin(P, tk, tk->s[0] == '+' ? OP_ADD : OP_SUB, n, concat(P));
    }
}

static node *compare(parser *P) {
    node *n = math1(P);
    int links = 0;
    for (;;) {
        const tok *tk = peek(P);
        int op = -1;
        static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
        for (int k = 0; k < 6; k++)
            if (is_op(tk, ops[k])) op = OP_EQ + k;
        if (op < 0 && is_name(tk, "in")) op = OP_IN;
        if (op < 0 && is_name(tk, "not") && is_name(peek2(P), "in")) { next(P); op = OP_NOTIN; }
        if (op < 0) {
            P->nest -= links;
            return n;
        }
        next(P);
        node *c = mk(P, N_CMP, tk);
        c->op = (uint8_t)op;
        /* a < b < c is Python's chain (a < b and b < c): links after the first are marked */
        c->neg = n->kind == N_CMP && links > 0;
        if (links++ > 0) enter(P); /* the chain is evaluated recursively */
        c->a = n;
        c->b = math1(P);
        n = c;
    }
}

static node *not_expr(parser *P) {
    if (is_name(peek(P), "not")) {
        const tok *tk = next(P);
        enter(P);
        node *n = mk(P, N_NOT, tk);
        n->a = not_expr(P);
        P->nest--;
        return n;
    }
    return compare(P);
}

static node *and_expr(parser *P) {
    node *n = not_expr(P);
    while (is_name(peek(P), "and")) {
        const tok *tk = next(P);
        node *a = mk(P, N_AND, tk);
        a->a = n;
        a->b = not_expr(P);
        n = a;
    }
    return n;
}

static node *or_expr(parser *P) {
    node *n = and_expr(P);
    while (is_name(peek(P), "or")) {
        const tok *tk = next(P);
        node *o = mk(P, N_OR, tk);
        o->a = n;
        o->b = and_expr(P);
        n = o;
    }
    return n;
}

static node *expr_nocond(parser *P) { return or_expr(P); }

static node *expr(parser *P) {
    enter(P);
    node *n = or_expr(P);
    while (is_name(peek(P), "if")) {
        const tok *tk = next(P);
        node *c = mk(P, N_COND, tk);
        c->b = n;            /* value if true */
        c->a = or_expr(P);   /* condition */
        if (is_name(peek(P), "else")) {
            next(P);
            c->c = expr(P);
        }
        n = c;
    }
    P->nest--;
    return n;
}

/* `a` or `a, b` (a tuple without parentheses), as in {{ }}, set and for. */
static node *tuple_expr(parser *P, bool with_cond) {
    const tok *at = peek(P);
    node *first = with_cond ? expr(P) : expr_nocond(P);
    if (!is_op(peek(P), ",")) return first;
    nvec v = {0};
    nv_push(&v, first);
    while (is_op(peek(P), ",")) {
        next(P);
        if (peek(P)->kind == T_BLOCK_END || peek(P)->kind == T_VAR_END || is_op(peek(P), "=")) break;
        nv_push(&v, with_cond ? expr(P) : expr_nocond(P));
    }
    node *t = mk(P, N_TUPLE, at);
    set_kids(P, t, &v);
    return t;
}

/* ---- statements ---- */

static node *body(parser *P, const char *const *stops, const char **which);

static node *stmt_if(parser *P, const tok *at) {
    node *n = mk(P, N_IF, at);
    n->a = tuple_expr(P, true);
    expect_block_end(P);
    static const char *const stops[] = {"elif", "else", "endif", NULL};
    const char *which;
    n->b = body(P, stops, &which);
    if (!strcmp(which, "elif")) {
        n->c = stmt_if(P, at);
        return n;
    }
    if (!strcmp(which, "else")) {
        expect_block_end(P);
        static const char *const end[] = {"endif", NULL};
        n->c = body(P, end, &which);
    }
    expect_block_end(P);
    return n;
}

static node *target(parser *P) {
    const tok *at = peek(P);
    nvec v = {0};
    do {
        if (v.n) next(P);
        const tok *nt = peek(P);
        node *nm = mk(P, N_NAME, nt);
        nm->name = expect_name(P);
        nm->sym = tmpl_sym(P->t, nm->name, strlen(nm->name));
        nv_push(&v, nm);
    } while (is_op(peek(P), ","));
    if (v.n == 1) {
        node *one = v.v[0];
        return one;
    }
    node *t = mk(P, N_TUPLE, at);
    set_kids(P, t, &v);
    return t;
}

static node *stmt_for(parser *P, const tok *at) {
    node *n = mk(P, N_FOR, at);
    n->a = target(P);
    if (!is_name(peek(P), "in")) pfail(P, peek(P), "expected 'in'%s", NULL);
    next(P);
    n->b = tuple_expr(P, false);
    if (is_name(peek(P), "if")) {
        next(P);
        n->c = expr(P);
    }
    if (is_name(peek(P), "recursive")) pfail(P, peek(P), "recursive loops are not supported%s", NULL);
    expect_block_end(P);
    static const char *const stops[] = {"else", "endfor", NULL};
    const char *which;
    node *b = body(P, stops, &which);
    n->kids = tmpl_arena_alloc(&P->t->arena, 2 * sizeof(node *));
    n->kids[0] = b;
    n->kids[1] = NULL;
    n->nkids = 2;
    if (!strcmp(which, "else")) {
        expect_block_end(P);
        static const char *const end[] = {"endfor", NULL};
        n->kids[1] = body(P, end, &which);
    }
    expect_block_end(P);
    return n;
}

static node *stmt_set(parser *P, const tok *at) {
    const tok *nt = peek(P);
    const char *nm = expect_name(P);
    if (is_op(peek(P), ".")) {
        next(P);
        node *n = mk(P, N_SETATTR, at);
        n->sym = tmpl_sym(P->t, nm, strlen(nm));
        n->name = expect_name(P);
        expect_op(P, "=");
        n->a = tuple_expr(P, true);
        expect_block_end(P);
        return n;
    }
    P->i--; /* re-read the target (it may be a tuple) */
    (void)nt;
    node *tg = target(P);
    if (is_op(peek(P), "=")) {
        next(P);
        node *n = mk(P, N_SET, at);
        n->a = tg;
        n->b = tuple_expr(P, true);
        expect_block_end(P);
        return n;
    }
    if (tg->kind != N_NAME) pfail(P, at, "block set takes one name%s", NULL);
    node *n = mk(P, N_SETBLOCK, at);
    n->a = tg;
    nvec fv = {0};
    while (is_op(peek(P), "|")) { /* {% set x | filter %} */
        const tok *ft = next(P);
        node *f = mk(P, N_FILTER, ft);
        f->name = expect_name(P);
        nvec v = {0};
        if (is_op(peek(P), "(")) call_args(P, &v);
        set_kids(P, f, &v);
        nv_push(&fv, f);
    }
    set_kids(P, n, &fv);
    expect_block_end(P);
    static const char *const end[] = {"endset", NULL};
    const char *which;
    n->b = body(P, end, &which);
    expect_block_end(P);
    return n;
}

/* MACRO_USES_* bits of the names read anywhere under n. */
static uint8_t names_used(const tmpl *t, const node *n) {
    if (!n) return 0;
    uint8_t m = 0;
    if (n->kind == N_NAME)
        m = (n->sym == t->sym_varargs ? MACRO_USES_VARARGS : 0) | (n->sym == t->sym_kwargs ? MACRO_USES_KWARGS : 0) |
            (n->sym == t->sym_caller ? MACRO_USES_CALLER : 0);
    m |= names_used(t, n->a) | names_used(t, n->b) | names_used(t, n->c) | names_used(t, n->d);
    for (size_t i = 0; i < n->nkids; i++) m |= names_used(t, n->kids[i]);
    return m;
}

/* Macro / call parameters: (a, b=default). */
static void params(parser *P, node *n) {
    nvec v = {0};
    if (is_op(peek(P), "(")) {
        next(P);
        while (!is_op(peek(P), ")")) {
            if (v.n) expect_op(P, ",");
            const tok *pt = peek(P);
            node *p = mk(P, N_KWARG, pt);
            p->name = expect_name(P);
            p->sym = tmpl_sym(P->t, p->name, strlen(p->name));
            if (is_op(peek(P), "=")) { next(P); p->a = expr(P); }
            nv_push(&v, p);
        }
        expect_op(P, ")");
    }
    set_kids(P, n, &v);
}

static node *stmt_macro(parser *P, const tok *at) {
    node *n = mk(P, N_MACRO, at);
    n->name = expect_name(P);
    n->sym = tmpl_sym(P->t, n->name, strlen(n->name));
    if (!is_op(peek(P), "(")) pfail(P, peek(P), "expected '('%s", NULL);
    params(P, n);
    expect_block_end(P);
    static const char *const end[] = {"endmacro", NULL};
    const char *which;
    n->a = body(P, end, &which);
    n->op = names_used(P->t, n->a);
    if (peek(P)->kind == T_NAME) next(P); /* {% endmacro name %} */
    expect_block_end(P);
    return n;
}

static node *stmt_call(parser *P, const tok *at) {
    node *n = mk(P, N_CALLBLOCK, at);
    n->name = "caller";
    params(P, n);
    n->b = expr(P);
    if (n->b->kind != N_CALL) pfail(P, at, "expected a call in {%% call %%}%s", NULL);
    expect_block_end(P);
    static const char *const end[] = {"endcall", NULL};
    const char *which;
    n->a = body(P, end, &which);
    n->op = names_used(P->t, n->a);
    expect_block_end(P);
    return n;
}

static node *stmt_simple_block(parser *P, const tok *at, nkind k, const char *endname) {
    node *n = mk(P, k, at);
    if (k == N_FILTERBLOCK) {
        n->name = expect_name(P);
        nvec v = {0};
        if (is_op(peek(P), "(")) call_args(P, &v);
        set_kids(P, n, &v);
    }
    expect_block_end(P);
    const char *const end[] = {endname, NULL};
    const char *which;
    n->a = body(P, end, &which);
    expect_block_end(P);
    return n;
}

static node *statement(parser *P) {
    const tok *at = peek(P);
    const char *nm = expect_name(P);
    if (!strcmp(nm, "if")) return stmt_if(P, at);
    if (!strcmp(nm, "for")) return stmt_for(P, at);
    if (!strcmp(nm, "set")) return stmt_set(P, at);
    if (!strcmp(nm, "macro")) return stmt_macro(P, at);
    if (!strcmp(nm, "call")) return stmt_call(P, at);
    if (!strcmp(nm, "generation")) return stmt_simple_block(P, at, N_GENERATION, "endgeneration");
    if (!strcmp(nm, "filter")) return stmt_simple_block(P, at, N_FILTERBLOCK, "endfilter");
    if (!strcmp(nm, "break") || !strcmp(nm, "continue")) {
        node *n = mk(P, nm[0] == 'b' ? N_BREAK : N_CONTINUE, at);
        expect_block_end(P);
        return n;
    }
    pfail(P, at, "Encountered unknown tag '%s'.", nm);
}

/* Statements until a block tag named in stops (consumed up to its name); *which = that name. */
static node *body(parser *P, const char *const *stops, const char **which) {
    node *b = mk(P, N_BODY, peek(P));
    nvec v = {0};
    enter(P);
    for (;;) {
        const tok *tk = peek(P);
        if (tk->kind == T_EOF) {
            if (stops) {
                char want[128] = "";
                for (size_t k = 0; stops[k]; k++)
                    snprintf(want + strlen(want), sizeof want - strlen(want), "%s'%s'", k ? " or " : "", stops[k]);
                pfail(P, tk, "unexpected end of template, expected %s", want);
            }
            break;
        }
        if (tk->kind == T_TEXT) {
            next(P);
            node *t = mk(P, N_TEXT, tk);
            t->lit = lit_new(P, TV_STR);
            t->lit->u.str.s = tk->s;
            t->lit->u.str.n = tk->n;
            nv_push(&v, t);
        } else if (tk->kind == T_VAR_BEGIN) {
            next(P);
            node *o = mk(P, N_OUT, tk);
            o->a = tuple_expr(P, true);
            if (peek(P)->kind != T_VAR_END) pfail(P, peek(P), "expected '}}'%s", NULL);
            next(P);
            nv_push(&v, o);
        } else if (tk->kind == T_BLOCK_BEGIN) {
            next(P);
            const tok *nt = peek(P);
            if (stops && nt->kind == T_NAME)
                for (size_t k = 0; stops[k]; k++)
                    if (!strcmp(nt->s, stops[k])) {
                        next(P);
                        *which = stops[k];
                        set_kids(P, b, &v);
                        P->nest--;
                        return b;
                    }
            nv_push(&v, statement(P));
        } else {
            pfail(P, tk, "unexpected token%s", NULL);
        }
    }
    set_kids(P, b, &v);
    P->nest--;
    return b;
}

nt_status tmpl_parse(tmpl *t, const char *src, size_t n, nt_err *err) {
    parser P = {.t = t, .err = err};
    nt_status st = tmpl_lex(t, src, n, &P.tl, err);
    if (st) {
        free(P.tl.toks);
        return st;
    }
    if (setjmp(P.jb)) {
        free(P.tl.toks);
        return err ? err->code : NT_EPARSE;
    }
    t->root = body(&P, NULL, NULL);
    free(P.tl.toks);
    return NT_OK;
}
