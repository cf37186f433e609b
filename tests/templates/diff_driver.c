/* Batch renderer for tests/templates/diff_fuzz.py (a dev tool, not built by the Makefile).
 *
 *   diff_driver CASES.json [FIRST]
 *
 * CASES.json is [{"template": str, "context": {...}}, ...]. For every case from index FIRST on it
 * writes one record to stdout, flushed at once so that a crash or hang names its case:
 *   "<status> <nbytes>\n" then nbytes of output (status 0) or of the error message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
#include "template/tmpl.h"

static void emit(int st, const char *s, size_t n) {
    printf("%d %zu\n", st, n);
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

static void render_one(const val *c) {
    nt_err err = {0};
    tmpl *t = NULL;
    tmpl_output out = {0};
    const val *src = val_dict_get(c, "template");
    const val *ctx = val_dict_get(c, "context");
    if (!val_is(src, VAL_STR)) { emit(NT_EINVAL, "bad case", 8); return; }
    nt_status st = tmpl_compile(src->u.str.s, src->u.str.n, "t", &t, &err);
    if (!st) st = tmpl_render(t, ctx, &(tmpl_opts){.now = "2026-03-16T12:00:00"}, &out, &err);
    if (st) emit(st, err.msg, strlen(err.msg));
    else emit(0, out.text, out.len);
    tmpl_output_free(&out);
    tmpl_free(t);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: diff_driver CASES.json [FIRST]\n"); return 2; }
    val *cases = NULL;
    nt_err err = {0};
    if (json_parse_file(argv[1], &cases, &err) || !val_is(cases, VAL_LIST)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    size_t first = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    for (size_t i = first; i < val_list_len(cases); i++) render_one(val_list_get(cases, i));
    val_unref(cases);
    return 0;
}
