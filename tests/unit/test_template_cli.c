/* `newt render` end to end: exact output (no added newline), --json with spans, exit status 3
 * and the message for raise_exception, line:column for other template errors, template found
 * in a tokenizer_config.json and a model folder. Expected strings derived by hand from the
 * Mistral Small 4 format (spec §6). */
#include <stdlib.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "test.h"

static char newt_bin[512];

static const char *newt(void) {
    if (!newt_bin[0]) { /* build/<kind>/tests/test_x -> build/<kind>/newt */
        ssize_t n = readlink("/proc/self/exe", newt_bin, sizeof newt_bin - 16);
        if (n < 0) return "build/release/newt";
        newt_bin[n] = 0;
        char *slash = strrchr(newt_bin, '/');
        if (slash) *slash = 0;
        slash = strrchr(newt_bin, '/');
        if (slash) strcpy(slash, "/newt");
    }
    return newt_bin;
}

static void write_file(const char *name, const char *text) {
    char *p = nt_xasprintf("%s/%s", test_tmpdir(), name);
    nt_err err = {0};
    CHECK(!nt_write_file_atomic(p, text, strlen(text), &err));
    free(p);
}

/* Runs newt render with args; returns the exit status, stdout and stderr in *out / *errout. */
static int run(const char *args, char **out, char **errout) {
    const char *d = test_tmpdir();
    char *cmd = nt_xasprintf("%s render %s > %s/out.txt 2> %s/err.txt", newt(), args, d, d);
    int st = system(cmd);
    free(cmd);
    char *po = nt_xasprintf("%s/out.txt", d), *pe = nt_xasprintf("%s/err.txt", d);
    size_t n;
    nt_err err = {0};
    if (nt_read_file(po, out, &n, &err)) *out = strdup("");
    if (nt_read_file(pe, errout, &n, &err)) *errout = strdup("");
    free(po);
    free(pe);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *TEMPLATE_PATH = "examples/tiny/chat_template.jinja";

TEST(render_prints_exact_bytes) {
    write_file("ok.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi \\u00e9\"}, {\"role\": \"assistant\", \"content\": \"Yo\"}]}");
    char *args = nt_xasprintf("--template %s --conversation %s/ok.json", TEMPLATE_PATH, test_tmpdir());
    char *out, *err;
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK_EQ_STR(out, "<s>[MODEL_SETTINGS]{\"reasoning_effort\": \"none\"}[/MODEL_SETTINGS][INST]Hi \xc3\xa9[/INST]Yo</s>");
    free(out);
    free(err);
    free(args);
}

TEST(render_json_has_spans) {
    write_file("ok.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Yo\"}]}");
    char *args = nt_xasprintf("--json --template %s --conversation %s/ok.json", TEMPLATE_PATH, test_tmpdir());
    char *out, *err;
    CHECK_EQ_INT(run(args, &out, &err), 0);
    val *v = NULL;
    nt_err e = {0};
    CHECK(!json_parse(out, strlen(out), &v, &e));
    const val *spans = v ? val_dict_get(v, "spans") : NULL;
    CHECK(val_is(spans, VAL_LIST));
    /* "Yo" is message 1's content; its "</s>" is message 1's structural text */
    const char *r = v ? val_dict_get(v, "rendered")->u.str.s : "";
    size_t yo = (size_t)(strstr(r, "Yo") - r);
    int found = 0;
    for (size_t i = 0; spans && i < val_list_len(spans); i++) {
        const val *s = val_list_get(spans, i);
        if ((size_t)val_dict_get(s, "start")->u.i == yo) {
            found = 1;
            CHECK_EQ_INT(val_dict_get(s, "end")->u.i, yo + 2);
            CHECK_EQ_INT(val_dict_get(s, "message")->u.i, 1);
            CHECK_EQ_STR(val_dict_get(s, "source")->u.str.s, "data");
            CHECK_EQ_STR(val_dict_get(s, "field")->u.str.s, "content");
            const val *eos = val_list_get(spans, i + 1);
            CHECK_EQ_STR(val_dict_get(eos, "source")->u.str.s, "template");
            CHECK_EQ_STR(val_dict_get(eos, "field")->u.str.s, "role");
            CHECK_EQ_INT(val_dict_get(eos, "end")->u.i - val_dict_get(eos, "start")->u.i, 4);
        }
    }
    CHECK(found);
    val_unref(v);
    free(out);
    free(err);
    free(args);
}

TEST(render_exit_codes) {
    write_file("bad.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"reasoning_effort\": \"medium\"}");
    char *args = nt_xasprintf("--template %s --conversation %s/bad.json", TEMPLATE_PATH, test_tmpdir());
    char *out, *err;
    CHECK_EQ_INT(run(args, &out, &err), 3);
    CHECK_EQ_STR(out, "");
    CHECK_CONTAINS(err, "reasoning_effort must be either \"none\" or \"high\"");
    free(out); free(err); free(args);
    write_file("e.jinja", "x\n  {{ a.b.c }}");
    write_file("c.json", "{\"messages\": [], \"a\": {}}");
    args = nt_xasprintf("--template %s/e.jinja --conversation %s/c.json", test_tmpdir(), test_tmpdir());
    CHECK_EQ_INT(run(args, &out, &err), 1);
    CHECK_CONTAINS(err, "e.jinja:2:10: 'dict object' has no attribute 'b'");
    free(out); free(err); free(args);
    write_file("s.jinja", "{% if x %}");
    args = nt_xasprintf("--template %s/s.jinja --conversation %s/c.json", test_tmpdir(), test_tmpdir());
    CHECK_EQ_INT(run(args, &out, &err), 1);
    CHECK_CONTAINS(err, "s.jinja:1:");
    free(out); free(err); free(args);
    CHECK_EQ_INT(run("--template", &out, &err), 2);
    free(out); free(err);
}

TEST(render_reads_tokenizer_config_and_folders) {
    const char *d = test_tmpdir();
    char *mdir = nt_xasprintf("%s/model", d);
    nt_err e = {0};
    CHECK(!nt_mkdirs(mdir, &e));
    char *cfg = nt_xasprintf("%s/model/tokenizer_config.json", d);
    const char *json = "{\"bos_token\": {\"content\": \"<BOS>\"}, \"eos_token\": \"<EOS>\", "
                       "\"chat_template\": \"{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}\"}";
    CHECK(!nt_write_file_atomic(cfg, json, strlen(json), &e));
    write_file("ok.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}");
    char *out, *err;
    char *args = nt_xasprintf("--template %s --conversation %s/ok.json", cfg, d);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK_EQ_STR(out, "<BOS>a<EOS>b<EOS>");
    free(out); free(err); free(args);
    args = nt_xasprintf("--template %s --conversation %s/ok.json", mdir, d);
    CHECK_EQ_INT(run(args, &out, &err), 0);
    CHECK_EQ_STR(out, "<BOS>a<EOS>b<EOS>");
    free(out); free(err); free(args);
    free(cfg);
    free(mdir);
}

TEST_MAIN()
