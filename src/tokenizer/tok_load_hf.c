/* Hugging Face tokenizer.json (byte-level BPE) -> tokenizer. Supported: normalizer null;
 * pre_tokenizer Split / ByteLevel / Sequence of them; model BPE (vocab, merges as "a b" or
 * ["a", "b"], ignore_merges, unk_token); decoder ByteLevel; post_processor ByteLevel,
 * TemplateProcessing or a Sequence of them; added_tokens with their flags. Anything else is
 * refused with NT_EUNSUPPORTED naming the key, so a tokenizer is never silently approximated. */
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
#include "tokenizer/tok_internal.h"


/* GPT-2's pattern, what ByteLevel(use_regex=true) splits with. */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static const char *type_of(const val *v) {
    const val *ty = val_is(v, VAL_DICT) ? val_dict_get(v, "type") : NULL;
    return val_is(ty, VAL_STR) ? ty->u.str.s : "";
}

static bool get_bool(const val *d, const char *key, bool def) {
    const val *v = val_dict_get(d, key);
    return val_is(v, VAL_BOOL) ? v->u.b : def;
}

static nt_status add_stage(tok_tokenizer *t, const char *pat, size_t n, tok_split_behavior bh,
                           bool invert, nt_err *err) {
    if (t->n_stages == TOK_MAX_STAGES) return nt_err_set(err, NT_ELIMIT, "too many pre-tokenizers");
    tok_stage *s = &t->stages[t->n_stages];
    nt_status st = tok_stage_init(t, s, pat, n, err);
    if (st) return st;
    s->behavior = bh;
    s->invert = invert;
    t->n_stages++;
    return NT_OK;
}

static nt_status parse_split(tok_tokenizer *t, const val *p, nt_err *err) {
    const val *pat = val_dict_get(p, "pattern");
    const val *re = val_is(pat, VAL_DICT) ? val_dict_get(pat, "Regex") : NULL;
    const val *lit = val_is(pat, VAL_DICT) ? val_dict_get(pat, "String") : NULL;
    const val *bh = val_dict_get(p, "behavior");
    static const char *const names[] = {"Isolated", "Removed", "MergedWithPrevious", "MergedWithNext",
                                        "Contiguous"};
    int b = -1;
    for (int i = 0; i < 5 && val_is(bh, VAL_STR); i++)
        if (!strcmp(bh->u.str.s, names[i])) b = i;
    if (b < 0) return nt_err_set(err, NT_EUNSUPPORTED, "Split.behavior: unknown value");
    bool inv = get_bool(p, "invert", false);
    if (val_is(re, VAL_STR)) return add_stage(t, re->u.str.s, re->u.str.n, (tok_split_behavior)b, inv, err);
    if (!val_is(lit, VAL_STR) || !lit->u.str.n)
        return nt_err_set(err, NT_EINVAL, "Split.pattern: needs a non-empty Regex or String");
    nt_buf q = {0}; /* a literal string: quote it for the regex engine */
    nt_buf_puts(&q, "\\Q");
    nt_buf_append(&q, lit->u.str.s, lit->u.str.n);
    nt_buf_puts(&q, "\\E");
    nt_status st = strstr(lit->u.str.s, "\\E")
                       ? nt_err_set(err, NT_EUNSUPPORTED, "Split.pattern: String containing \\E")
                       : add_stage(t, q.data, q.len, (tok_split_behavior)b, inv, err);
    nt_buf_free(&q);
    return st;
}

static nt_status parse_pretok(tok_tokenizer *t, const val *p, bool *bytelevel, nt_err *err) {
    if (val_is(p, VAL_NULL) || !p) return NT_OK;
    const char *ty = type_of(p);
    if (!strcmp(ty, "Sequence")) {
        const val *list = val_dict_get(p, "pretokenizers");
        if (!val_is(list, VAL_LIST)) return nt_err_set(err, NT_EINVAL, "Sequence.pretokenizers: not a list");
        for (size_t i = 0; i < val_list_len(list); i++) {
            nt_status st = parse_pretok(t, val_list_get(list, i), bytelevel, err);
            if (st) return nt_err_prefix(err, "pretokenizers[%zu]: ", i);
        }
        return NT_OK;
    }
    if (!strcmp(ty, "Split")) return parse_split(t, p, err);
    if (!strcmp(ty, "ByteLevel")) {
        *bytelevel = true;
        if (get_bool(p, "add_prefix_space", false))
            return nt_err_set(err, NT_EUNSUPPORTED, "ByteLevel.add_prefix_space = true");
        if (get_bool(p, "use_regex", true))
            return add_stage(t, gpt2_pattern, sizeof gpt2_pattern - 1, TOK_SPLIT_ISOLATED, false, err);
        return NT_OK;
    }
    return nt_err_set(err, NT_EUNSUPPORTED, "pre-tokenizer type '%s'", ty);
}

