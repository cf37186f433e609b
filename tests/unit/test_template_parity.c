/* Parity of the template engine with the Jinja2 oracle (../shared/oracles/chat_template):
 * a seeded corpus of >= 300 conversations (tests/templates/gen_corpus.py) rendered with every
 * template in ../shared/oracles/templates plus our own (the .jinja files in tests/templates/ and
 * examples/tiny/chat_template.jinja), byte for byte, including raise_exception messages.
 * Skipped when ../shared or /usr/bin/python3 with Jinja2 is missing. */
#include <dirent.h>
#include <stdlib.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "template/tmpl.h"
#include "test.h"

#define PY "/usr/bin/python3"

static bool have_oracle_python(void) {
    return access(PY, X_OK) == 0 && system(PY " -c 'import jinja2' 2>/dev/null") == 0;
}

static void add_dir(nt_buf *list, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        size_t l = strlen(e->d_name);
        if (l > 6 && !strcmp(e->d_name + l - 6, ".jinja")) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (int i = 0; i < n; i++) /* sorted, so the order is stable */
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) { char *t = names[i]; names[i] = names[j]; names[j] = t; }
    for (int i = 0; i < n; i++) {
        nt_buf_printf(list, "%s/%s\n", dir, names[i]);
        free(names[i]);
    }
}

/* One template against the oracle's results for it; returns the number of mismatches. */
static int check_template(const char *path, const val *corpus, const val *results, size_t base,
                          int *ok_renders) {
    char *text = NULL;
    size_t len = 0;
    nt_err err = {0};
    tmpl *t = NULL;
    if (nt_read_file(path, &text, &len, &err) || tmpl_compile(text, len, path, &t, &err)) {
        fprintf(stderr, "  %s: %s\n", path, err.msg);
        free(text);
        return 1;
    }
    int bad = 0;
    for (size_t i = 0; i < val_list_len(corpus); i++) {
        const val *want = val_list_get(results, base + i);
        int64_t rc = val_dict_get(want, "rc")->u.i;
        const val *wout = val_dict_get(want, "out");
        val *ctx = NULL;
        tmpl_output out = {0};
        nt_err e2 = {0};
        nt_status st = tmpl_context(val_list_get(corpus, i), NULL, &ctx, &e2);
        if (!st) st = tmpl_render(t, ctx, &(tmpl_opts){.now = "2026-03-16T12:00:00"}, &out, &e2);
        bool same;
        if (rc == 0) same = !st && out.len == wout->u.str.n && !memcmp(out.text, wout->u.str.s, out.len);
        else if (rc == 3) /* raise_exception: same message; other TemplateErrors: message after the location */
            same = (st == NT_ERAISE && !strcmp(e2.msg, wout->u.str.s)) ||
                   (st && st != NT_ERAISE && strlen(e2.msg) >= wout->u.str.n &&
                    !strcmp(e2.msg + strlen(e2.msg) - wout->u.str.n, wout->u.str.s));
        else same = st != NT_OK; /* a Python exception: we must fail too */
        if (!st && rc == 0) (*ok_renders)++;
        if (!same && bad++ < 3)
            fprintf(stderr, "  MISMATCH %s conv %zu: oracle rc=%lld [%.300s]\n    newt st=%d [%.300s]\n", path, i,
                    (long long)rc, wout->u.str.s, (int)st, st ? e2.msg : out.text);
        tmpl_output_free(&out);
        val_unref(ctx);
    }
    tmpl_free(t);
    free(text);
    return bad;
}

TEST(parity_with_jinja2_oracle) {
    const char *shared = test_shared_dir();
    if (!shared) SKIP("../shared not present (the oracle and the third-party templates live there)");
    if (!have_oracle_python()) SKIP(PY " with jinja2 not available");
    const char *tmp = test_tmpdir();
    nt_buf list = {0};
    char *d1 = nt_xasprintf("%s/oracles/templates", shared), *d2 = nt_xasprintf("%s/oracles/templates/mistral-common", shared);
    add_dir(&list, d1);
    add_dir(&list, d2);
    add_dir(&list, "tests/templates");
    if (access("examples/tiny/chat_template.jinja", R_OK) == 0) nt_buf_printf(&list, "examples/tiny/chat_template.jinja\n");
    free(d1);
    free(d2);
    nt_buf args = {0};
    for (char *p = list.data, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) nt_buf_printf(&args, " '%.*s'", (int)(nl - p), p);
    char *cmd = nt_xasprintf(PY " tests/templates/gen_corpus.py 320 20260316 > %s/corpus.json && " PY
                             " tests/templates/oracle_batch.py %s/oracles/chat_template/render.py %s/corpus.json %s/oracle.json%s",
                             tmp, shared, tmp, tmp, args.data);
    int rc = system(cmd);
    free(cmd);
    CHECK_EQ_INT(rc, 0);
    val *corpus = NULL, *results = NULL;
    nt_err err = {0};
    char *cp = nt_xasprintf("%s/corpus.json", tmp), *op = nt_xasprintf("%s/oracle.json", tmp);
    if (rc == 0 && !json_parse_file(cp, &corpus, &err) && !json_parse_file(op, &results, &err)) {
        size_t nconv = val_list_len(corpus), ntmpl = 0, base = 0;
        CHECK(nconv >= 300);
        int mismatches = 0;
        for (char *p = list.data, *nl; p && (nl = strchr(p, '\n')); p = nl + 1, base += nconv, ntmpl++) {
            *nl = 0;
            int ok = 0;
            mismatches += check_template(p, corpus, results, base, &ok);
            CHECK_MSG(ok >= 30, "%s: only %d conversations rendered without error", p, ok);
            *nl = '\n';
        }
        CHECK(ntmpl >= 16);
        CHECK_EQ_INT(val_list_len(results), ntmpl * nconv);
        CHECK_EQ_INT(mismatches, 0);
        fprintf(stderr, "  parity: %zu templates x %zu conversations, %d mismatches\n", ntmpl, nconv, mismatches);
    } else {
        CHECK_MSG(0, "%s", err.msg);
    }
    val_unref(corpus);
    val_unref(results);
    free(cp);
    free(op);
    nt_buf_free(&list);
    nt_buf_free(&args);
}

TEST_MAIN()
