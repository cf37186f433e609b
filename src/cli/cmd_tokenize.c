/* newt tokenize: encode text (or JSONL rows) to ids and byte offsets, or decode ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/json.h"
#include "tokenizer/tok.h"

static const char usage_text[] =
    "usage: newt tokenize --tokenizer PATH (--text STRING | --input-jsonl FILE | --decode ID,ID,...)\n"
    "                     [--no-special] [--add-bos] [--add-eos] [--add-special] [--skip-special]\n"
    "  PATH: a tokenizer.json, a tekken.json or a model folder (tokenizer.json preferred).\n"
    "  Encoding prints one {\"ids\": [...], \"offsets\": [[start,end],...]} per text (byte offsets);\n"
    "  --input-jsonl reads one {\"text\": ...} per line. --no-special never parses special tokens\n"
    "  in the text (mistral-common semantics). --add-special applies the tokenizer.json\n"
    "  post-processor's template (HF add_special_tokens). --decode prints the decoded text\n"
    "  (--skip-special drops special tokens).\n";

static void print_encoding(const tok_encoding *e) {
    nt_buf b = {0};
    nt_buf_puts(&b, "{\"ids\": [");
    for (size_t i = 0; i < e->n; i++) nt_buf_printf(&b, i ? ", %d" : "%d", e->ids[i]);
    nt_buf_puts(&b, "], \"offsets\": [");
    for (size_t i = 0; i < e->n; i++)
        nt_buf_printf(&b, i ? ", [%u, %u]" : "[%u, %u]", e->offsets[i][0], e->offsets[i][1]);
    nt_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    nt_buf_free(&b);
}

static int encode_jsonl(const tok_tokenizer *t, const char *path, const tok_encode_opts *o) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) { cli_error("%s: cannot open", path); return 1; }
    tok_scratch *s = tok_scratch_new(t);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    for (long lineno = 1; (n = getline(&line, &cap, f)) >= 0; lineno++) {
        val *row = NULL;
        nt_err err = {0};
        if (json_parse(line, (size_t)n, &row, &err)) {
            cli_error("%s line %ld: %s", path, lineno, err.msg);
            rc = 1;
            break;
        }
        const val *text = val_is(row, VAL_DICT) ? val_dict_get(row, "text") : NULL;
        tok_encoding e = {0};
        if (!val_is(text, VAL_STR)) {
            cli_error("%s line %ld: no string \"text\"", path, lineno);
            rc = 1;
        } else if (tok_encode(t, text->u.str.s, text->u.str.n, o, s, &e, &err)) {
            cli_error("%s line %ld: %s", path, lineno, err.msg);
            rc = 1;
        } else {
            print_encoding(&e);
        }
        tok_encoding_free(&e);
        val_unref(row);
        if (rc) break;
    }
    free(line);
    tok_scratch_free(s);
    if (f != stdin) fclose(f);
    return rc;
}

static int decode_ids(const tok_tokenizer *t, const char *list, bool skip_special) {
    size_t n = 0, cap = 16;
    int32_t *ids = malloc(cap * sizeof *ids);
    for (const char *p = list; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            cli_error("--decode: bad id list at '%s'", p);
            free(ids);
            return 2;
        }
        if (n == cap) ids = realloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    nt_buf out = {0};
    nt_err err = {0};
    int rc = 0;
    if (tok_decode(t, ids, n, skip_special, &out, &err)) {
        cli_error("%s", err.msg);
        rc = 1;
    } else {
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
        fputc('\n', stdout);
    }
    nt_buf_free(&out);
    free(ids);
    return rc;
}

int cli_cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *text = NULL, *jsonl = NULL, *dec = NULL;
    tok_encode_opts o = {0};
    bool skip_special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--tokenizer") && has) path = argv[++i];
        else if (!strcmp(a, "--text") && has) text = argv[++i];
        else if (!strcmp(a, "--input-jsonl") && has) jsonl = argv[++i];
        else if (!strcmp(a, "--decode") && has) dec = argv[++i];
        else if (!strcmp(a, "--no-special")) o.no_special = true;
        else if (!strcmp(a, "--add-bos")) o.add_bos = true;
        else if (!strcmp(a, "--add-eos")) o.add_eos = true;
        else if (!strcmp(a, "--add-special")) o.add_special = true;
        else if (!strcmp(a, "--skip-special")) skip_special = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_text, stdout); return 0; }
        else { cli_error("tokenize: unknown or incomplete option '%s'", a); fputs(usage_text, stderr); return 2; }
    }
    if (!path || (!!text + !!jsonl + !!dec) != 1) { fputs(usage_text, stderr); return 2; }
    tok_tokenizer *t = NULL;
    nt_err err = {0};
    if (tok_load(path, &t, &err)) { cli_error("%s", err.msg); return 1; }
    fprintf(stderr, "newt: tokenizer %s (%s)\n", tok_source(t),
            tok_get_format(t) == TOK_FORMAT_TEKKEN ? "tekken" : "tokenizer.json");
    int rc = 0;
    if (dec) {
        rc = decode_ids(t, dec, skip_special);
    } else if (jsonl) {
        rc = encode_jsonl(t, jsonl, &o);
    } else {
        tok_encoding e = {0};
        if (tok_encode(t, text, strlen(text), &o, NULL, &e, &err)) { cli_error("%s", err.msg); rc = 1; }
        else print_encoding(&e);
        tok_encoding_free(&e);
    }
    tok_free(t);
    return rc;
}
