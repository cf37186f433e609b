/* newt render: renders a chat template over a conversation, exactly as transformers would,
 * optionally with the provenance of every byte (--json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/json.h"
#include "template/tmpl.h"

static void usage(FILE *f) {
    fputs("usage: newt render --template PATH --conversation FILE.json [--json] [--now ISO]\n"
          "  --template PATH       a .jinja file, a tokenizer_config.json / chat_template.json, or a model folder\n"
          "  --conversation FILE   {\"messages\": [...], \"tools\": [...], \"add_generation_prompt\": bool, ...kwargs}\n"
          "                        ('-' reads stdin)\n"
          "  --json                print {\"rendered\": ..., \"spans\": [...], \"generation\": [...]} (byte offsets)\n"
          "  --now ISO             fixed time for strftime_now, e.g. 2026-03-16T12:00:00\n"
          "exit status: 0 ok, 1 error, 2 usage, 3 the template called raise_exception\n", f);
}

static void print_json(const tmpl_output *o) {
    val *root = val_dict(), *spans = val_list(), *gen = val_list();
    val_dict_set(root, "rendered", val_strn(o->text, o->len));
    for (size_t i = 0; i < o->nspans; i++) {
        const tmpl_span *s = &o->spans[i];
        val *d = val_dict();
        val_dict_set(d, "start", val_int((int64_t)s->start));
        val_dict_set(d, "end", val_int((int64_t)s->end));
        val_dict_set(d, "message", s->message >= 0 ? val_int(s->message) : val_null());
        val_dict_set(d, "source", val_str(s->source == TMPL_SRC_DATA ? "data" : "template"));
        val_dict_set(d, "field", val_str(tmpl_field_name(s->field)));
        val_list_push(spans, d);
    }
    for (size_t i = 0; i < o->ngeneration; i++) {
        val *p = val_list();
        val_list_push(p, val_int((int64_t)o->generation[i][0]));
        val_list_push(p, val_int((int64_t)o->generation[i][1]));
        val_list_push(gen, p);
    }
    val_dict_set(root, "spans", spans);
    val_dict_set(root, "generation", gen);
    json_opts jo = {.indent = 1, .ensure_ascii = false};
    size_t n;
    char *s = json_dumps(root, &jo, &n);
    fwrite(s, 1, n, stdout);
    fputc('\n', stdout);
    free(s);
    val_unref(root);
}

static nt_status read_conversation(const char *path, val **conv, nt_err *err) {
    if (strcmp(path, "-")) return json_parse_file(path, conv, err);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += r;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    if (!buf) return nt_err_set(err, NT_ENOMEM, "stdin: out of memory");
    nt_status st = json_parse(buf, n, conv, err);
    if (st) nt_err_prefix(err, "stdin: ");
    free(buf);
    return st;
}

static int run(const char *tpath, const char *cpath, bool json, const char *now) {
    nt_err err = {0};
    char *text = NULL;
    size_t len = 0;
    val *special = NULL, *conv = NULL, *ctx = NULL;
    tmpl *t = NULL;
    tmpl_output out = {0};
    int rc = 1;
    if (tmpl_load(tpath, &text, &len, &special, &err) || read_conversation(cpath, &conv, &err) ||
        tmpl_context(conv, special, &ctx, &err) || tmpl_compile(text, len, tpath, &t, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    tmpl_opts o = {.now = now};
    nt_status st = tmpl_render(t, ctx, &o, &out, &err);
    if (st) {
        cli_error("%s", err.msg);
        rc = st == NT_ERAISE ? 3 : 1;
        goto done;
    }
    if (json) print_json(&out);
    else fwrite(out.text, 1, out.len, stdout);
    rc = fflush(stdout) ? 1 : 0;
done:
    tmpl_output_free(&out);
    tmpl_free(t);
    val_unref(ctx);
    val_unref(conv);
    val_unref(special);
    free(text);
    return rc;
}

int cli_cmd_render(int argc, char **argv) {
    const char *tpath = NULL, *cpath = NULL, *now = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--template") && i + 1 < argc) tpath = argv[++i];
        else if (!strcmp(argv[i], "--conversation") && i + 1 < argc) cpath = argv[++i];
        else if (!strcmp(argv[i], "--now") && i + 1 < argc) now = argv[++i];
        else { cli_error("render: unknown or incomplete option '%s'", argv[i]); usage(stderr); return 2; }
    }
    if (!tpath || !cpath) { cli_error("render: --template and --conversation are required"); usage(stderr); return 2; }
    return run(tpath, cpath, json, now);
}
