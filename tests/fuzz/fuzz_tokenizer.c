/* Fuzzes the tokenizer. The first byte picks the target:
 *   'J' rest = a tokenizer.json, 'K' rest = a tekken.json: load, encode a sample, free;
 *   anything else: the input is text, encoded by a byte-level tokenizer.json (GPT-2 regex,
 *   PCRE2 path) and a Tekken tokenizer (hand-written matcher), with and without special-token
 *   parsing. Valid UTF-8 must decode back to itself; invalid UTF-8 must be an NT_EINVAL error.
 * Any crash, sanitizer report, leak or broken round trip aborts. */
#include <stdlib.h>

#include "formats/json.h"
#include "fuzz.h"
#include "tokenizer/tok.h"
#include "tokenizer/tok_internal.h"

static tok_tokenizer *fz_hf, *fz_tk;

static char *hf_json(void) {
    nt_buf b = {0};
    nt_buf_puts(&b, "{\"added_tokens\": [{\"id\": 300, \"content\": \"<s>\", \"special\": true},"
                    "{\"id\": 301, \"content\": \"[INST]\", \"special\": true}, {\"id\": 302, \"content\": \"ab\"}],"
                    "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
                    "\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {");
    for (int c = 0; c < 256; c++) {
        nt_buf_puts(&b, c ? ", \"" : "\"");
        uint8_t x = (uint8_t)c;
        nt_buf s = {0};
        tok_bytelevel_encode(&s, &x, 1);
        if (s.data[0] == '"' || s.data[0] == '\\') nt_buf_putc(&b, '\\');
        nt_buf_append(&b, s.data, s.len);
        nt_buf_free(&s);
        nt_buf_printf(&b, "\": %d", c);
    }
    nt_buf_puts(&b, ", \"th\": 256, \"the\": 257, \"\\u0120t\": 258, \"\\u0120th\": 259, \"\\u0120the\": 260},"
                    " \"merges\": [\"t h\", \"th e\", \"\\u0120 t\", \"\\u0120t h\", \"\\u0120th e\"]}}");
    return nt_buf_take(&b, NULL);
}

static char *tekken_json(void) {
    nt_buf b = {0};
    nt_buf_puts(&b, "{\"config\": {\"pattern\": ");
    nt_buf_putc(&b, '"');
    for (const char *p = tok_tekken_pattern; *p; p++) {
        if (*p == '\\' || *p == '"') nt_buf_putc(&b, '\\');
        nt_buf_putc(&b, *p);
    }
    nt_buf_puts(&b, "\", \"default_vocab_size\": 1262, \"default_num_special_tokens\": 1000}, \"vocab\": [");
    static const char *const b64[256 + 6] = {[256] = "dGg=", "dGhl", "IHQ=", "IHRo", "IHRoZQ==", "ZW4="};
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int r = 0; r < 262; r++) {
        char one[5] = {tab[r >> 2 & 63], tab[(r & 3) << 4], '=', '=', 0};
        nt_buf_printf(&b, "%s{\"rank\": %d, \"token_bytes\": \"%s\"}", r ? ", " : "", r, r < 256 ? one : b64[r]);
    }
    nt_buf_puts(&b, "], \"special_tokens\": [{\"rank\": 1, \"token_str\": \"<s>\"}, {\"rank\": 3, \"token_str\": \"[INST]\"}]}");
    return nt_buf_take(&b, NULL);
}

static void free_all(void) {
    tok_free(fz_hf);
    tok_free(fz_tk);
}

static tok_tokenizer *load_text(const char *json, bool tekken) {
    val *v = NULL;
    nt_err err = {0};
    tok_tokenizer *t = NULL;
    if (json_parse(json, strlen(json), &v, &err)) abort();
    if (tekken) {
        tok_ranks r;
        if (tok_ranks_from_value(v, &r, &err) == NT_OK) {
            tok_from_ranks(&r, "fuzz-tekken", &t, &err);
            tok_ranks_free(&r);
        }
    } else {
        tok_hf_from_value(v, "fuzz", &t, &err);
    }
    val_unref(v);
    if (!t) { fprintf(stderr, "fuzz setup: %s\n", err.msg); abort(); }
    return t;
}

