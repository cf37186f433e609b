/* Runtime values of the template engine: arena, constructors, strings that carry per-byte
 * provenance, and conversion from the conversation's values. */
#include <stdlib.h>
#include <string.h>

#include "template/tmpl_int.h"

struct tmpl_chunk {
    tmpl_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_MIN 65536

void *tmpl_arena_alloc(tmpl_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (a->limit && (a->used + n > a->limit || n > a->limit)) {
        a->over = true;
        return NULL;
    }
    if (a->first && a->first_cap - a->first_used >= n) {
        void *p = a->first + a->first_used;
        a->first_used += n;
        a->used += n;
        return p;
    }
    tmpl_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        c = nt_xmalloc(sizeof *c + cap);
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->used += n;
    return p;
}

void tmpl_arena_free(tmpl_arena *a) {
    for (tmpl_chunk *c = a->head, *nx; c; c = nx) {
        nx = c->next;
        free(c);
    }
    a->head = NULL;
    a->used = 0;
}

void *rs_alloc_slow(rstate *rs, size_t n) {
    void *p = tmpl_arena_alloc(&rs->arena, n ? n : 1);
    if (!p) rs_fail(rs, NULL, NT_ELIMIT, "template render exceeds its memory limit (%zu bytes)",
                    rs->arena.limit);
    return p;
}

tv *tv_new(rstate *rs, tv_kind k) {
    tv *v = rs_alloc(rs, sizeof *v);
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)k;
    return v;
}

tv *tv_bool(rstate *rs, bool b, taint t) {
    if (!t && rs->v_true) return b ? rs->v_true : rs->v_false;
    tv *v = tv_new(rs, TV_BOOL);
    v->u.b = b;
    v->t = t;
    return v;
}

tv *tv_int(rstate *rs, int64_t i, taint t) {
    tv *v = tv_new(rs, TV_INT);
    v->u.i = i;
    v->t = t;
    return v;
}

tv *tv_float(rstate *rs, double f, taint t) {
    tv *v = tv_new(rs, TV_FLOAT);
    v->u.f = f;
    v->t = t;
    return v;
}

tv *tv_none(rstate *rs, taint t) {
    tv *v = tv_new(rs, TV_NONE);
    v->t = t;
    return v;
}

