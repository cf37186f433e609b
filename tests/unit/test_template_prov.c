/* Provenance: which message and field every output byte belongs to. Hand-derived spans for
 * the Mistral Small 4 format (spec §6) on our own template, and agreement of tmpl_turn_span
 * (one render) with axolotl's turn spans, which the oracle computes the way axolotl does
 * (two extra renders per turn with a placeholder turn, diffed). */
#include <stdlib.h>

#include "base/fileio.h"
#include "formats/json.h"
#include "template/tmpl.h"
#include "test.h"

#define PY "/usr/bin/python3"

static tmpl *load(const char *path) {
    char *text = NULL;
    size_t n = 0;
    nt_err err = {0};
    tmpl *t = NULL;
    if (nt_read_file(path, &text, &n, &err) || tmpl_compile(text, n, path, &t, &err))
        fprintf(stderr, "  %s\n", err.msg);
    free(text);
    return t;
}

static nt_status render_conv(const tmpl *t, const val *conv, tmpl_output *out, nt_err *err) {
    val *ctx = NULL;
    nt_status st = tmpl_context(conv, NULL, &ctx, err);
    if (!st) st = tmpl_render(t, ctx, NULL, out, err);
    val_unref(ctx);
    return st;
}

/* The span covering byte `at` of the output. */
static const tmpl_span *span_at(const tmpl_output *o, const char *needle, size_t skip) {
    const char *p = o->text;
    for (size_t k = 0; p && k <= skip; k++) p = strstr(k ? p + 1 : p, needle);
    if (!p) return NULL;
    size_t at = (size_t)(p - o->text);
    for (size_t i = 0; i < o->nspans; i++)
        if (o->spans[i].start <= at && at < o->spans[i].end) return &o->spans[i];
    return NULL;
}

#define CHECK_SPAN(o, needle, skip, msg, src, fld)                                            \
    do {                                                                                      \
        const tmpl_span *s_ = span_at(o, needle, skip);                                       \
        CHECK_MSG(s_ && s_->message == (msg) && s_->source == (src) && s_->field == (fld),    \
                  "'%s': got message %d source %d field %s", needle, s_ ? s_->message : -9,    \
                  s_ ? s_->source : -9, s_ ? tmpl_field_name(s_->field) : "-");                \
    } while (0)

static const char *CONV =
    "{\"messages\": ["
    "{\"role\": \"system\", \"content\": \"Be brief.\"},"
    "{\"role\": \"user\", \"content\": \"Weather?\"},"
    "{\"role\": \"assistant\", \"content\": [{\"type\": \"thinking\", \"thinking\": \"Need a tool.\"}, {\"type\": \"text\", \"text\": \"Checking.\"}],"
    " \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}]},"
    "{\"role\": \"tool\", \"content\": \"21C\"},"
    "{\"role\": \"assistant\", \"content\": \"It is 21C.\", \"reasoning_content\": \"Read it.\"}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"}}], \"reasoning_effort\": \"high\"}";

