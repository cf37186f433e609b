/* Exact labels from one render: the template's byte provenance says which bytes belong to a
 * trained turn, the tokenizer's byte offsets say which tokens lie wholly inside them. The rule
 * is in docs/datasets.md. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "data/ds_chat.h"

/* End of the structural (role) text of msg that starts right at `end`: the turn terminator
 * region (</s>, <|im_end|>\n, <|eot_id|>). Returns end when there is none. */
static size_t terminator_end(const tmpl_output *o, int32_t msg, size_t end) {
    size_t k = 0;
    while (k < o->nspans && o->spans[k].end <= end) k++;
    size_t tend = end;
    for (; k < o->nspans && o->spans[k].start == tend; k++) {
        const tmpl_span *s = &o->spans[k];
        if (s->message != msg || s->source != TMPL_SRC_TEMPLATE || s->field != TMPL_F_ROLE) break;
        tend = s->end;
    }
    return tend;
}

/* Character (code point) index of every byte of a UTF-8 string. */
static size_t *char_index(const char *s, size_t n) {
    size_t *ci = nt_xmalloc((n + 1) * sizeof *ci), c = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && ((unsigned char)s[i] & 0xC0) != 0x80) c++;
        ci[i] = c;
    }
    return ci;
}

/* Is character c inside a train: true range (inclusive ends, as axolotl's)? Later entries win. */
static nt_status detail_trains(const val *detail, size_t c, int32_t msg, bool *out, nt_err *err) {
    *out = false;
    for (size_t i = 0; i < val_list_len(detail); i++) {
        const val *d = val_list_get(detail, i);
        const val *b = val_is(d, VAL_DICT) ? val_dict_get(d, "begin_offset") : NULL;
        const val *e = val_is(d, VAL_DICT) ? val_dict_get(d, "end_offset") : NULL;
        const val *t = val_is(d, VAL_DICT) ? val_dict_get(d, "train") : NULL;
        if (!val_is(b, VAL_INT) || !val_is(e, VAL_INT) || !val_is(t, VAL_BOOL))
            return nt_err_set(err, NT_EINVAL, "message %d: training detail %zu needs integer begin_offset, "
                              "end_offset and a boolean train", msg, i);
        if ((int64_t)c >= b->u.i && (int64_t)c <= e->u.i) *out = t->u.b;
    }
    return NT_OK;
}

/* Marks the bytes of msg's content that its training detail trains. Each content run of the
 * render is located in the content string (templates may strip or slice it). */
static nt_status mark_detail(const tmpl_output *o, int32_t msg, const val *m, const val *detail,
                             uint8_t *bits, nt_err *err) {
    const val *content = val_dict_get(m, "content");
    if (!val_is(content, VAL_STR))
        return nt_err_set(err, NT_EINVAL, "message %d: a training detail needs string content", msg);
    const char *cs = content->u.str.s;
    size_t cn = content->u.str.n, from = 0, *ci = char_index(cs, cn);
    nt_status st = NT_OK;
    for (size_t k = 0; k < o->nspans && !st; k++) {
        const tmpl_span *s = &o->spans[k];
        if (s->message != msg || s->source != TMPL_SRC_DATA || s->field != TMPL_F_CONTENT) continue;
        size_t len = s->end - s->start;
        const char *hit = len <= cn - from ? memmem(cs + from, cn - from, o->text + s->start, len) : NULL;
        if (!hit) { st = nt_err_set(err, NT_EINVAL, "message %d: rendered content not found in the message", msg); break; }
        size_t off = (size_t)(hit - cs);
        for (size_t b = 0; b < len && !st; b++) {
            bool on = false;
            st = detail_trains(detail, ci[off + b], msg, &on, err);
            bits[s->start + b] = on;
        }
        from = off + len;
    }
    free(ci);
    return st;
}

typedef struct {
    size_t start, end;
    bool eos, eot;  /* may an EOS / an EOT token here be trained */
    bool hit;       /* a token here was trained */
    bool train;     /* the turn trains */
    bool want;      /* train_on_eos/eot would train this turn's terminator */
} term_region;

static bool is_eot(const ds_chat *dc, int32_t id) {
    for (size_t i = 0; i < dc->neot; i++)
        if (dc->eot_ids[i] == id) return true;
    return false;
}

static bool mode_trains(ds_eos_mode m, bool turn_trained, bool is_last) {
    return m == DS_EOS_ALL || (m == DS_EOS_TURN && turn_trained) || (m == DS_EOS_LAST && is_last);
}

static bool terminator_trained(const ds_chat *dc, const term_region *r, int32_t id) {
    return (id == dc->eos_id && r->eos) || (is_eot(dc, id) && r->eot);
}

