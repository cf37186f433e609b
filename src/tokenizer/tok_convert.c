/* Writing Tekken ranks as tekken.json (mistral-common's format) and as an HF tokenizer.json
 * built the way transformers converts Tekken (integrations/mistral.py): vocab = the specials at
 * 0..num_special-1, then each rank as a GPT-2 byte-level string at num_special + rank; merges =
 * for each token in rank order, every split (l, r) with both halves in the vocabulary, ordered by
 * (rank l, rank r); BPE with ignore_merges; Split(pattern, Isolated) + ByteLevel(no regex). */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "tokenizer/tok_base64.h"
#include "tokenizer/tok_internal.h"

static void put_json_str(nt_buf *b, const char *s, size_t n) {
    nt_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { nt_buf_putc(b, '\\'); nt_buf_putc(b, (char)c); }
        else if (c == '\n') nt_buf_puts(b, "\\n");
        else if (c == '\t') nt_buf_puts(b, "\\t");
        else if (c == '\r') nt_buf_puts(b, "\\r");
        else if (c < 0x20 || c == 0x7f) nt_buf_printf(b, "\\u%04x", c);
        else nt_buf_putc(b, (char)c);
    }
    nt_buf_putc(b, '"');
}

static uint32_t n_used(const tok_ranks *r) {
    uint32_t inner = r->vocab_size - r->num_special;
    return r->n_ranks < inner ? r->n_ranks : inner;
}

nt_status tok_write_tekken_json(const tok_ranks *r, const char *path, nt_err *err) {
    uint32_t n = n_used(r);
    nt_buf b = {0};
    nt_buf_puts(&b, "{\"config\": {\"pattern\": ");
    put_json_str(&b, r->pattern, strlen(r->pattern));
    nt_buf_printf(&b, ", \"num_vocab_tokens\": %u, \"default_vocab_size\": %u, \"default_num_special_tokens\": %u, "
                      "\"version\": ", n + r->num_special, r->vocab_size, r->num_special);
    put_json_str(&b, r->version, strlen(r->version));
    nt_buf_puts(&b, "},\n\"vocab\": [");
    for (uint32_t k = 0; k < n; k++) {
        const uint8_t *p = r->bytes + r->off[k];
        size_t len = r->off[k + 1] - r->off[k];
        nt_buf_printf(&b, "%s\n{\"rank\": %u, \"token_bytes\": \"", k ? "," : "", k);
        tok_b64_encode(&b, p, len);
        nt_buf_puts(&b, "\", \"token_str\": ");
        if (tok_utf8_check(p, len) == len) put_json_str(&b, (const char *)p, len);
        else nt_buf_puts(&b, "null");
        nt_buf_putc(&b, '}');
    }
    nt_buf_puts(&b, "],\n\"special_tokens\": [");
    for (uint32_t i = 0; i < r->num_special; i++) {
        nt_buf_printf(&b, "%s\n{\"rank\": %u, \"token_str\": ", i ? "," : "", i);
        put_json_str(&b, r->specials[i], strlen(r->specials[i]));
        nt_buf_puts(&b, ", \"is_control\": true}");
    }
    nt_buf_puts(&b, "]}\n");
    nt_status st = nt_write_file_atomic(path, b.data, b.len, err);
    nt_buf_free(&b);
    return st;
}

static void put_bytelevel(nt_buf *b, const uint8_t *p, size_t n) {
    nt_buf s = {0};
    tok_bytelevel_encode(&s, p, n);
    put_json_str(b, s.data ? s.data : "", s.len);
    nt_buf_free(&s);
}

typedef struct { uint32_t l, r, cut; } split;

