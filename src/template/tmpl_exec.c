/* Statement execution and output with provenance: text and {{ }} output, if/for/set/macro/
 * call/generation, loop controls, and the attribution of template text to messages. */
#include <stdio.h>
#include <string.h>

#include "template/tmpl_int.h"

/* Who template text written now is on behalf of: the innermost control decision that
 * depended on a message (its field), else the message the written value came from. */
static taint attribute(const rstate *rs, taint vt) {
    taint c = rs->ctl;
    if (c && TAINT_MSG(c) >= 0) {
        int f = TAINT_FIELD(c) == TMPL_F_MESSAGE ? TMPL_F_ROLE : TAINT_FIELD(c);
        return TAINT(TAINT_MSG(c), f) | TAINT_TEMPLATE;
    }
    if (vt && TAINT_MSG(vt) >= 0) return TAINT(TAINT_MSG(vt), TMPL_F_ROLE) | TAINT_TEMPLATE;
    return TAINT_TEMPLATE; /* message -2 + 2 = 0: no message */
}

void emit(rstate *rs, const tv *s, taint vt) {
    sbuild *sb = rs->sink;
    size_t n = s->u.str.n;
    if (!n) return;
    if (sb->len + n > rs->max_output)
        rs_fail(rs, NULL, NT_ELIMIT, "template output exceeds %zu bytes", rs->max_output);
    taint tmpl_t = attribute(rs, vt);
    if (!s->u.str.nsp) {
        sb_lit(rs, sb, s->u.str.s, n, tmpl_t);
        return;
    }
    for (uint32_t k = 0; k < s->u.str.nsp; k++) {
        size_t a = s->u.str.sp[k].off, e = k + 1 < s->u.str.nsp ? s->u.str.sp[k + 1].off : n;
        taint t = s->u.str.sp[k].t;
        sb_lit(rs, sb, s->u.str.s + a, e - a, t ? t : tmpl_t);
    }
}

/* Renders body into a string (macro results, block set, filter blocks). */
tv *capture(rstate *rs, const node *body) {
    sbuild sb = {0}, *saved = rs->sink;
    rs->sink = &sb;
    rs->depth++;
    exec_body(rs, body);
    rs->depth--;
    rs->sink = saved;
    return sb_finish(rs, &sb, 0);
}

/* ---- statements ---- */

/* The control context inside a branch decided by a value with provenance c: c, unless the
 * text is already being written for another message (a template that looks at the next or
 * previous message while writing this one keeps writing for this one). */
static taint narrow(taint ctl, taint c) {
    if (!c || TAINT_MSG(c) < 0) return ctl;
    if (ctl && TAINT_MSG(ctl) >= 0 && TAINT_MSG(ctl) != TAINT_MSG(c)) return ctl;
    return c;
}

static void exec_if(rstate *rs, const node *n) {
    for (;;) {
        taint ct;
        bool c = eval_cond(rs, n->a, &ct);
        taint saved = rs->ctl;
        rs->ctl = narrow(saved, ct);
        const node *branch = c ? n->b : n->c;
        if (branch && branch->kind == N_IF && !c) { /* elif: keep the decision */
            n = branch;
            exec_if(rs, n);
            rs->ctl = saved;
            return;
        }
        if (branch) exec_body(rs, branch);
        rs->ctl = saved;
        return;
    }
}

static void bind_target(rstate *rs, frame *f, const node *tg, tv *v) {
    if (tg->kind == N_NAME) {
        frame_set(rs, f, tg->sym, v);
        return;
    }
    tv *items = v->kind == TV_LIST ? v : tv_iterable(rs, tg, v);
    if (items->u.list.n != tg->nkids)
        rs_fail(rs, tg, NT_EINVAL, "%s values to unpack (expected %zu, got %zu)",
                items->u.list.n > tg->nkids ? "too many" : "not enough", tg->nkids,
                items->u.list.n);
    for (size_t i = 0; i < tg->nkids; i++) frame_set(rs, f, tg->kids[i]->sym, items->u.list.items[i]);
}

/* The loop filter (`for x in xs if cond`) runs before the loop, so loop.length counts only
 * the items that pass it. */
static tv *loop_filter(rstate *rs, const node *n, tv *items) {
    tv *kept = tv_list(rs, items->u.list.n);
    kept->t = items->t;
    size_t k = 0;
    frame f = {.up = rs->cur};
    frame *saved = rs->cur;
    rs->cur = &f;
    for (size_t i = 0; i < items->u.list.n; i++) {
        rs_step(rs, n);
        f.n = 0;
        bind_target(rs, &f, n->a, items->u.list.items[i]);
        if (tv_truthy(eval(rs, n->c))) kept->u.list.items[k++] = items->u.list.items[i];
    }
    rs->cur = saved;
    kept->u.list.n = k;
    return kept;
}