nt_status ds_chat_labels(const ds_chat *dc, const tmpl_output *o, const val *messages,
                         const ds_turn *turns, const tok_encoding *e, int32_t *labels,
                         uint32_t *unterminated, ds_drop *why, nt_err *err) {
    size_t nm = val_list_len(messages);
    uint8_t *bits = nt_xcalloc(o->len + 1, 1);
    term_region *regions = nt_xcalloc(nm + 1, sizeof *regions);
    size_t nreg = 0;
    nt_status st = NT_OK;
    for (size_t i = 0; i < nm && !st; i++) {
        size_t s = 0, end = 0;
        bool found = tmpl_turn_span(o, (int32_t)i, &s, &end);
        if (!found && turns[i].train) {
            const val *role = val_dict_get(val_list_get(messages, i), "role");
            *why = DS_DROP_SPAN;
            st = nt_err_set(err, NT_EINVAL, "message %zu (%s) should be trained but the render holds none of its "
                            "content", i, role->u.str.s);
            break;
        }
        if (!found) continue;
        if (turns[i].train && turns[i].detail) {
            *why = DS_DROP_ROW;
            st = mark_detail(o, (int32_t)i, val_list_get(messages, i), turns[i].detail, bits, err);
        } else if (turns[i].train) {
            memset(bits + s, 1, end - s);
        }
        size_t tend = terminator_end(o, (int32_t)i, end);
        if (tend > end) regions[nreg++] = (term_region){.start = end, .end = tend, .train = turns[i].train};
    }
    for (size_t r = 0; r < nreg; r++) {
        bool train = regions[r].train, last = r + 1 == nreg;
        regions[r].eos = mode_trains(dc->eos_mode, train, last);
        regions[r].eot = mode_trains(dc->eot_mode, train, last);
        regions[r].want = regions[r].eos || regions[r].eot;
    }
    for (size_t j = 0; j < e->n && !st; j++) {
        size_t a = e->offsets[j][0], b = e->offsets[j][1], k = a;
        while (k < b && bits[k]) k++;
        bool trained = b > a && k == b;
        for (size_t r = 0; r < nreg && !trained; r++)
            if (a >= regions[r].start && b <= regions[r].end && b > a &&
                terminator_trained(dc, &regions[r], e->ids[j]))
                trained = regions[r].hit = true;
        labels[j] = trained ? e->ids[j] : DS_IGNORE_INDEX;
    }
    /* a trained turn whose modes would train its terminator, but nothing there was trained */
    *unterminated = 0;
    for (size_t r = 0; r < nreg; r++) *unterminated += regions[r].train && regions[r].want && !regions[r].hit;
    free(bits);
    free(regions);
    return st;
}

static void sample_put(ds_sample *out, const tok_encoding *e, int32_t *labels, uint32_t unterminated) {
    out->unterminated = unterminated;
    if (out->cap < e->n) {
        out->cap = e->n;
        out->ids = nt_xrealloc(out->ids, out->cap * sizeof *out->ids);
        out->labels = nt_xrealloc(out->labels, out->cap * sizeof *out->labels);
    }
    memcpy(out->ids, e->ids, e->n * sizeof *e->ids);
    memcpy(out->labels, labels, e->n * sizeof *labels);
    out->n = e->n;
}

static nt_status render_tokens(const ds_chat *dc, const val *conv, tok_scratch *scratch,
                               tmpl_output *o, tok_encoding *e, ds_drop *why, nt_err *err) {
    val *ctx = NULL;
    *why = DS_DROP_ROW;
    nt_status st = tmpl_context(conv, dc->special, &ctx, err);
    if (st) return st;
    *why = DS_DROP_TEMPLATE;
    st = tmpl_render(dc->tmpl, ctx, NULL, o, err);
    val_unref(ctx);
    if (st) return nt_err_prefix(err, "template: ");
    st = tok_encode(dc->tok, o->text, o->len, &(tok_encode_opts){0}, scratch, e, err);
    return st ? nt_err_prefix(err, "tokenizer: ") : NT_OK;
}

nt_status ds_chat_encode(const ds_chat *dc, const val *row, tok_scratch *scratch, ds_sample *out,
                         ds_drop *why, nt_err *err) {
    val *conv = NULL;
    ds_turn *turns = NULL;
    size_t nturns = 0;
    *why = DS_DROP_ROW;
    nt_status st = ds_chat_conversation(dc, row, &conv, &turns, &nturns, err);
    if (st) return st;
    tmpl_output o = {0};
    tok_encoding e = {0};
    st = render_tokens(dc, conv, scratch, &o, &e, why, err);
    if (!st) {
        int32_t *labels = nt_xmalloc((e.n + 1) * sizeof *labels);
        uint32_t unterm = 0;
        st = ds_chat_labels(dc, &o, val_dict_get(conv, "messages"), turns, &e, labels, &unterm, why, err);
        if (!st) sample_put(out, &e, labels, unterm);
        free(labels);
    }
    tok_encoding_free(&e);
    tmpl_output_free(&o);
    free(turns);
    val_unref(conv);
    return st;
}
