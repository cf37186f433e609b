/* Compile and render entry points: source normalization, names, the render context and the
 * conversion of output runs into provenance spans. */
#include <stdlib.h>
#include <string.h>

#include "template/tmpl_int.h"

#define DEFAULT_MAX_OUTPUT ((size_t)16 << 20)
#define DEFAULT_MAX_MEMORY ((size_t)256 << 20)
#define DEFAULT_MAX_STEPS 2000000u
#define DEFAULT_MAX_DEPTH 64
#define HARD_MAX_DEPTH 256

const char *tmpl_field_name(int field) {
    static const char *const names[] = {"none", "role", "content", "thinking", "reasoning",
                                        "tool_calls", "other", "message", "tools", "documents"};
    return field >= 0 && field < TMPL_F_COUNT ? names[field] : "none";
}

int tmpl_sym_find(const tmpl *t, const char *s, size_t n) {
    for (size_t i = 0; i < t->syms.n; i++)
        if (t->syms.lens[i] == n && t->syms.names[i][0] == s[0] && !memcmp(t->syms.names[i], s, n))
            return (int)i;
    return -1;
}

int tmpl_sym(tmpl *t, const char *s, size_t n) {
    int k = tmpl_sym_find(t, s, n);
    if (k >= 0) return k;
    if (t->syms.n == t->syms.cap) {
        t->syms.cap = t->syms.cap ? 2 * t->syms.cap : 32;
        t->syms.names = nt_xrealloc(t->syms.names, t->syms.cap * sizeof(char *));
        t->syms.lens = nt_xrealloc(t->syms.lens, t->syms.cap * sizeof(size_t));
    }
    t->syms.lens[t->syms.n] = n;
    char *p = tmpl_arena_alloc(&t->arena, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    t->syms.names[t->syms.n] = p;
    return (int)t->syms.n++;
}

/* Jinja2 reads \r\n and \r as \n and drops one final newline (keep_trailing_newline=False). */
static char *normalize(const char *src, size_t n, size_t *out_n) {
    char *s = nt_xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            s[k++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n') i++;
        } else {
            s[k++] = src[i];
        }
    }
    if (k && s[k - 1] == '\n') k--;
    s[k] = 0;
    *out_n = k;
    return s;
}

nt_status tmpl_compile(const char *src, size_t n, const char *name, tmpl **out, nt_err *err) {
    tmpl *t = nt_xcalloc(1, sizeof *t);
    t->name = nt_xstrdup(name ? name : "template");
    t->sym_loop = tmpl_sym(t, "loop", 4);
    t->sym_caller = tmpl_sym(t, "caller", 6);
    t->sym_varargs = tmpl_sym(t, "varargs", 7);
    t->sym_kwargs = tmpl_sym(t, "kwargs", 6);
    size_t len;
    char *s = normalize(src, n, &len);
    nt_status st = tmpl_parse(t, s, len, err);
    free(s);
    if (st) {
        tmpl_free(t);
        return st;
    }
    *out = t;
    return NT_OK;
}

void tmpl_free(tmpl *t) {
    if (!t) return;
    tmpl_arena_free(&t->arena);
    free(t->syms.names);
    free(t->syms.lens);
    free(t->name);
    free(t);
}

/* Context variables: messages get per-message provenance, tools/documents theirs. */
static void bind_context(rstate *rs, const val *ctx) {
    for (size_t i = 0; ctx && i < val_dict_len(ctx); i++) {
        const val_entry *e = val_dict_entry(ctx, i);
        int sym = tmpl_sym_find(rs->t, e->key->u.str.s, e->key->u.str.n);
        if (sym < 0) continue; /* the template never names it */
        const char *k = e->key->u.str.s;
        tv *v;
        if (!strcmp(k, "messages") && val_is(e->value, VAL_LIST)) {
            v = tv_list(rs, val_list_len(e->value));
            for (size_t m = 0; m < val_list_len(e->value); m++)
                v->u.list.items[m] = tv_from_val(rs, val_list_get(e->value, m), (int)m, TMPL_F_MESSAGE, 0);
        } else if (!strcmp(k, "tools")) {
            v = tv_from_val(rs, e->value, -1, TMPL_F_TOOLS, 0);
        } else if (!strcmp(k, "documents")) {
            v = tv_from_val(rs, e->value, -1, TMPL_F_DOCUMENTS, 0);
        } else {
            v = tv_from_val(rs, e->value, -1, TMPL_F_NONE, 0);
        }
        frame_set(rs, rs->globals, sym, v);
    }
}