static void exec_for(rstate *rs, const node *n) {
    tv *seq = eval(rs, n->b);
    tv *items = tv_iterable(rs, n, seq);
    if (n->c) items = loop_filter(rs, n, items);
    tloop L = {.items = items->u.list.items, .n = items->u.list.n, .depth = 1};
    tv *lv = tv_new(rs, TV_LOOP);
    lv->u.loop = &L;
    frame *saved = rs->cur;
    taint saved_ctl = rs->ctl;
    taint seq_t = seq->t && TAINT_MSG(seq->t) >= 0 ? seq->t : 0;
    if (++rs->depth > rs->max_depth) rs_fail(rs, n, NT_ELIMIT, "loops nested too deeply");
    /* Jinja2 clears its "else" flag at the end of the body, so the else block also runs when
     * every iteration ended in {% continue %} or the first in {% break %} */
    bool completed = false;
    for (L.i = 0; L.i < L.n; L.i++) {
        rs_step(rs, n);
        tv *item = items->u.list.items[L.i];
        frame *f = rs_alloc(rs, sizeof *f);
        memset(f, 0, sizeof *f);
        f->up = saved;
        bind_target(rs, f, n->a, item);
        frame_set(rs, f, rs->t->sym_loop, lv);
        rs->cur = f;
        /* iterating over messages: each one in turn; over a field (tool calls, chunks): it */
        rs->ctl = narrow(saved_ctl, item->t && TAINT_FIELD(item->t) == TMPL_F_MESSAGE ? item->t : seq_t);
        exec_body(rs, n->kids[0]);
        rs->cur = saved;
        rs->ctl = saved_ctl;
        int brk = rs->brk;
        rs->brk = 0;
        if (!brk) completed = true;
        if (brk == 1) break;
    }
    rs->depth--;
    if (!completed && n->kids[1]) exec_body(rs, n->kids[1]);
}

static void exec_setattr(rstate *rs, const node *n) {
    tv *ns = frame_get(rs, rs->cur, n->sym);
    tv *v = eval(rs, n->a);
    if (!ns || ns->kind != TV_NS)
        rs_fail(rs, n, NT_EINVAL, "cannot assign attribute on non-namespace object");
    tv_dict_put(rs, ns, tv_lit(rs, n->name), v);
}

static void exec_macro_def(rstate *rs, const node *n) {
    tv *m = tv_new(rs, TV_MACRO);
    m->u.macro.def = n;
    m->u.macro.scope = rs->cur;
    frame_set(rs, rs->cur, n->sym, m);
}

static void exec_callblock(rstate *rs, const node *n) {
    tv *caller = tv_new(rs, TV_MACRO);
    caller->u.macro.def = n;
    caller->u.macro.scope = rs->cur;
    const node *c = n->b;
    tv *fn = eval(rs, c->a);
    tv **args = rs_alloc(rs, (c->nkids + 1) * sizeof(tv *));
    tv **kwv = rs_alloc(rs, (c->nkids + 1) * sizeof(tv *));
    const char **kwn = rs_alloc(rs, (c->nkids + 1) * sizeof(char *));
    size_t na = 0, nk = 0;
    for (size_t i = 0; i < c->nkids; i++) {
        if (c->kids[i]->kind == N_KWARG) {
            kwn[nk] = c->kids[i]->name;
            kwv[nk++] = eval(rs, c->kids[i]->a);
        } else {
            args[na++] = eval(rs, c->kids[i]);
        }
    }
    if (fn->kind != TV_MACRO) rs_fail(rs, n, NT_EINVAL, "{%% call %%} needs a macro");
    tv *out = call_macro(rs, n, fn, args, na, kwn, kwv, nk, caller);
    emit(rs, out, 0);
}

static void exec_setblock(rstate *rs, const node *n) {
    tv *v = capture(rs, n->b);
    for (size_t i = 0; i < n->nkids; i++) {
        const node *f = n->kids[i];
        tv **args = rs_alloc(rs, (f->nkids + 1) * sizeof(tv *));
        for (size_t k = 0; k < f->nkids; k++) args[k] = eval(rs, f->kids[k]);
        v = apply_filter(rs, f, f->name, v, args, f->nkids, NULL, NULL, 0);
    }
    frame_set(rs, rs->cur, n->a->sym, v);
}

static void exec_generation(rstate *rs, const node *n) {
    bool top = rs->sink == &rs->main;
    size_t start = rs->sink->len;
    exec_body(rs, n->a);
    if (!top) return;
    if (rs->ngen == rs->capgen)
        rs->gen = nt_xrealloc(rs->gen, (rs->capgen = rs->capgen ? 2 * rs->capgen : 8) * sizeof *rs->gen);
    rs->gen[rs->ngen][0] = start;
    rs->gen[rs->ngen][1] = rs->sink->len;
    rs->ngen++;
}

