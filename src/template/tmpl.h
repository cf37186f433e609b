/* Chat templates: a Jinja2 engine that renders what transformers' apply_chat_template renders
 * (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loop controls, transformers'
 * tojson / raise_exception / strftime_now, {% generation %}), and that records, for every output
 * byte, which message it belongs to and whether it is that message's data or template text
 * written on its behalf. The provenance rule is documented in docs/templates.md.
 *
 *   tmpl *t; tmpl_output out; nt_err err = {0};
 *   tmpl_compile(src, n, "chat_template.jinja", &t, &err);
 *   tmpl_render(t, ctx, NULL, &out, &err);   // ctx: dict of template kwargs
 *   ... out.text / out.len / out.spans ...
 *   tmpl_output_free(&out); tmpl_free(t);
 *
 * A compiled template is immutable: several threads may render it at once. */
#ifndef NEWT_TEMPLATE_TMPL_H
#define NEWT_TEMPLATE_TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "value/value.h"

typedef struct tmpl tmpl;

/* Where a run of output bytes came from. */
typedef enum {
    TMPL_SRC_TEMPLATE = 0, /* literal template text (or a special-token kwarg) */
    TMPL_SRC_DATA = 1,     /* bytes of a string from the conversation data */
} tmpl_source;

/* Which field of a message (or of the context) a run belongs to. For TEMPLATE runs it is the
 * field whose value decided that the text is written: TMPL_F_ROLE means "structural text for
 * this message" (headers, terminators), TMPL_F_THINKING means e.g. the [THINK] a template
 * writes only because the message has thinking. */
typedef enum {
    TMPL_F_NONE = 0,
    TMPL_F_ROLE,
    TMPL_F_CONTENT,
    TMPL_F_THINKING,   /* a {"type": "thinking"} content chunk, or a "thinking" field */
    TMPL_F_REASONING,  /* "reasoning_content" / "reasoning" field */
    TMPL_F_TOOL_CALLS,
    TMPL_F_OTHER,      /* any other message key (name, tool_call_id, ...) */
    TMPL_F_MESSAGE,    /* the message as a whole (internal; reported as TMPL_F_ROLE) */
    TMPL_F_TOOLS,      /* the `tools` kwarg (message = -1) */
    TMPL_F_DOCUMENTS,  /* the `documents` kwarg (message = -1) */
    TMPL_F_COUNT
} tmpl_field;

typedef struct {
    size_t start, end;  /* byte offsets [start, end) in the output */
    int32_t message;    /* index into `messages`, or -1 */
    uint8_t source;     /* tmpl_source */
    uint8_t field;      /* tmpl_field */
} tmpl_span;

typedef struct {
    char *text; /* NUL-terminated; len excludes the NUL */
    size_t len;
    tmpl_span *spans; /* consecutive, covering [0, len) exactly, adjacent runs differ */
    size_t nspans;
    size_t (*generation)[2]; /* byte ranges of {% generation %} blocks */
    size_t ngeneration;
} tmpl_output;

/* Bounds that keep a hostile template from hanging or exhausting memory (0 = default). */
typedef struct {
    size_t max_output;     /* bytes of output (default 16 MiB) */
    size_t max_memory;     /* bytes of scratch values per render (default 256 MiB) */
    uint64_t max_steps;    /* loop iterations + macro calls (default 2,000,000) */
    int max_depth;         /* macro call / recursive loop depth (default 64) */
    const char *now;       /* "YYYY-MM-DDTHH:MM:SS" for strftime_now; NULL = the clock */
} tmpl_opts;

/* Parses a template. Syntax errors name "<name>:line:col". */
nt_status tmpl_compile(const char *src, size_t n, const char *name, tmpl **out, nt_err *err);
void tmpl_free(tmpl *t);

/* Renders with ctx (a VAL_DICT of template kwargs; `messages` entries get provenance).
 * raise_exception(msg) gives NT_ERAISE with exactly msg; other runtime errors give
 * NT_EINVAL (NT_ELIMIT for limits) with "<name>:line:col: <Jinja2's message>". */
nt_status tmpl_render(const tmpl *t, const val *ctx, const tmpl_opts *o, tmpl_output *out,
                      nt_err *err);
void tmpl_output_free(tmpl_output *o);

/* The bytes a training mask takes for message msg, as axolotl intends it (the region where the
 * rendering of this turn differs from one with placeholder content and no thinking): from the
 * first to the last byte of msg that is its content, thinking, reasoning or tool calls, or
 * template text written because of those fields. False if there is none. The terminator
 * (</s>, <|im_end|>, ...) is structural text of msg (TMPL_F_ROLE) right after *end. */
bool tmpl_turn_span(const tmpl_output *o, int32_t msg, size_t *start, size_t *end);
/* All bytes attributed to msg (data and template text): first and last. */
bool tmpl_message_span(const tmpl_output *o, int32_t msg, size_t *start, size_t *end);

/* "role", "content", ... ; "none" for TMPL_F_NONE. */
const char *tmpl_field_name(int field);

/* Reads a template from a .jinja file, a tokenizer_config.json / chat_template.json (its
 * "chat_template" field; a list of {name, template} picks "default"), or a model folder
 * (chat_template.jinja, then chat_template.json, then tokenizer_config.json). *special gets
 * the special tokens named in a tokenizer_config.json next to it (a dict, possibly empty). */
nt_status tmpl_load(const char *path, char **text, size_t *len, val **special, nt_err *err);

/* Builds the render kwargs the way transformers does from a conversation object
 * {"messages": [...], "tools": ..., "documents": ..., "add_generation_prompt": ...,
 *  "special_tokens": {...}, "kwargs": {...}, any other key}: the special-token defaults
 * (<s>, </s>, <unk>, <pad>), overridden by `special` (may be NULL) and the conversation's
 * "special_tokens", then messages/tools/documents/add_generation_prompt and the extras. */
nt_status tmpl_context(const val *conversation, const val *special, val **ctx, nt_err *err);

#endif