static void add_span(tmpl_output *o, size_t *cap, size_t a, size_t e, taint t) {
    tmpl_span s = {.start = a, .end = e};
    if (t & TAINT_TEMPLATE) {
        s.source = TMPL_SRC_TEMPLATE;
        s.message = TAINT_MSG(t) >= 0 ? TAINT_MSG(t) : -1;
        s.field = (uint8_t)(s.message >= 0 ? TAINT_FIELD(t) : TMPL_F_NONE);
    } else {
        s.source = TMPL_SRC_DATA;
        s.message = TAINT_MSG(t) >= 0 ? TAINT_MSG(t) : -1;
        s.field = (uint8_t)TAINT_FIELD(t);
    }
    if (o->nspans) {
        tmpl_span *p = &o->spans[o->nspans - 1];
        if (p->message == s.message && p->source == s.source && p->field == s.field) {
            p->end = e;
            return;
        }
    }
    if (o->nspans == *cap) o->spans = nt_xrealloc(o->spans, (*cap = *cap ? 2 * *cap : 16) * sizeof s);
    o->spans[o->nspans++] = s;
}

static void finish_output(rstate *rs, tmpl_output *o) {
    sbuild *sb = &rs->main;
    o->len = sb->len;
    o->text = nt_xmalloc(sb->len + 1);
    if (sb->len) memcpy(o->text, sb->data, sb->len);
    o->text[sb->len] = 0;
    size_t cap = 0;
    for (size_t k = 0; k < sb->nsp; k++) {
        size_t a = sb->sp[k].off, e = k + 1 < sb->nsp ? sb->sp[k + 1].off : sb->len;
        if (e > a) add_span(o, &cap, a, e, sb->sp[k].t ? sb->sp[k].t : TAINT_TEMPLATE);
    }
    o->generation = rs->gen;
    o->ngeneration = rs->ngen;
    rs->gen = NULL;
}

#define STACK_ARENA 32768

/* The render state and the first 32 KiB of scratch live on the stack: a typical chat render
 * then allocates nothing but its result. */
static nt_status render(rstate *rs, const val *ctx, tmpl_output *out) {
    if (setjmp(rs->jb)) return rs->status ? rs->status : NT_EINVAL;
    rs->v_true = tv_new(rs, TV_BOOL);
    rs->v_true->u.b = true;
    rs->v_false = tv_new(rs, TV_BOOL);
    rs->globals = rs_alloc(rs, sizeof(frame));
    memset(rs->globals, 0, sizeof(frame));
    rs->globals->direct = rs_alloc(rs, (rs->t->syms.n + 1) * sizeof(tv *));
    memset(rs->globals->direct, 0, (rs->t->syms.n + 1) * sizeof(tv *));
    rs->cur = rs->globals;
    bind_context(rs, ctx);
    exec_body(rs, rs->t->root);
    finish_output(rs, out);
    return NT_OK;
}

nt_status tmpl_render(const tmpl *t, const val *ctx, const tmpl_opts *o, tmpl_output *out,
                      nt_err *err) {
    memset(out, 0, sizeof *out);
    if (ctx && !val_is(ctx, VAL_DICT))
        return nt_err_set(err, NT_EINVAL, "template context must be a dict, got %s", val_kind_name(ctx->kind));
    _Alignas(16) unsigned char first[STACK_ARENA];
    rstate rs_;
    rstate *rs = &rs_;
    memset(rs, 0, sizeof *rs);
    rs->t = t;
    rs->err = err;
    rs->max_output = o && o->max_output ? o->max_output : DEFAULT_MAX_OUTPUT;
    rs->arena.limit = o && o->max_memory ? o->max_memory : DEFAULT_MAX_MEMORY;
    rs->arena.first = first;
    rs->arena.first_cap = sizeof first;
    rs->max_steps = o && o->max_steps ? o->max_steps : DEFAULT_MAX_STEPS;
    rs->max_depth = o && o->max_depth ? o->max_depth : DEFAULT_MAX_DEPTH;
    if (rs->max_depth > HARD_MAX_DEPTH) rs->max_depth = HARD_MAX_DEPTH;
    rs->now = o ? o->now : NULL;
    rs->sink = &rs->main;
    nt_status st = render(rs, ctx, out);
    free(rs->gen);
    tmpl_arena_free(&rs->arena);
    return st;
}

void tmpl_output_free(tmpl_output *o) {
    free(o->text);
    free(o->spans);
    free(o->generation);
    memset(o, 0, sizeof *o);
}