/* The merges of one token: its splits into two vocabulary entries, by (rank l, rank r). */
static void put_merges(nt_buf *b, const tok_tokenizer *t, const tok_ranks *r, uint32_t k, split *sp,
                       bool *first) {
    const uint8_t *p = r->bytes + r->off[k];
    size_t n = r->off[k + 1] - r->off[k], m = 0;
    for (size_t cut = 1; cut < n; cut++) {
        uint32_t a = tok_strmap_get(&t->vocab, t, p, cut);
        uint32_t c = a == TOK_NONE ? TOK_NONE : tok_strmap_get(&t->vocab, t, p + cut, n - cut);
        if (c == TOK_NONE) continue;
        split s = {a, c, (uint32_t)cut};
        size_t j = m++;
        while (j > 0 && (sp[j - 1].l > s.l || (sp[j - 1].l == s.l && sp[j - 1].r > s.r))) {
            sp[j] = sp[j - 1];
            j--;
        }
        sp[j] = s;
    }
    for (size_t i = 0; i < m; i++) {
        nt_buf_puts(b, *first ? "\n[" : ",\n[");
        *first = false;
        put_bytelevel(b, p, sp[i].cut);
        nt_buf_puts(b, ", ");
        put_bytelevel(b, p + sp[i].cut, n - sp[i].cut);
        nt_buf_putc(b, ']');
    }
}

static void put_header(nt_buf *b, const tok_ranks *r) {
    nt_buf_puts(b, "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,\n\"added_tokens\": [");
    for (uint32_t i = 0; i < r->num_special; i++) {
        nt_buf_printf(b, "%s\n{\"id\": %u, \"content\": ", i ? "," : "", i);
        put_json_str(b, r->specials[i], strlen(r->specials[i]));
        nt_buf_puts(b, ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
                       "\"normalized\": false, \"special\": true}");
    }
    nt_buf_puts(b, "],\n\"normalizer\": null,\n\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
                   "{\"type\": \"Split\", \"pattern\": {\"Regex\": ");
    put_json_str(b, r->pattern, strlen(r->pattern));
    nt_buf_puts(b, "}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", "
                   "\"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]},\n"
                   "\"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, "
                   "\"trim_offsets\": false, \"use_regex\": true},\n"
                   "\"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, "
                   "\"use_regex\": true},\n"
                   "\"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, "
                   "\"continuing_subword_prefix\": null, \"end_of_word_suffix\": null, \"fuse_unk\": false, "
                   "\"byte_fallback\": false, \"ignore_merges\": true,\n\"vocab\": {");
}

nt_status tok_write_hf_json(const tok_ranks *r, const char *path, nt_err *err) {
    tok_tokenizer *t = NULL;
    nt_status st = tok_from_ranks(r, path, &t, err);
    if (st) return st;
    uint32_t n = n_used(r);
    nt_buf b = {0};
    put_header(&b, r);
    for (uint32_t i = 0; i < r->num_special; i++) {
        nt_buf_puts(&b, i ? ",\n" : "\n");
        put_json_str(&b, r->specials[i], strlen(r->specials[i]));
        nt_buf_printf(&b, ": %u", i);
    }
    for (uint32_t k = 0; k < n; k++) {
        nt_buf_puts(&b, k || r->num_special ? ",\n" : "\n");
        put_bytelevel(&b, r->bytes + r->off[k], r->off[k + 1] - r->off[k]);
        nt_buf_printf(&b, ": %u", r->num_special + k);
    }
    nt_buf_puts(&b, "},\n\"merges\": [");
    size_t maxlen = 1;
    for (uint32_t k = 0; k < n; k++)
        if (r->off[k + 1] - r->off[k] > maxlen) maxlen = r->off[k + 1] - r->off[k];
    split *sp = nt_xmalloc(maxlen * sizeof *sp);
    bool first = true;
    for (uint32_t k = 0; k < n; k++) put_merges(&b, t, r, k, sp, &first);
    free(sp);
    nt_buf_puts(&b, "]}}\n");
    st = nt_write_file_atomic(path, b.data, b.len, err);
    nt_buf_free(&b);
    tok_free(t);
    return st;
}