tv *tv_strn(rstate *rs, const char *s, size_t n, taint t) {
    tv *v = tv_new(rs, TV_STR);
    char *p = rs_alloc(rs, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    v->u.str.s = p;
    v->u.str.n = n;
    v->t = t;
    if (t && n) {
        v->u.str.one = (tspan){0, t};
        v->u.str.sp = &v->u.str.one;
        v->u.str.nsp = 1;
    }
    return v;
}

tv *tv_lit(rstate *rs, const char *s) {
    tv *v = tv_new(rs, TV_STR);
    v->u.str.s = s;
    v->u.str.n = strlen(s);
    return v;
}

tv *tv_list(rstate *rs, size_t n) {
    tv *v = tv_new(rs, TV_LIST);
    v->u.list.items = rs_alloc(rs, (n ? n : 1) * sizeof(tv *));
    v->u.list.n = n;
    return v;
}

tv *tv_dict(rstate *rs, size_t cap) {
    tv *v = tv_new(rs, TV_DICT);
    v->u.dict.cap = cap ? cap : 4;
    v->u.dict.e = rs_alloc(rs, v->u.dict.cap * sizeof(tkv));
    return v;
}

tv *tv_dict_getv(const tv *d, const tv *k) {
    if (k->kind == TV_STR) return tv_dict_get(d, k->u.str.s, k->u.str.n);
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (tv_eq(d->u.dict.e[i].k, k)) return d->u.dict.e[i].v;
    return NULL;
}

tv *tv_dict_get(const tv *d, const char *k, size_t n) {
    for (size_t i = 0; i < d->u.dict.n; i++) {
        const tv *key = d->u.dict.e[i].k;
        if (key->kind == TV_STR && key->u.str.n == n && (!n || key->u.str.s[0] == k[0]) &&
            !memcmp(key->u.str.s, k, n))
            return d->u.dict.e[i].v;
    }
    return NULL;
}

void tv_dict_put(rstate *rs, tv *d, tv *k, tv *v) {
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (tv_eq(d->u.dict.e[i].k, k)) {
            d->u.dict.e[i].v = v;
            return;
        }
    if (d->u.dict.n == d->u.dict.cap) {
        tkv *e = rs_alloc(rs, 2 * d->u.dict.cap * sizeof *e);
        memcpy(e, d->u.dict.e, d->u.dict.n * sizeof *e);
        d->u.dict.e = e;
        d->u.dict.cap *= 2;
    }
    d->u.dict.e[d->u.dict.n++] = (tkv){k, v};
}

tv *tv_retaint(rstate *rs, tv *v, taint t) {
    if (v->t == t) return v;
    tv *c = tv_new(rs, (tv_kind)v->kind);
    *c = *v;
    c->t = t;
    return c;
}

tv *tv_undef_hint(rstate *rs, const char *hint) {
    tv *u = tv_new(rs, TV_UNDEF);
    u->u.undef.hint = hint;
    return u;
}

tv *tv_undef(rstate *rs, const char *name, tv *obj, taint t) {
    tv *u = tv_new(rs, TV_UNDEF);
    u->u.undef.name = name;
    u->u.undef.obj = obj;
    u->t = t;
    return u;
}

/* ---- strings with provenance ---- */

/* Starts a run with taint t at byte off (runs are kept maximal and non-empty). */
static void sb_span(rstate *rs, sbuild *sb, size_t off, taint t) {
    if (sb->nsp) {
        tspan *last = &sb->sp[sb->nsp - 1];
        if (last->t == t) return;
        if (last->off == off) { /* the previous run is empty: replace it */
            sb->nsp--;
            if (sb->nsp && sb->sp[sb->nsp - 1].t == t) return;
        }
    }
    if (sb->nsp == sb->capsp) {
        size_t cap = sb->capsp ? 2 * sb->capsp : 4;
        tspan *sp = rs_alloc(rs, cap * sizeof *sp);
        if (sb->nsp) memcpy(sp, sb->sp, sb->nsp * sizeof *sp);
        sb->sp = sp;
        sb->capsp = cap;
    }
    sb->sp[sb->nsp++] = (tspan){(uint32_t)off, t};
}

static void sb_bytes(rstate *rs, sbuild *sb, const char *s, size_t n) {
    if (sb->len + n + 1 > sb->cap) {
        if (sb->len + n > UINT32_MAX) rs_fail(rs, NULL, NT_ELIMIT, "template string too large");
        size_t cap = sb->cap ? 2 * sb->cap : 64;
        while (cap < sb->len + n + 1) cap *= 2;
        char *d = rs_alloc(rs, cap);
        if (sb->len) memcpy(d, sb->data, sb->len);
        sb->data = d;
        sb->cap = cap;
    }
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
}

void sb_lit(rstate *rs, sbuild *sb, const char *s, size_t n, taint t) {
    if (!n) return;
    sb_span(rs, sb, sb->len, t);
    sb_bytes(rs, sb, s, n);
}

/* Appends bytes [from, to) of string s with their runs. */
void sb_add(rstate *rs, sbuild *sb, const tv *s, size_t from, size_t to) {
    if (to <= from) return;
    const tspan *sp = s->u.str.sp;
    uint32_t nsp = s->u.str.nsp;
    size_t base = sb->len;
    if (!nsp) sb_span(rs, sb, base, 0);
    for (uint32_t k = 0; k < nsp; k++) {
        size_t a = sp[k].off, e = k + 1 < nsp ? sp[k + 1].off : s->u.str.n;
        if (e <= from || a >= to) continue;
        sb_span(rs, sb, base + (a > from ? a - from : 0), sp[k].t);
    }
    sb_bytes(rs, sb, s->u.str.s + from, to - from);
}

tv *sb_finish(rstate *rs, sbuild *sb, taint t) {
    tv *v = tv_new(rs, TV_STR);
    if (!sb->data) sb_bytes(rs, sb, "", 0);
    sb->data[sb->len] = 0;
    v->u.str.s = sb->data;
    v->u.str.n = sb->len;
    v->t = t;
    if (sb->nsp && !(sb->nsp == 1 && !sb->sp[0].t)) {
        v->u.str.sp = sb->sp;
        v->u.str.nsp = (uint32_t)sb->nsp;
    }
    memset(sb, 0, sizeof *sb);
    return v;
}

tv *tv_concat(rstate *rs, tv *a, tv *b) {
    if (!b->u.str.n && a->t == taint_join(a->t, b->t)) return a;
    if (!a->u.str.n && b->t == taint_join(a->t, b->t)) return b;
    sbuild sb = {0};
    sb_add(rs, &sb, a, 0, a->u.str.n);
    sb_add(rs, &sb, b, 0, b->u.str.n);
    return sb_finish(rs, &sb, taint_join(a->t, b->t));
}

tv *tv_substr(rstate *rs, tv *s, size_t from, size_t to) {
    if (from == 0 && to == s->u.str.n) return s;
    sbuild sb = {0};
    sb_add(rs, &sb, s, from, to);
    return sb_finish(rs, &sb, s->t);
}

/* ---- UTF-8 ---- */

size_t utf8_len(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

size_t utf8_offset(const char *s, size_t n, size_t cp) {
    size_t k = 0, i = 0;
    for (; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (k == cp) return i;
            k++;
        }
    }
    return n;
}

/* ---- conversion from the conversation's values ---- */

int tmpl_field_of_key(const char *k, size_t n) {
    switch (n) {
    case 4: return !memcmp(k, "role", 4) ? TMPL_F_ROLE : TMPL_F_OTHER;
    case 7: return !memcmp(k, "content", 7) ? TMPL_F_CONTENT : TMPL_F_OTHER;
    case 8: return !memcmp(k, "thinking", 8) ? TMPL_F_THINKING : TMPL_F_OTHER;
    case 9: return !memcmp(k, "reasoning", 9) ? TMPL_F_REASONING : TMPL_F_OTHER;
    case 10: return !memcmp(k, "tool_calls", 10) ? TMPL_F_TOOL_CALLS : TMPL_F_OTHER;
    case 17: return !memcmp(k, "reasoning_content", 17) ? TMPL_F_REASONING : TMPL_F_OTHER;
    default: return TMPL_F_OTHER;
    }
}

/* A content chunk {"type": "thinking", ...} is thinking, whatever key holds it. */
static int field_of_chunk(const val *v, int field) {
    if (field != TMPL_F_CONTENT || !val_is(v, VAL_DICT)) return field;
    const val *ty = val_dict_get(v, "type");
    return val_is(ty, VAL_STR) && !strcmp(ty->u.str.s, "thinking") ? TMPL_F_THINKING : field;
}

static tv *from_val(rstate *rs, const val *v, int msg, int field, int depth);

tv *tv_from_val(rstate *rs, const val *v, int msg, int field, int depth) {
    tv *r = from_val(rs, v, msg, field, depth);
    r->orig = v;
    return r;
}

static tv *from_val(rstate *rs, const val *v, int msg, int field, int depth) {
    taint t = field == TMPL_F_NONE ? 0 : TAINT(msg, field);
    if (depth > JSON_DEPTH_GUARD) rs_fail(rs, NULL, NT_ELIMIT, "context nested too deeply");
    switch (v ? v->kind : VAL_NULL) {
    case VAL_NULL: return tv_none(rs, t);
    case VAL_BOOL: return tv_bool(rs, v->u.b, t);
    case VAL_INT: return tv_int(rs, v->u.i, t);
    case VAL_FLOAT: return tv_float(rs, v->u.f, t);
    case VAL_STR: { /* the conversation outlives the render: no copy */
        tv *r = tv_new(rs, TV_STR);
        r->u.str.s = v->u.str.s;
        r->u.str.n = v->u.str.n;
        r->t = t;
        if (t && v->u.str.n) {
            r->u.str.one = (tspan){0, t};
            r->u.str.sp = &r->u.str.one;
            r->u.str.nsp = 1;
        }
        return r;
    }
    case VAL_LIST: {
        tv *l = tv_list(rs, val_list_len(v));
        l->t = t;
        for (size_t i = 0; i < val_list_len(v); i++) {
            const val *it = val_list_get(v, i);
            l->u.list.items[i] = tv_from_val(rs, it, msg, field_of_chunk(it, field), depth + 1);
        }
        return l;
    }
    case VAL_DICT: {
        tv *d = tv_dict(rs, val_dict_len(v));
        d->t = t;
        tv *keys = rs_alloc(rs, (val_dict_len(v) + 1) * sizeof(tv)); /* one block for the keys */
        memset(keys, 0, val_dict_len(v) * sizeof(tv));
        for (size_t i = 0; i < val_dict_len(v); i++) {
            const val_entry *e = val_dict_entry(v, i);
            int f = field == TMPL_F_MESSAGE ? tmpl_field_of_key(e->key->u.str.s, e->key->u.str.n) : field;
            tv *k = &keys[i];
            k->kind = TV_STR;
            k->u.str.s = e->key->u.str.s;
            k->u.str.n = e->key->u.str.n;
            d->u.dict.e[i].k = k;
            d->u.dict.e[i].v = tv_from_val(rs, e->value, msg, field_of_chunk(e->value, f),
                                           depth + 1);
        }
        d->u.dict.n = val_dict_len(v);
        return d;
    }
    }
    return tv_none(rs, t);
}

/* markupsafe.escape: & < > " ' become entities; each entity keeps its byte's provenance. */
tv *tv_escape(rstate *rs, tv *s) {
    const char *p = s->u.str.s;
    size_t n = s->u.str.n, k = 0;
    if (!memchr(p, '&', n) && !memchr(p, '<', n) && !memchr(p, '>', n) && !memchr(p, '"', n) &&
        !memchr(p, '\'', n))
        return s;
    sbuild sb = {0};
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ent = p[i] == '&' ? "&amp;" : p[i] == '<' ? "&lt;" : p[i] == '>' ? "&gt;"
                        : p[i] == '"' ? "&#34;" : p[i] == '\'' ? "&#39;" : NULL;
        if (!ent) continue;
        sb_add(rs, &sb, s, from, i);
        while (k + 1 < s->u.str.nsp && s->u.str.sp[k + 1].off <= i) k++;
        sb_lit(rs, &sb, ent, strlen(ent), s->u.str.nsp ? s->u.str.sp[k].t : 0);
        from = i + 1;
    }
    sb_add(rs, &sb, s, from, n);
    return sb_finish(rs, &sb, s->t);
}