static void exec_stmt(rstate *rs, const node *n) {
    switch (n->kind) {
    case N_TEXT: emit(rs, n->lit, 0); return;
    case N_OUT: {
        tv *v = eval(rs, n->a);
        emit(rs, tv_to_str(rs, n, v), v->t);
        return;
    }
    case N_IF: exec_if(rs, n); return;
    case N_FOR: exec_for(rs, n); return;
    case N_SET: bind_target(rs, rs->cur, n->a, eval(rs, n->b)); return;
    case N_SETATTR: exec_setattr(rs, n); return;
    case N_SETBLOCK: exec_setblock(rs, n); return;
    case N_MACRO: exec_macro_def(rs, n); return;
    case N_CALLBLOCK: exec_callblock(rs, n); return;
    case N_BREAK: rs->brk = 1; return;
    case N_CONTINUE: rs->brk = 2; return;
    case N_GENERATION: exec_generation(rs, n); return;
    case N_FILTERBLOCK: {
        tv *v = capture(rs, n->a);
        tv **args = rs_alloc(rs, (n->nkids + 1) * sizeof(tv *));
        for (size_t k = 0; k < n->nkids; k++) args[k] = eval(rs, n->kids[k]);
        tv *r = apply_filter(rs, n, n->name, v, args, n->nkids, NULL, NULL, 0);
        /* Jinja2 joins the filter's result as a one-item sequence of strings */
        if (r->kind != TV_STR)
            rs_fail(rs, n, NT_EINVAL, "sequence item 0: expected str instance, %s found", tv_type_name(r));
        emit(rs, r, 0);
        return;
    }
    default: rs_fail(rs, n, NT_EINVAL, "not a statement");
    }
}

void exec_body(rstate *rs, const node *body) {
    rs_enter(rs, body);
    for (size_t i = 0; i < body->nkids && !rs->brk; i++) exec_stmt(rs, body->kids[i]);
    rs->cdepth--;
}

/* ---- macros ---- */

/* Jinja2's TypeError for a bad macro call: "macro <repr of its name> <what>", the name None
 * for a {% call %} body; what takes the string s or the number k. */
_Noreturn static void macro_fail(rstate *rs, const node *at, const node *def, const char *what,
                                 const char *s, size_t k) {
    char name[200], msg[400];
    snprintf(name, sizeof name, def->kind == N_CALLBLOCK ? "None" : "'%.190s'", def->name);
    if (s) snprintf(msg, sizeof msg, what, s);
    else snprintf(msg, sizeof msg, what, k);
    rs_fail(rs, at, NT_EINVAL, "macro %s %s", name, msg);
}

tv *call_macro(rstate *rs, const node *at, tv *m, tv **args, size_t nargs, const char **kwn,
               tv **kwv, size_t nkw, tv *caller) {
    const node *def = m->u.macro.def;
    rs_step(rs, at);
    if (rs->depth + 1 > rs->max_depth)
        rs_fail(rs, at, NT_ELIMIT, "macro calls nested deeper than %d", rs->max_depth);
    frame *f = rs_alloc(rs, sizeof *f);
    memset(f, 0, sizeof *f);
    f->up = m->u.macro.scope;
    frame *saved = rs->cur;
    rs->cur = f;
    size_t np = def->nkids;
    tv *varargs = tv_list(rs, nargs > np ? nargs - np : 0);
    varargs->tup = true;
    for (size_t i = 0; i < nargs; i++) {
        if (i < np) frame_set(rs, f, def->kids[i]->sym, args[i]);
        else varargs->u.list.items[i - np] = args[i];
    }
    tv *kwargs = tv_dict(rs, nkw + 1);
    if (caller && !(def->op & (MACRO_USES_CALLER | MACRO_USES_KWARGS)))
        macro_fail(rs, at, def, "was invoked with two values for the special caller argument. "
                   "This is most likely a bug.", NULL, 0);
    for (size_t k = 0; k < nkw; k++) {
        size_t i = 0;
        while (i < np && strcmp(def->kids[i]->name, kwn[k])) i++;
        if (i < np && i >= nargs) {
            frame_set(rs, f, def->kids[i]->sym, kwv[k]);
            continue;
        }
        if (!(def->op & MACRO_USES_KWARGS)) macro_fail(rs, at, def, "takes no keyword argument '%s'", kwn[k], 0);
        tv_dict_put(rs, kwargs, tv_lit(rs, kwn[k]), kwv[k]);
    }
    if (nargs > np && !(def->op & MACRO_USES_VARARGS))
        macro_fail(rs, at, def, "takes not more than %zu argument(s)", NULL, np);
    for (size_t i = nargs; i < np; i++) {
        const node *p = def->kids[i];
        bool bound = false;
        for (size_t k = 0; k < f->n; k++) bound |= f->vars[k].sym == p->sym;
        if (bound) continue;
        frame_set(rs, f, p->sym, p->a ? eval(rs, p->a) : tv_undef(rs, p->name, NULL, 0));
    }
    frame_set(rs, f, rs->t->sym_varargs, varargs);
    frame_set(rs, f, rs->t->sym_kwargs, kwargs);
    if (caller) frame_set(rs, f, rs->t->sym_caller, caller);
    const node *body = def->a;
    int brk = rs->brk;
    tv *out = capture(rs, body);
    rs->brk = brk;
    rs->cur = saved;
    return out; /* autoescape is off: a macro returns a plain str, not Markup */
}
