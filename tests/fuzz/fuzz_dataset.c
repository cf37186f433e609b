/* Fuzzes one dataset row through type: chat_template (key mapping, thinking, per-turn flags and
 * character details, the render, the tokenizer, the masks): any row must give a sample whose
 * labels are -100 or the token itself, or an error with a malformed-row reason — never a crash
 * or leak. The tokenizer is byte-level (built here); the template is ours. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "config/config.h"
#include "data/ds_chat.h"
#include "formats/json.h"
#include "fuzz.h"
#include "tokenizer/tok.h"
#include "tokenizer/tok_internal.h"

static void fuzz_seeds(fuzz_corpus *c) {
    static const char *seeds[] = {
        "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}",
        "{\"system\": \"S\", \"messages\": [{\"role\": \"human\", \"content\": \"é日\"}, {\"role\": \"gpt\", \"thinking\": \"t\", \"content\": \"a\", \"train\": false},"
        " {\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"Hello world\", \"d\": [{\"begin_offset\": 1, \"end_offset\": 4, \"train\": true}]}]}",
        "{\"tools\": \"[{\\\"name\\\": \\\"f\\\"}]\", \"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"tool_calls\": "
        "[{\"function\": {\"name\": \"f\", \"arguments\": {\"x\": 1}}}]}, {\"role\": \"tool\", \"content\": \"r\"}, {\"role\": \"assistant\", \"content\": "
        "[{\"type\": \"thinking\", \"thinking\": \"h\", \"closed\": false}, {\"type\": \"text\", \"text\": \"A\"}]}]}",
        "{\"messages\": \"[{\\\"role\\\": \\\"user\\\", \\\"content\\\": \\\"x\\\"}, {\\\"role\\\": \\\"assistant\\\", \\\"reasoning_content\\\": \\\"r\\\", \\\"content\\\": \\\"y\\\"}]\"}",
        "{\"messages\": [{\"role\": \"system\", \"content\": [{\"type\": \"text\", \"text\": \"s\"}]}, {\"role\": \"assistant\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) fuzz_add(c, seeds[i], strlen(seeds[i]));
}

/* The tiny tokenizer in a fresh temporary folder; NULL on failure. */
static tok_tokenizer *make_tokenizer(char *dir) {
    tok_ranks r;
    tok_ranks_byte_level(&r, 38);
    char *path = nt_path_join(dir, "tekken.json");
    nt_err err = {0};
    tok_tokenizer *t = NULL;
    if (tok_write_tekken_json(&r, path, &err) || tok_load(path, &t, &err)) fprintf(stderr, "fuzz_dataset: %s\n", err.msg);
    unlink(path);
    rmdir(dir);
    free(path);
    tok_ranks_free(&r);
    return t;
}

static const ds_chat *setup(void) {
    static ds_chat dc;
    static bool ready;
    if (ready) return &dc;
    char dir[] = "/tmp/newt-fuzz-ds-XXXXXX";
    if (!mkdtemp(dir)) abort();
    tok_tokenizer *t = make_tokenizer(dir);
    static const char yaml[] =
        "base_model: unused\nlearning_rate: 1e-4\nchat_template: jinja\n"
        "chat_template_jinja: examples/tiny/chat_template.jinja\ndatasets:\n  - path: x.jsonl\n"
        "    type: chat_template\n    message_property_mappings: {role: role, content: content, thinking: thinking}\n"
        "    message_field_training: train\n    message_field_training_detail: d\n";
    cfg *c = NULL;
    nt_err err = {0};
    if (!t || cfg_load_text(yaml, strlen(yaml), "fuzz.yml", 0, NULL, &c, &err) || ds_chat_init(&dc, c, 0, t, &err)) {
        fprintf(stderr, "fuzz_dataset: setup: %s\n", err.msg);
        abort();
    }
    cfg_free(c);
    ready = true;
    return &dc;
}

static void fuzz_target(const uint8_t *data, size_t n) {
    const ds_chat *dc = setup();
    val *row = NULL;
    nt_err err = {0};
    if (json_parse((const char *)data, n, &row, &err)) return;
    ds_sample s = {0};
    ds_drop why = DS_DROP_COUNT;
    if (ds_chat_encode(dc, row, NULL, &s, &why, &err) == NT_OK) {
        for (size_t i = 0; i < s.n; i++)
            if (s.labels[i] != DS_IGNORE_INDEX && s.labels[i] != s.ids[i]) {
                fprintf(stderr, "fuzz_dataset: label %zu is neither -100 nor the token\n", i);
                abort();
            }
    } else if (!ds_drop_malformed(why) || !err.msg[0]) {
        fprintf(stderr, "fuzz_dataset: error without a malformed-row reason: %d '%s'\n", (int)why, err.msg);
        abort();
    }
    ds_sample_free(&s);
    val_unref(row);
}

FUZZ_MAIN()