/* The ids a TemplateProcessing "single" template puts before and after the text. */
static nt_status parse_template(tok_tokenizer *t, const val *p, nt_err *err) {
    const val *single = val_dict_get(p, "single");
    const val *specials = val_dict_get(p, "special_tokens");
    if (!val_is(single, VAL_LIST)) return nt_err_set(err, NT_EINVAL, "TemplateProcessing.single: not a list");
    int npre = 0, nsuf = 0;
    bool seen_seq = false;
    for (size_t i = 0; i < val_list_len(single); i++) {
        const val *e = val_list_get(single, i);
        if (val_is(e, VAL_DICT) && val_dict_get(e, "Sequence")) { seen_seq = true; continue; }
        const val *sp = val_is(e, VAL_DICT) ? val_dict_get(e, "SpecialToken") : NULL;
        const val *name = val_is(sp, VAL_DICT) ? val_dict_get(sp, "id") : NULL;
        const val *def = val_is(name, VAL_STR) && val_is(specials, VAL_DICT)
                             ? val_dict_get(specials, name->u.str.s) : NULL;
        const val *ids = val_is(def, VAL_DICT) ? val_dict_get(def, "ids") : NULL;
        if (!val_is(ids, VAL_LIST))
            return nt_err_set(err, NT_EINVAL, "TemplateProcessing.single[%zu]: unknown special token", i);
        for (size_t k = 0; k < val_list_len(ids); k++) {
            const val *id = val_list_get(ids, k);
            int32_t *dst = seen_seq ? &t->post_suffix[nsuf] : &t->post_prefix[npre];
            if ((seen_seq ? nsuf : npre) >= 3 || !val_is(id, VAL_INT) || id->u.i < 0 || id->u.i >= t->n_ids)
                return nt_err_set(err, NT_EINVAL, "TemplateProcessing.single[%zu]: bad ids", i);
            *dst = (int32_t)id->u.i;
            seen_seq ? nsuf++ : npre++;
        }
    }
    t->post_prefix[npre] = t->post_suffix[nsuf] = -1;
    return NT_OK;
}

static nt_status parse_post(tok_tokenizer *t, const val *p, nt_err *err) {
    if (!p || val_is(p, VAL_NULL)) return NT_OK;
    const char *ty = type_of(p);
    if (!strcmp(ty, "Sequence")) {
        const val *list = val_dict_get(p, "processors");
        for (size_t i = 0; val_is(list, VAL_LIST) && i < val_list_len(list); i++) {
            nt_status st = parse_post(t, val_list_get(list, i), err);
            if (st) return nt_err_prefix(err, "processors[%zu]: ", i);
        }
        return NT_OK;
    }
    if (!strcmp(ty, "ByteLevel")) {
        if (get_bool(p, "trim_offsets", true))
            return nt_err_set(err, NT_EUNSUPPORTED, "ByteLevel post-processor with trim_offsets = true");
        return NT_OK;
    }
    if (!strcmp(ty, "TemplateProcessing")) return parse_template(t, p, err);
    return nt_err_set(err, NT_EUNSUPPORTED, "post-processor type '%s'", ty);
}

nt_status tok_load_hf_json(const char *path, tok_tokenizer **out, nt_err *err) {
    val *root = NULL;
    nt_status st = json_parse_file(path, &root, err);
    if (st) return st;
    st = tok_hf_from_value(root, path, out, err);
    val_unref(root);
    return st ? nt_err_prefix(err, "%s: ", path) : NT_OK;
}

nt_status tok_hf_from_value(const val *root, const char *path, tok_tokenizer **out, nt_err *err) {
    nt_status st = NT_OK;
    tok_tokenizer *t = NULL;
    const val *norm = val_is(root, VAL_DICT) ? val_dict_get(root, "normalizer") : NULL;
    const val *dec = val_is(root, VAL_DICT) ? val_dict_get(root, "decoder") : NULL;
    bool bytelevel = false;
    if (!val_is(root, VAL_DICT)) {
        st = nt_err_set(err, NT_EPARSE, "not a JSON object");
    } else if (norm && !val_is(norm, VAL_NULL)) {
        st = nt_err_set(err, NT_EUNSUPPORTED, "normalizer type '%s'", type_of(norm));
    } else if (dec && !val_is(dec, VAL_NULL) && strcmp(type_of(dec), "ByteLevel")) {
        st = nt_err_set(err, NT_EUNSUPPORTED, "decoder type '%s' (only ByteLevel)", type_of(dec));
    } else if (!(st = tok_hf_build(root, path, &t, err))) {
        if ((st = parse_pretok(t, val_dict_get(root, "pre_tokenizer"), &bytelevel, err)))
            nt_err_prefix(err, "pre_tokenizer: ");
        else if (!bytelevel && !val_is(dec, VAL_DICT))
            st = nt_err_set(err, NT_EUNSUPPORTED, "not a byte-level BPE (no ByteLevel pre-tokenizer or decoder)");
        else if ((st = parse_post(t, val_dict_get(root, "post_processor"), err)))
            nt_err_prefix(err, "post_processor: ");
        else
            st = tok_finalize(t, err);
    }
    if (st) {
        tok_free(t);
        return st;
    }
    *out = t;
    return NT_OK;
}
