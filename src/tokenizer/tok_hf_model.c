/* The BPE model and added tokens of a tokenizer.json: vocabulary strings are GPT-2 byte-level
 * text, decoded to bytes for the table; merges get their index as priority. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define MAX_IDS 16000000u

/* Ids of the added tokens as HF assigns them when it loads a file: the "id" field is not used
 * (HF only warns when it differs); a content that is already a token (added earlier, or a key
 * of the model vocabulary) keeps that id, any other gets the next free id. */
static nt_status added_ids(const val *vocab, const val *added, uint32_t **ids_out, nt_err *err) {
    size_t n = val_is(added, VAL_LIST) ? val_list_len(added) : 0;
    uint32_t *ids = nt_xmalloc((n ? n : 1) * sizeof *ids);
    int64_t max_added = -1, vocab_len = (int64_t)val_dict_len(vocab);
    val *seen = val_dict(); /* content -> id of the added tokens so far */
    for (size_t i = 0; i < n; i++) {
        const val *e = val_list_get(added, i);
        const val *c = val_is(e, VAL_DICT) ? val_dict_get(e, "content") : NULL;
        nt_status st = NT_OK;
        int64_t id = -1;
        if (!val_is(c, VAL_STR)) {
            st = nt_err_set(err, NT_EINVAL, "added_tokens[%zu].content: not a string", i);
        } else {
            const val *prev = val_dict_getn(seen, c->u.str.s, c->u.str.n);
            const val *v = prev ? prev : val_dict_getn(vocab, c->u.str.s, c->u.str.n);
            if (val_is(v, VAL_INT) && v->u.i >= 0) id = v->u.i;
            if (id < 0) id = max_added < 0 ? vocab_len : max_added >= vocab_len ? max_added + 1 : vocab_len;
            if (id >= MAX_IDS) st = nt_err_set(err, NT_ELIMIT, "added_tokens[%zu]: id %lld beyond %u", i, (long long)id, MAX_IDS);
        }
        if (st) {
            free(ids);
            val_unref(seen);
            return st;
        }
        if (id > max_added) max_added = id;
        ids[i] = (uint32_t)id;
        val_dict_setn(seen, c->u.str.s, c->u.str.n, val_int(id));
    }
    val_unref(seen);
    *ids_out = ids;
    return NT_OK;
}

static nt_status max_id(const val *vocab, const uint32_t *ids, size_t n_added, uint32_t *n, nt_err *err) {
    int64_t mx = -1;
    for (size_t i = 0; i < val_dict_len(vocab); i++) {
        const val *v = val_dict_entry(vocab, i)->value;
        if (!val_is(v, VAL_INT) || v->u.i < 0 || v->u.i >= MAX_IDS)
            return nt_err_set(err, NT_EINVAL, "model.vocab['%s']: id must be an integer in [0, %u)",
                              val_dict_entry(vocab, i)->key->u.str.s, MAX_IDS);
        if (v->u.i > mx) mx = v->u.i;
    }
    for (size_t i = 0; i < n_added; i++)
        if (ids[i] > mx) mx = ids[i];
    *n = (uint32_t)(mx + 1);
    return NT_OK;
}

static nt_status load_vocab(tok_tokenizer *t, const val *vocab, nt_err *err) {
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < val_dict_len(vocab); i++) {
        const val_entry *e = val_dict_entry(vocab, i);
        size_t n = e->key->u.str.n, k;
        if (n > cap) buf = nt_xrealloc(buf, cap = n * 2);
        bool ok = tok_bytelevel_decode(e->key->u.str.s, n, buf, &k);
        if (!tok_set_bytes(t, (uint32_t)e->value->u.i, ok ? buf : (const uint8_t *)e->key->u.str.s,
                           ok ? k : n, ok ? 1 : 2)) {
            free(buf);
            return nt_err_set(err, NT_EINVAL, "model.vocab['%s']: id %lld used twice", e->key->u.str.s,
                              (long long)e->value->u.i);
        }
    }
    free(buf);
    uint32_t dup;
    if (!tok_finish_table(t, &dup)) return nt_err_set(err, NT_EINVAL, "model.vocab: id %u duplicates a token", dup);
    return NT_OK;
}

/* Vocabulary id of a byte-level string, TOK_NONE when absent. */
static uint32_t lookup(const tok_tokenizer *t, const char *s, size_t n, uint8_t *buf) {
    size_t k;
    if (!tok_bytelevel_decode(s, n, buf, &k)) return TOK_NONE;
    return tok_strmap_get(&t->vocab, t, buf, k);
}