TEST(ms4_format_spans_by_hand) {
    tmpl *t = load("examples/tiny/chat_template.jinja");
    CHECK(t != NULL);
    if (!t) return;
    val *conv = NULL;
    nt_err err = {0};
    CHECK(!json_parse(CONV, strlen(CONV), &conv, &err));
    tmpl_output o = {0};
    CHECK_EQ_INT(render_conv(t, conv, &o, &err), NT_OK);
    /* spec §6: <s>, system in place, tools + settings before the first user turn, ... */
    CHECK_EQ_STR(o.text, "<s>[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT][AVAILABLE_TOOLS][{\"type\": \"function\", "
                         "\"function\": {\"name\": \"get_weather\"}}][/AVAILABLE_TOOLS][MODEL_SETTINGS]{\"reasoning_effort\": "
                         "\"high\"}[/MODEL_SETTINGS][INST]Weather?[/INST][THINK]Need a tool.[/THINK]Checking.[TOOL_CALLS]"
                         "get_weather[ARGS]{\"city\": \"Paris\"}</s>[TOOL_RESULTS]21C[/TOOL_RESULTS][THINK]Read it.[/THINK]It is 21C.</s>");
    CHECK_SPAN(&o, "<s>", 0, -1, TMPL_SRC_TEMPLATE, TMPL_F_NONE);
    CHECK_SPAN(&o, "[SYSTEM_PROMPT]", 0, 0, TMPL_SRC_TEMPLATE, TMPL_F_ROLE);
    CHECK_SPAN(&o, "Be brief.", 0, 0, TMPL_SRC_DATA, TMPL_F_CONTENT);
    CHECK_SPAN(&o, "[{\"type\"", 0, -1, TMPL_SRC_DATA, TMPL_F_TOOLS);
    CHECK_SPAN(&o, "[MODEL_SETTINGS]", 0, 1, TMPL_SRC_TEMPLATE, TMPL_F_ROLE);
    CHECK_SPAN(&o, "[INST]", 0, 1, TMPL_SRC_TEMPLATE, TMPL_F_ROLE);
    CHECK_SPAN(&o, "Weather?", 0, 1, TMPL_SRC_DATA, TMPL_F_CONTENT);
    CHECK_SPAN(&o, "[THINK]", 0, 2, TMPL_SRC_TEMPLATE, TMPL_F_THINKING);   /* written because of thinking */
    CHECK_SPAN(&o, "Need a tool.", 0, 2, TMPL_SRC_DATA, TMPL_F_THINKING);
    CHECK_SPAN(&o, "[/THINK]", 0, 2, TMPL_SRC_TEMPLATE, TMPL_F_THINKING);
    CHECK_SPAN(&o, "Checking.", 0, 2, TMPL_SRC_DATA, TMPL_F_CONTENT);
    CHECK_SPAN(&o, "[TOOL_CALLS]", 0, 2, TMPL_SRC_TEMPLATE, TMPL_F_TOOL_CALLS);
    CHECK_SPAN(&o, "get_weather[ARGS]", 0, 2, TMPL_SRC_DATA, TMPL_F_TOOL_CALLS);
    CHECK_SPAN(&o, "[ARGS]", 0, 2, TMPL_SRC_TEMPLATE, TMPL_F_TOOL_CALLS);
    CHECK_SPAN(&o, "{\"city\"", 0, 2, TMPL_SRC_DATA, TMPL_F_TOOL_CALLS);
    CHECK_SPAN(&o, "</s>", 0, 2, TMPL_SRC_TEMPLATE, TMPL_F_ROLE);
    CHECK_SPAN(&o, "[TOOL_RESULTS]", 0, 3, TMPL_SRC_TEMPLATE, TMPL_F_ROLE);
    CHECK_SPAN(&o, "21C[", 0, 3, TMPL_SRC_DATA, TMPL_F_CONTENT);
    CHECK_SPAN(&o, "[THINK]", 1, 4, TMPL_SRC_TEMPLATE, TMPL_F_REASONING);
    CHECK_SPAN(&o, "Read it.", 0, 4, TMPL_SRC_DATA, TMPL_F_REASONING);
    CHECK_SPAN(&o, "It is", 0, 4, TMPL_SRC_DATA, TMPL_F_CONTENT);
    CHECK_SPAN(&o, "</s>", 1, 4, TMPL_SRC_TEMPLATE, TMPL_F_ROLE);
    /* spans tile the output */
    size_t pos = 0;
    for (size_t i = 0; i < o.nspans; i++) {
        CHECK_EQ_INT(o.spans[i].start, pos);
        CHECK(o.spans[i].end > o.spans[i].start);
        pos = o.spans[i].end;
    }
    CHECK_EQ_INT(pos, o.len);
    /* the turn span of message 2: from [THINK] to the end of the arguments, not </s> */
    size_t s = 0, e = 0;
    CHECK(tmpl_turn_span(&o, 2, &s, &e));
    CHECK_EQ_INT(s, (size_t)(strstr(o.text, "[THINK]") - o.text));
    CHECK_EQ_INT(e, (size_t)(strstr(o.text, "</s>") - o.text));
    CHECK(!tmpl_turn_span(&o, 7, &s, &e));
    tmpl_output_free(&o);
    val_unref(conv);
    tmpl_free(t);
}

