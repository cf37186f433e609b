/* Helpers for the dataset tests: a byte-level Tekken tokenizer built on the spot (the 256
 * single bytes as ranks, the Tekken special tokens plus ChatML / Llama 3 markers), configs
 * from YAML text, and labels shown as the decoded text of each trained run. */
#ifndef NEWT_DS_TESTUTIL_H
#define NEWT_DS_TESTUTIL_H

#include "base/fileio.h"
#include "base/mem.h"
#include "config/config.h"
#include "data/ds_chat.h"
#include "test.h"
#include "tokenizer/tok.h"
#include "tokenizer/tok_internal.h"

static const char *const dst_extra_specials[] = {"<|im_start|>", "<|im_end|>", "<|begin_of_text|>",
                                                 "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
#define DST_NSPECIAL (38 + 6)

/* Folder holding the tiny tokenizer's tekken.json (written once per test binary). */
static inline const char *dst_tok_dir(void) {
    static char dir[512];
    if (dir[0]) return dir;
    /* The library's byte-level Tekken ranks, plus ChatML / Llama 3 control tokens after the
     * 38 Mistral specials. */
    tok_ranks r;
    tok_ranks_byte_level(&r, DST_NSPECIAL);
    for (int i = 38; i < DST_NSPECIAL; i++) {
        free(r.specials[i]);
        r.specials[i] = nt_xstrdup(dst_extra_specials[i - 38]);
    }
    snprintf(dir, sizeof dir, "%s/tok", test_tmpdir());
    mkdir(dir, 0755);
    char *path = nt_path_join(dir, "tekken.json");
    nt_err err = {0};
    if (tok_write_tekken_json(&r, path, &err)) fprintf(stderr, "  tiny tokenizer: %s\n", err.msg);
    free(path);
    tok_ranks_free(&r);
    return dir;
}

static inline tok_tokenizer *dst_tok(void) {
    static tok_tokenizer *t;
    nt_err err = {0};
    if (!t && tok_load(dst_tok_dir(), &t, &err)) fprintf(stderr, "  tiny tokenizer: %s\n", err.msg);
    return t;
}

/* A config: base_model is the tiny tokenizer; `rest` is YAML for datasets and other keys. */
static inline cfg *dst_cfg(const char *rest) {
    char *text = nt_xasprintf("base_model: %s\nlearning_rate: 1e-4\n%s", dst_tok_dir(), rest);
    cfg *c = NULL;
    nt_err err = {0};
    if (cfg_load_text(text, strlen(text), "test.yml", 0, NULL, &c, &err)) fprintf(stderr, "  config: %s\n", err.msg);
    free(text);
    return c;
}

static inline void dst_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, nt_buf *b) {
    nt_err err = {0};
    if (tok_decode(t, ids, n, false, b, &err)) nt_buf_puts(b, "<decode error>");
}

/* The decoded text of each run of trained (want = true) or masked tokens, joined by "|". */
static inline char *dst_runs(const tok_tokenizer *t, const int32_t *ids, const int32_t *labels, size_t n, bool want) {
    nt_buf b = {0};
    size_t i = 0;
    bool first = true;
    while (i < n) {
        if ((labels[i] != DS_IGNORE_INDEX) != want) { i++; continue; }
        size_t j = i;
        while (j < n && (labels[j] != DS_IGNORE_INDEX) == want) {
            if (want && labels[j] != ids[j]) nt_buf_puts(&b, "<label != id>");
            j++;
        }
        if (!first) nt_buf_putc(&b, '|');
        dst_decode(t, ids + i, j - i, &b);
        first = false;
        i = j;
    }
    nt_buf_putc(&b, '\0');
    return nt_buf_take(&b, NULL);
}

#endif