static nt_status load_merges(tok_tokenizer *t, const val *merges, nt_err *err) {
    size_t n = val_is(merges, VAL_LIST) ? val_list_len(merges) : 0;
    tok_pairmap_init(&t->pairs, n + 16);
    nt_buf both = {0};
    uint8_t *buf = NULL;
    size_t cap = 0;
    nt_status st = NT_OK;
    for (size_t i = 0; i < n && !st; i++) {
        const val *m = val_list_get(merges, i);
        const char *l = NULL, *r = NULL;
        size_t ln = 0, rn = 0;
        if (val_is(m, VAL_STR)) { /* "a b" */
            const char *sp = memchr(m->u.str.s, ' ', m->u.str.n);
            if (sp && !memchr(sp + 1, ' ', m->u.str.n - (size_t)(sp + 1 - m->u.str.s))) {
                l = m->u.str.s, ln = (size_t)(sp - l), r = sp + 1, rn = m->u.str.n - ln - 1;
            }
        } else if (val_is(m, VAL_LIST) && val_list_len(m) == 2 && val_is(val_list_get(m, 0), VAL_STR) &&
                   val_is(val_list_get(m, 1), VAL_STR)) {
            l = val_list_get(m, 0)->u.str.s, ln = val_list_get(m, 0)->u.str.n;
            r = val_list_get(m, 1)->u.str.s, rn = val_list_get(m, 1)->u.str.n;
        }
        if (!l) {
            st = nt_err_set(err, NT_EINVAL, "model.merges[%zu]: not \"a b\" or [\"a\", \"b\"]", i);
            break;
        }
        both.len = 0;
        nt_buf_append(&both, l, ln);
        nt_buf_append(&both, r, rn);
        if (both.len > cap) buf = nt_xrealloc(buf, cap = both.len * 2);
        uint32_t a = lookup(t, l, ln, buf), b = lookup(t, r, rn, buf), c = lookup(t, both.data, both.len, buf);
        if (a == TOK_NONE || b == TOK_NONE || c == TOK_NONE)
            st = nt_err_set(err, NT_EINVAL, "model.merges[%zu]: '%.*s' + '%.*s' is not in the vocabulary", i,
                            (int)ln, l, (int)rn, r);
        else
            tok_pairmap_put(&t->pairs, a, b, (uint32_t)i, c);
    }
    nt_buf_free(&both);
    free(buf);
    return st;
}

static nt_status load_added(tok_tokenizer *t, const val *added, const uint32_t *ids, nt_err *err) {
    for (size_t i = 0; val_is(added, VAL_LIST) && i < val_list_len(added); i++) {
        const val *e = val_list_get(added, i);
        const val *c = val_dict_get(e, "content");
        bool special = val_is(val_dict_get(e, "special"), VAL_BOOL) && val_dict_get(e, "special")->u.b;
        const val *nz = val_dict_get(e, "normalized");
        tok_added a = {
            .content = c->u.str.s, .len = (uint32_t)c->u.str.n, .id = ids[i],
            .special = special,
            .lstrip = val_is(val_dict_get(e, "lstrip"), VAL_BOOL) && val_dict_get(e, "lstrip")->u.b,
            .rstrip = val_is(val_dict_get(e, "rstrip"), VAL_BOOL) && val_dict_get(e, "rstrip")->u.b,
            .single_word = val_is(val_dict_get(e, "single_word"), VAL_BOOL) && val_dict_get(e, "single_word")->u.b,
            .normalized = val_is(nz, VAL_BOOL) ? nz->u.b : !special, /* HF default: !special */
        };
        nt_status st = tok_add_token(t, &a, err);
        if (st) return nt_err_prefix(err, "added_tokens[%zu]: ", i);
    }
    return NT_OK;
}

static nt_status check_model(const val *model, nt_err *err) {
    const val *ty = val_dict_get(model, "type");
    if (ty && (!val_is(ty, VAL_STR) || strcmp(ty->u.str.s, "BPE")))
        return nt_err_set(err, NT_EUNSUPPORTED, "model.type '%s' (only BPE)", val_is(ty, VAL_STR) ? ty->u.str.s : "?");
    static const char *const unsupported[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const val *v = val_dict_get(model, unsupported[i]);
        if (v && !val_is(v, VAL_NULL) && !(val_is(v, VAL_STR) && v->u.str.n == 0))
            return nt_err_set(err, NT_EUNSUPPORTED, "model.%s", unsupported[i]);
    }
    const val *bf = val_dict_get(model, "byte_fallback"), *dr = val_dict_get(model, "dropout");
    if (val_is(bf, VAL_BOOL) && bf->u.b) return nt_err_set(err, NT_EUNSUPPORTED, "model.byte_fallback = true");
    if (dr && !val_is(dr, VAL_NULL) && val_to_double(dr) != 0.0)
        return nt_err_set(err, NT_EUNSUPPORTED, "model.dropout");
    if (!val_is(val_dict_get(model, "vocab"), VAL_DICT))
        return nt_err_set(err, NT_EINVAL, "model.vocab: missing or not an object");
    return NT_OK;
}

nt_status tok_hf_build(const val *root, const char *path, tok_tokenizer **out, nt_err *err) {
    const val *model = val_dict_get(root, "model");
    if (!val_is(model, VAL_DICT)) return nt_err_set(err, NT_EINVAL, "missing object 'model'");
    nt_status st = check_model(model, err);
    if (st) return st;
    const val *vocab = val_dict_get(model, "vocab"), *added = val_dict_get(root, "added_tokens");
    uint32_t n_ids = 0, *ids = NULL;
    if ((st = added_ids(vocab, added, &ids, err))) return st;
    if ((st = max_id(vocab, ids, val_is(added, VAL_LIST) ? val_list_len(added) : 0, &n_ids, err))) {
        free(ids);
        return st;
    }
    tok_tokenizer *t = tok_new(TOK_FORMAT_HF_JSON, path, n_ids);
    const val *im = val_dict_get(model, "ignore_merges");
    t->ignore_merges = val_is(im, VAL_BOOL) && im->u.b;
    if (!(st = load_vocab(t, vocab, err)) && !(st = load_merges(t, val_dict_get(model, "merges"), err)) &&
        !(st = load_added(t, added, ids, err))) {
        free(ids);
        const val *unk = val_dict_get(model, "unk_token");
        if (val_is(unk, VAL_STR)) t->unk_for_bytes = tok_token_id(t, unk->u.str.s, unk->u.str.n);
        *out = t;
        return NT_OK;
    }
    free(ids);
    tok_free(t);
    return st;
}