static void fuzz_seeds(fuzz_corpus *c) {
    char *h = hf_json(), *k = tekken_json();
    fz_hf = load_text(h, false);
    fz_tk = load_text(k, true);
    atexit(free_all);
    nt_buf s = {0};
    nt_buf_putc(&s, 'J');
    nt_buf_puts(&s, h);
    fuzz_add(c, s.data, s.len);
    s.len = 0;
    nt_buf_putc(&s, 'K');
    nt_buf_puts(&s, k);
    fuzz_add(c, s.data, s.len);
    nt_buf_free(&s);
    free(h);
    free(k);
    static const char *texts[] = {
        "The theme: <s>[INST] then\r\n\n  the end ", "Hello, world! 123 4567 ab",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x8e\x89\xe2\x80\x8d\xf0\x9f\x91\xa8 e\xcc\x81", "   \t\n\x0b\x0c\r ",
        "x\xc2\x85y\xe1\xa0\x8ez\xef\xbb\xbf", "a\x00" "b", "'s 've I'LL don't", "<s<s>>[[INST]]",
        "\xff\xfe bad \xed\xa0\x80", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) fuzz_add(c, texts[i], strlen(texts[i]) + (i == 5));
}

static void fuzz_file(const uint8_t *data, size_t n, bool tekken) {
    val *v = NULL;
    nt_err err = {0};
    if (json_parse((const char *)data, n, &v, &err)) return;
    tok_tokenizer *t = NULL;
    if (tekken) {
        tok_ranks r;
        if (tok_ranks_from_value(v, &r, &err) == NT_OK) {
            tok_from_ranks(&r, "fuzz", &t, &err);
            tok_ranks_free(&r);
        }
    } else {
        tok_hf_from_value(v, "fuzz", &t, &err);
    }
    val_unref(v);
    if (!t) return;
    tok_encoding e = {0};
    const char sample[] = "the <s> Hello, world\n 12 \xc3\xa9";
    tok_encode(t, sample, sizeof sample - 1, &(tok_encode_opts){.add_special = true}, NULL, &e, &err);
    nt_buf d = {0};
    tok_decode(t, e.ids, e.n, false, &d, &err);
    nt_buf_free(&d);
    tok_encoding_free(&e);
    tok_free(t);
}

static void roundtrip(const tok_tokenizer *t, const uint8_t *data, size_t n, bool no_special) {
    tok_encoding e = {0};
    nt_err err = {0};
    bool valid = tok_utf8_check(data, n) == n;
    nt_status st = tok_encode(t, (const char *)data, n, &(tok_encode_opts){.no_special = no_special}, NULL, &e, &err);
    if (!valid) {
        if (st != NT_EINVAL) abort();
        return;
    }
    if (st) abort();
    for (size_t i = 0; i < e.n; i++)
        if (e.offsets[i][0] > e.offsets[i][1] || e.offsets[i][1] > n || (i && e.offsets[i][0] < e.offsets[i - 1][0]))
            abort();
    nt_buf d = {0};
    if (tok_decode(t, e.ids, e.n, false, &d, &err) || d.len != n || (n && memcmp(d.data, data, n))) {
        fprintf(stderr, "round trip failed (%zu bytes -> %zu tokens -> %zu bytes)\n", n, e.n, d.len);
        abort();
    }
    nt_buf_free(&d);
    tok_encoding_free(&e);
}

static void fuzz_target(const uint8_t *data, size_t n) {
    if (n && (data[0] == 'J' || data[0] == 'K')) {
        fuzz_file(data + 1, n - 1, data[0] == 'K');
        return;
    }
    for (int ns = 0; ns < 2; ns++) {
        roundtrip(fz_hf, data, n, ns);
        roundtrip(fz_tk, data, n, ns);
    }
}

FUZZ_MAIN()