TEST(turn_spans_match_axolotl) {
    const char *shared = test_shared_dir();
    if (!shared) SKIP("../shared not present (the oracle lives there)");
    if (access(PY, X_OK) || system(PY " -c 'import jinja2' 2>/dev/null")) SKIP(PY " with jinja2 not available");
    const char *tmp = test_tmpdir();
    const char *tnames[] = {"oracles/templates/mistral-small-4-2603.third-party-copy.jinja",
                            "oracles/templates/mistral-common/v15_image_think.jinja",
                            "oracles/templates/mistral-common/v15.jinja",
                            "oracles/templates/mistral-common/v13_think.jinja",
                            "oracles/templates/mistral-common/v11_think.jinja",
                            "oracles/templates/mistral-common/v7.jinja"};
    nt_buf args = {0};
    for (size_t i = 0; i < sizeof tnames / sizeof *tnames; i++) nt_buf_printf(&args, " %s/%s", shared, tnames[i]);
    /* ours: the Mistral Small 4 format and the ChatML / Phi / Gemma styles */
    nt_buf_puts(&args, " examples/tiny/chat_template.jinja tests/templates/chatml_tools.jinja"
                       " tests/templates/phi_style.jinja tests/templates/gemma_style.jinja");
    char *cmd = nt_xasprintf(PY " tests/templates/gen_corpus.py 320 20260316 > %s/corpus.json && " PY
                             " tests/templates/axolotl_spans.py %s/oracles/chat_template/render.py %s/corpus.json %s/ax.json%s",
                             tmp, shared, tmp, tmp, args.data);
    CHECK_EQ_INT(system(cmd), 0);
    free(cmd);
    nt_buf_free(&args);
    char *cp = nt_xasprintf("%s/corpus.json", tmp), *ap = nt_xasprintf("%s/ax.json", tmp);
    val *corpus = NULL, *ax = NULL;
    nt_err err = {0};
    CHECK(!json_parse_file(cp, &corpus, &err) && !json_parse_file(ap, &ax, &err));
    free(cp);
    free(ap);
    size_t n = ax ? val_list_len(ax) : 0, same = 0;
    CHECK(n >= 1000);
    const char *cur = NULL;
    tmpl *t = NULL;
    for (size_t i = 0; i < n; i++) {
        const val *x = val_list_get(ax, i);
        const char *tp = val_dict_get(x, "template")->u.str.s;
        if (!cur || strcmp(cur, tp)) {
            tmpl_free(t);
            t = load(tp);
            cur = tp;
        }
        int64_t k = val_dict_get(x, "conv")->u.i, m = val_dict_get(x, "message")->u.i;
        tmpl_output o = {0};
        size_t s = 0, e = 0;
        bool ok = t && !render_conv(t, val_list_get(corpus, (size_t)k), &o, &err) &&
                  tmpl_turn_span(&o, (int32_t)m, &s, &e) && (int64_t)s == val_dict_get(x, "start")->u.i &&
                  (int64_t)e == val_dict_get(x, "end")->u.i;
        if (!ok && i - same < 5)
            fprintf(stderr, "  %s conv %lld message %lld: axolotl [%lld, %lld) newt [%zu, %zu) in %.400s\n", tp,
                    (long long)k, (long long)m, (long long)val_dict_get(x, "start")->u.i,
                    (long long)val_dict_get(x, "end")->u.i, s, e, o.text ? o.text : "");
        same += ok;
        tmpl_output_free(&o);
    }
    tmpl_free(t);
    fprintf(stderr, "  axolotl turn spans: %zu of %zu identical\n", same, n);
    CHECK_EQ_INT(same, n);
    val_unref(corpus);
    val_unref(ax);
}

TEST(generation_ranges) {
    const char *src = "a{% generation %}b{{ x }}{% endgeneration %}c{% generation %}{% endgeneration %}";
    tmpl *t = NULL;
    nt_err err = {0};
    CHECK(!tmpl_compile(src, strlen(src), "g", &t, &err));
    val *ctx = NULL;
    const char *cj = "{\"x\": \"\\u00e9\"}";
    CHECK(!json_parse(cj, strlen(cj), &ctx, &err));
    tmpl_output o = {0};
    CHECK(t && ctx && !tmpl_render(t, ctx, NULL, &o, &err));
    CHECK_EQ_STR(o.text, "ab\xc3\xa9" "c");
    CHECK_EQ_INT(o.ngeneration, 2);
    if (o.ngeneration == 2) {
        CHECK_EQ_INT(o.generation[0][0], 1); /* byte offsets: "b" + 2-byte e-acute */
        CHECK_EQ_INT(o.generation[0][1], 4);
        CHECK_EQ_INT(o.generation[1][0], 5);
        CHECK_EQ_INT(o.generation[1][1], 5);
    }
    tmpl_output_free(&o);
    val_unref(ctx);
    tmpl_free(t);
}

TEST_MAIN()
