/* The dataset pipeline: sources, bad rows and their counts, length rules, parallel
 * determinism, the prepared-cache key, and `newt preprocess`. */
#include "data/ds_prep.h"
#include "data/ds_source.h"
#include "ds_testutil.h"
#include "formats/json.h"

#define TMPL "chat_template: jinja\nchat_template_jinja: examples/tiny/chat_template.jinja\n"
#define GOOD(q, a) "{\"messages\": [{\"role\": \"user\", \"content\": \"" q "\"}, {\"role\": \"assistant\", \"content\": \"" a "\"}]}"

static char *write_tmp(const char *name, const char *text) {
    char *p = nt_path_join(test_tmpdir(), name);
    for (char *s = p + strlen(test_tmpdir()) + 1; (s = strchr(s, '/')); s++) { /* mkdir -p */
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    FILE *f = fopen(p, "wb");
    if (f) { fputs(text, f); fclose(f); }
    return p;
}

static char *long_row(void) {
    nt_buf b = {0};
    nt_buf_puts(&b, "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"");
    for (int i = 0; i < 100; i++) nt_buf_putc(&b, 'x');
    nt_buf_puts(&b, "\"}]}\n");
    nt_buf_putc(&b, '\0');
    return nt_buf_take(&b, NULL);
}

/* 9 rows (a blank line is not a row): 2 good, 1 bad JSON, 3 malformed, 1 template error,
 * 1 with nothing to train, 1 of 100+ tokens. */
static char *broken_file(void) {
    char *lr = long_row();
    char *text = nt_xasprintf(
        GOOD("Hi", "Hello") "\n"
        "{\"messages\": [oops\n"
        "   \n"
        "{\"messages\": \"not a list\"}\n"
        "{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}\n"
        GOOD("Q", "") "\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"only a question\"}]}\n"
        GOOD("Q2", "A2") "\n"
        "[1, 2]\n"
        "%s", lr);
    char *p = write_tmp("broken/broken.jsonl", text);
    free(text);
    free(lr);
    return p;
}

static cfg *cfg_for(const char *path, const char *extra) {
    char *y = nt_xasprintf(TMPL "sequence_len: 64\n%sdatasets:\n  - path: %s\n    type: chat_template\n", extra, path);
    cfg *c = dst_cfg(y);
    free(y);
    return c;
}

TEST(bad_rows_are_counted_by_reason) {
    char *p = broken_file();
    cfg *c = cfg_for(p, "");
    ds_set s = {0};
    ds_stats st = {0};
    nt_err err = {0};
    CHECK_MSG(ds_prepare(c, dst_tok(), 2, &s, &st, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(st.rows, 9);
    CHECK_EQ_INT(st.kept, 2);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(st.dropped[DS_DROP_JSON], 1);
    CHECK_EQ_INT(st.dropped[DS_DROP_ROW], 3);
    CHECK_EQ_INT(st.dropped[DS_DROP_TEMPLATE], 1);
    CHECK_EQ_INT(st.dropped[DS_DROP_UNTRAINED], 1);
    CHECK_EQ_INT(st.dropped[DS_DROP_TOO_LONG], 1);
    CHECK_EQ_INT(ds_stats_dropped(&st) + st.kept, st.rows);
    CHECK_EQ_INT(st.nnotes, 7);
    if (st.nnotes == 7) {
        CHECK_CONTAINS(st.notes[0], "broken.jsonl:2: ");
        CHECK_CONTAINS(st.notes[1], "broken.jsonl:4: ");
        CHECK_CONTAINS(st.notes[2], "broken.jsonl:5: message 0: unknown role 'bot'");
        CHECK_CONTAINS(st.notes[3], "broken.jsonl:6: template: ");
        CHECK_CONTAINS(st.notes[4], "broken.jsonl:7: no trained token");
        CHECK_CONTAINS(st.notes[5], "broken.jsonl:9: expected a JSON object");
        CHECK_CONTAINS(st.notes[6], "broken.jsonl:10: ");
    }
    /* rows 1 and 8 kept, in order. Tokens by hand (byte-level): <s>, [MODEL_SETTINGS],
     * {"reasoning_effort": "none"} (28 bytes), [/MODEL_SETTINGS] = 31; then
     * "[INST]Hi[/INST]Hello</s>" = 1 + 2 + 1 + 5 + 1 = 10: 41 */
    if (s.n == 2) {
        CHECK_EQ_INT(s.row[0], 1);
        CHECK_EQ_INT(s.row[1], 8);
        CHECK_EQ_INT(s.len[0], 41);
        CHECK_EQ_INT(ds_set_trained(&s, 0), 6); /* Hello</s> */
        CHECK_EQ_INT(ds_set_trained(&s, 1), 3); /* A2</s> */
    }
    CHECK_EQ_INT(st.trained, 9);
    ds_stats_free(&st);
    ds_set_free(&s);
    cfg_free(c);
    free(p);
}

TEST(strategies_raise_truncate_min_len) {
    char *p = broken_file();
    ds_set s = {0};
    ds_stats st = {0};
    nt_err err = {0};
    cfg *c = cfg_for(p, "malformed_row_strategy: raise\n");
    CHECK(ds_prepare(c, dst_tok(), 2, &s, &st, &err) != NT_OK);
    CHECK_CONTAINS(err.msg, "broken.jsonl:2: ");
    ds_stats_free(&st), ds_set_free(&s), cfg_free(c);
    c = cfg_for(p, "excess_length_strategy: raise\n");
    CHECK(ds_prepare(c, dst_tok(), 2, &s, &st, &err) != NT_OK);
    CHECK_CONTAINS(err.msg, "broken.jsonl:10: 135 tokens > sequence_len 64");
    ds_stats_free(&st), ds_set_free(&s), cfg_free(c);
    c = cfg_for(p, "excess_length_strategy: truncate\n");
    CHECK(ds_prepare(c, dst_tok(), 2, &s, &st, &err) == NT_OK);
    CHECK_EQ_INT(st.kept, 3);
    CHECK_EQ_INT(st.truncated, 1);
    if (s.n == 3) CHECK_EQ_INT(s.len[2], 64);
    if (s.n == 3) CHECK_EQ_INT(ds_set_trained(&s, 2), 64 - 34); /* the x's after the 34-token prompt */
    ds_stats_free(&st), ds_set_free(&s), cfg_free(c);
    c = cfg_for(p, "min_sample_len: 42\n");
    CHECK(ds_prepare(c, dst_tok(), 2, &s, &st, &err) == NT_OK);
    CHECK_EQ_INT(st.kept, 0);
    CHECK_EQ_INT(st.dropped[DS_DROP_TOO_SHORT], 2); /* 41 and 38 tokens */
    ds_stats_free(&st), ds_set_free(&s), cfg_free(c);
    free(p);
}

/* Trained tokens of the bundled dataset, derived from its JSON by the format's rule: per
 * assistant turn [THINK] + thinking bytes + [/THINK] + answer bytes + </s>. */
static uint64_t expected_trained(const char *path) {
    char *data = NULL;
    size_t n = 0;
    nt_err err = {0};
    uint64_t total = 0;
    if (nt_read_file(path, &data, &n, &err)) return 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        val *row = NULL;
        if (json_parse(line, strlen(line), &row, &err)) continue;
        const val *msgs = val_dict_get(row, "messages");
        for (size_t i = 0; i < val_list_len(msgs); i++) {
            const val *m = val_list_get(msgs, i);
            if (strcmp(val_dict_get(m, "role")->u.str.s, "assistant")) continue;
            total += 3 + val_dict_get(m, "thinking")->u.str.n + val_dict_get(m, "content")->u.str.n;
        }
        val_unref(row);
    }
    free(data);
    return total;
}

TEST(bundled_dataset_parallel_is_deterministic) {
    const char *path = "examples/tiny/data/chat.jsonl";
    cfg *c = cfg_for(path, "");
    char *y = nt_xasprintf(TMPL "sequence_len: 512\ndatasets:\n  - path: %s\n    type: chat_template\n"
                           "    message_property_mappings: {role: role, content: content, thinking: thinking}\n"
                           "    chat_template_kwargs: {reasoning_effort: high}\n", path);
    cfg_free(c);
    c = dst_cfg(y);
    free(y);
    ds_set a = {0}, b = {0};
    ds_stats sa = {0}, sb = {0};
    nt_err err = {0};
    CHECK_MSG(ds_prepare(c, dst_tok(), 1, &a, &sa, &err) == NT_OK, "%s", err.msg);
    CHECK_MSG(ds_prepare(c, dst_tok(), 3, &b, &sb, &err) == NT_OK, "%s", err.msg);
    CHECK_EQ_INT(sa.rows, 200);
    CHECK_EQ_INT(sa.kept, 200);
    CHECK_EQ_INT(sa.trained, expected_trained(path));
    CHECK_EQ_INT(a.n, b.n);
    CHECK_EQ_INT(a.ntok, b.ntok);
    CHECK(a.ntok == b.ntok && !memcmp(a.ids, b.ids, a.ntok * sizeof *a.ids) &&
          !memcmp(a.labels, b.labels, a.ntok * sizeof *a.labels));
    for (size_t i = 0; i < a.n && i < b.n; i++) CHECK(a.row[i] == i + 1 && b.row[i] == i + 1);
    ds_stats_free(&sa), ds_stats_free(&sb), ds_set_free(&a), ds_set_free(&b);
    cfg_free(c);
}

static size_t rows_of(const char *entry_yaml, nt_err *err, nt_status *st) {
    char *y = nt_xasprintf(TMPL "datasets:\n  - type: chat_template\n%s", entry_yaml);
    cfg *c = dst_cfg(y);
    free(y);
    ds_rows r = {0};
    *st = c ? ds_rows_read(&r, val_list_get(cfg_get(c, "datasets"), 0), 0, err) : NT_EINVAL;
    size_t n = r.nrows;
    ds_rows_free(&r);
    cfg_free(c);
    return n;
}

TEST(sources_files_folders_splits_and_errors) {
    char *a = write_tmp("src/train.jsonl", GOOD("a", "b") "\n" GOOD("c", "d") "\n");
    char *b = write_tmp("src/test.jsonl", GOOD("e", "f") "\n");
    char *l = write_tmp("src/list.json", "[" GOOD("a", "b") ", " GOOD("c", "d") ", " GOOD("e", "f") "]");
    char *o = write_tmp("obj/obj.json", "{\"version\": 1, \"data\": [" GOOD("a", "b") "]}");
    char *jl = write_tmp("jl/lines.json", GOOD("a", "b") "\n" GOOD("c", "d") "\n");
    char *pq = write_tmp("pq/x.parquet", "PAR1");
    char *sub = write_tmp("cfgs/small/part.jsonl", GOOD("a", "b") "\n");
    nt_err err = {0};
    nt_status st;
    char *dir = nt_path_join(test_tmpdir(), "src"), *y;
    /* a folder: only the files named after the split (default train) when some are */
    y = nt_xasprintf("    path: %s\n", dir);
    CHECK_EQ_INT(rows_of(y, &err, &st), 2); /* train.jsonl only */
    free(y);
    y = nt_xasprintf("    path: %s\n    split: test\n", dir);
    CHECK_EQ_INT(rows_of(y, &err, &st), 1);
    free(y);
    y = nt_xasprintf("    path: %s\n    data_files: [test.jsonl, list.json]\n", dir);
    CHECK_EQ_INT(rows_of(y, &err, &st), 4);
    free(y);
    y = nt_xasprintf("    path: %s\n", o);
    CHECK_EQ_INT(rows_of(y, &err, &st), 0);
    CHECK(st == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "set field_rows: to the key holding the rows (keys: 'version', 'data')");
    free(y);
    y = nt_xasprintf("    path: %s\n    field_rows: data\n", o);
    CHECK_EQ_INT(rows_of(y, &err, &st), 1);
    free(y);
    y = nt_xasprintf("    path: %s\n", jl);
    CHECK_EQ_INT(rows_of(y, &err, &st), 2);
    free(y);
    y = nt_xasprintf("    path: %s\n", pq);
    rows_of(y, &err, &st);
    CHECK(st == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "only .json and .jsonl files are supported yet");
    free(y);
    rows_of("    path: someorg/some_dataset\n", &err, &st);
    CHECK(st == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "Hugging Face hub datasets are not supported yet");
    rows_of("    path: ./missing.jsonl\n", &err, &st);
    CHECK(st == NT_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "datasets[0].path: ./missing.jsonl: no such file");
    char *cfgs = nt_path_join(test_tmpdir(), "cfgs");
    y = nt_xasprintf("    path: %s\n    name: small\n", cfgs);
    CHECK_EQ_INT(rows_of(y, &err, &st), 1);
    free(y);
    free(cfgs), free(dir), free(a), free(b), free(l), free(o), free(jl), free(pq), free(sub);
}

static void key_of(const char *data, const char *tpath, const char *extra, const tok_tokenizer *t, uint8_t *key) {
    char *y = nt_xasprintf("chat_template: jinja\nchat_template_jinja: %s\n%sdatasets:\n  - path: %s\n    type: chat_template\n",
                           tpath, extra, data);
    cfg *c = dst_cfg(y);
    nt_err err = {0};
    memset(key, 0, DS_CACHE_KEY_LEN);
    CHECK_MSG(c && ds_prepare_key(c, t, key, &err) == NT_OK, "%s", err.msg);
    cfg_free(c);
    free(y);
}

static char *file_text(const char *path) {
    char *d = NULL;
    size_t n = 0;
    nt_err err = {0};
    return nt_read_file(path, &d, &n, &err) ? nt_xstrdup("") : d;
}

TEST(cache_key_changes_with_every_input) {
    char *tt = file_text("examples/tiny/chat_template.jinja");
    char *data = write_tmp("key/d.jsonl", GOOD("Hi", "Hello") "\n");
    char *tp = write_tmp("key/t.jinja", tt);
    uint8_t k0[DS_CACHE_KEY_LEN], k[DS_CACHE_KEY_LEN];
    key_of(data, tp, "", dst_tok(), k0);
    key_of(data, tp, "", dst_tok(), k);
    CHECK(!memcmp(k0, k, sizeof k)); /* nothing changed: same key */
    free(write_tmp("key/d.jsonl", GOOD("Hj", "Hello") "\n")); /* one data byte */
    key_of(data, tp, "", dst_tok(), k);
    CHECK(memcmp(k0, k, sizeof k));
    free(write_tmp("key/d.jsonl", GOOD("Hi", "Hello") "\n"));
    key_of(data, tp, "", dst_tok(), k);
    CHECK(!memcmp(k0, k, sizeof k)); /* back to the same bytes: same key */
    char *t2 = nt_xasprintf("%s{# changed #}", tt); /* the template */
    free(write_tmp("key/t.jinja", t2));
    key_of(data, tp, "", dst_tok(), k);
    CHECK(memcmp(k0, k, sizeof k));
    free(write_tmp("key/t.jinja", tt));
    key_of(data, tp, "sequence_len: 1000\n", dst_tok(), k); /* a key */
    CHECK(memcmp(k0, k, sizeof k));
    key_of(data, tp, "chat_template_kwargs: {reasoning_effort: high}\n", dst_tok(), k);
    CHECK(memcmp(k0, k, sizeof k));
    /* the tokenizer: the same one written with another version string */
    char *tj = nt_path_join(dst_tok_dir(), "tekken.json"), *tok = file_text(tj), *v = strstr(tok, "\"v13\"");
    if (v) v[3] = '1';
    char *p2 = write_tmp("key/tok2/tekken.json", tok);
    char *dir2 = nt_path_join(test_tmpdir(), "key/tok2");
    tok_tokenizer *t2k = NULL;
    nt_err err = {0};
    CHECK_MSG(tok_load(dir2, &t2k, &err) == NT_OK, "%s", err.msg);
    if (t2k) {
        key_of(data, tp, "", t2k, k);
        CHECK(memcmp(k0, k, sizeof k));
    }
    tok_free(t2k);
    free(tj), free(tok), free(p2), free(dir2), free(t2), free(tt), free(data), free(tp);
}

static int count_lines(const char *path) {
    char *t = file_text(path);
    int n = 0;
    for (char *p = t; *p; p++) n += *p == '\n';
    free(t);
    return n;
}

TEST(cli_preprocess_summary_export_debug_and_reuse) {
    char *p = broken_file();
    char *dir = nt_path_join(test_tmpdir(), "prepared"), *out = nt_path_join(test_tmpdir(), "export.jsonl");
    char *y = nt_xasprintf("base_model: %s\nlearning_rate: 1e-4\n" TMPL "sequence_len: 64\nsample_packing: true\n"
                           "dataset_prepared_path: %s\ndatasets:\n  - path: %s\n    type: chat_template\n",
                           dst_tok_dir(), dir, p);
    char *cp = write_tmp("cli/cfg.yml", y);
    char *cmd = nt_xasprintf("%s preprocess %s --export-jsonl %s --debug --debug-num-examples 1 --threads 2 2>&1",
                             test_newt_bin(), cp, out), *o = NULL;
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    CHECK_CONTAINS(o, "rows read         9\n");
    CHECK_CONTAINS(o, "samples kept      2 (truncated 0)\n");
    CHECK_CONTAINS(o, "rows dropped      7\n");
    CHECK_CONTAINS(o, "  bad JSON           1\n");
    CHECK_CONTAINS(o, "  malformed row      3\n");
    CHECK_CONTAINS(o, "  template error     1\n");
    CHECK_CONTAINS(o, "  too long           1\n");
    CHECK_CONTAINS(o, "  no trained token   1\n");
    CHECK_CONTAINS(o, "dropped: ");
    CHECK_CONTAINS(o, "broken.jsonl:5: message 0: unknown role 'bot'");
    CHECK_CONTAINS(o, "tokens            79 (trained 9, 11.4%)");
    CHECK_CONTAINS(o, "(built)");
    CHECK_CONTAINS(o, "split             train 2, validation 0");
    CHECK_CONTAINS(o, "packing           2 samples in 2 bins of 64 tokens");
    CHECK_CONTAINS(o, "<s>(-100, 1) ");          /* plain debug: label and id per token */
    CHECK_CONTAINS(o, "«</s>(2, 2)»");          /* trained tokens marked without colour */
    CHECK_EQ_INT(count_lines(out), 2);
    char *ex = file_text(out);
    CHECK_CONTAINS(ex, "\"labels\": [-100, ");
    CHECK_CONTAINS(ex, "\"dataset\": 0, \"row\": ");
    free(ex);
    free(o);
    CHECK_EQ_INT(test_run(cmd, &o), 0); /* nothing changed: reused */
    CHECK_CONTAINS(o, "(reused: nothing changed)");
    free(o);
    free(cmd);
    cmd = nt_xasprintf("%s preprocess %s --debug --debug-num-examples 1 --color 2>&1", test_newt_bin(), cp);
    CHECK_EQ_INT(test_run(cmd, &o), 0);
    CHECK_CONTAINS(o, "\x1b[31m<s>(-100, 1)\x1b[0m");  /* masked: red */
    CHECK_CONTAINS(o, "\x1b[32m</s>(2, 2)\x1b[0m");    /* trained: green */
    free(o), free(cmd);
    cmd = nt_xasprintf("%s preprocess %s --malformed_row_strategy raise 2>&1", test_newt_bin(), cp);
    CHECK_EQ_INT(test_run(cmd, &o), 1);
    CHECK_CONTAINS(o, "broken.jsonl:2: ");
    free(o), free(cmd), free(cp), free(y), free(dir), free(out), free(p);
}

TEST_MAIN()
