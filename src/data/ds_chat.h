/* axolotl's `type: chat_template` for one dataset entry: its keys resolved once (ds_chat_init),
 * then each row turned into token ids and exact labels with one template render
 * (ds_chat_encode). The masking rule is documented in docs/datasets.md.
 *
 *   ds_chat c; nt_err err = {0};
 *   if (ds_chat_init(&c, cfg, 0, tok, &err)) ...;
 *   ds_sample s = {0}; ds_drop why;
 *   if (ds_chat_encode(&c, row, scratch, &s, &why, &err)) ... err.msg, why ...;
 *   ... s.ids[i], s.labels[i] (DS_IGNORE_INDEX = masked) ...
 *   ds_sample_free(&s); ds_chat_free(&c);
 *
 * A ds_chat is immutable after init: any number of threads may encode with it, each with its
 * own tok_scratch (rows reference the ds_chat's values; value refcounts are atomic). */
#ifndef NEWT_DATA_DS_CHAT_H
#define NEWT_DATA_DS_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "config/config.h"
#include "data/ds_set.h"
#include "template/tmpl.h"
#include "tokenizer/tok.h"
#include "value/value.h"

/* Why a row did not become a sample (the summary counts each). */
typedef enum {
    DS_DROP_JSON,      /* the line is not valid JSON */
    DS_DROP_ROW,       /* wrong shape: no messages, wrong types, unknown role, bad flags */
    DS_DROP_TEMPLATE,  /* the template raised or failed, or the text did not tokenize */
    DS_DROP_SPAN,      /* a turn that should train has no span in the render */
    DS_DROP_TOO_LONG,  /* over sequence_len with excess_length_strategy: drop */
    DS_DROP_TOO_SHORT, /* under min_sample_len */
    DS_DROP_UNTRAINED, /* no trained token */
    DS_DROP_COUNT
} ds_drop;

const char *ds_drop_name(ds_drop d); /* "bad JSON", "malformed row", ... */
/* Malformed rows (the first four reasons) can be made fatal by malformed_row_strategy. */
static inline bool ds_drop_malformed(ds_drop d) { return d <= DS_DROP_SPAN; }

typedef enum { DS_EOS_TURN, DS_EOS_ALL, DS_EOS_LAST, DS_EOS_NONE } ds_eos_mode;

/* How a message's thinking reaches the template (decided from the template's text). */
typedef enum {
    DS_THINK_REASONING, /* the template reads reasoning_content: thinking goes there */
    DS_THINK_CHUNK,     /* the template renders {"type": "thinking"} content chunks */
    DS_THINK_FIELD,     /* neither: the `thinking` key is passed as is */
} ds_think_style;

typedef struct {
    uint32_t index;               /* position in the config's datasets list */
    char *field_messages, *field_system, *field_tools;
    char *field_thinking, *template_thinking_key;
    val *mappings;                /* dict: template key -> dataset key */
    val *roles;                   /* dict: dataset role -> template role */
    val *roles_to_train;          /* list of template role names */
    bool train_on_inputs, drop_system;
    ds_eos_mode eos_mode, eot_mode;
    int32_t eos_id;
    int32_t *eot_ids;
    size_t neot;
    char *field_training, *field_training_detail; /* NULL when unset */
    val *kwargs;                  /* chat_template_kwargs, top level merged with this entry's */
    tmpl *tmpl;
    char *tmpl_text;              /* the template source (hashed by the prepared cache) */
    size_t tmpl_len;
    val *special;                 /* special-token kwargs (bos_token, ...) */
    ds_think_style think;
    const tok_tokenizer *tok;
} ds_chat;

/* Resolves datasets[index] of c (with the top-level keys it inherits) for tokenizer t. Errors
 * name the key: "datasets[0].train_on_eos: ...", "eot_tokens: '<|im_end|>' is not one token". */
nt_status ds_chat_init(ds_chat *dc, const cfg *c, size_t index, const tok_tokenizer *t, nt_err *err);
void ds_chat_free(ds_chat *dc);

typedef struct {
    int32_t *ids, *labels;
    size_t n, cap;
    /* trained turns whose terminator (the structure right after them, e.g. <|im_end|>\n) holds
     * no EOS or eot_tokens token although train_on_eos/eot would train one: usually a missing
     * eot_tokens entry (axolotl trains nothing there, silently) */
    uint32_t unterminated;
} ds_sample;

void ds_sample_free(ds_sample *s);

/* Turns one row (a JSON object) into ids and labels. On failure *why says which drop reason
 * applies and err names the message at fault ("message 2: unknown role 'bot'"). */
nt_status ds_chat_encode(const ds_chat *dc, const val *row, tok_scratch *scratch, ds_sample *out,
                         ds_drop *why, nt_err *err);

/* ---- internals shared by ds_chat*.c ---- */

/* Per-message training decision built with the conversation. */
typedef struct {
    bool train;
    const val *detail; /* message_field_training_detail list, or NULL */
} ds_turn;

/* Builds the template's conversation object {messages, tools?, ...kwargs} from a row, and one
 * ds_turn per message. */
nt_status ds_chat_conversation(const ds_chat *dc, const val *row, val **conv, ds_turn **turns,
                               size_t *nturns, nt_err *err);
/* Labels for a render and its tokens (labels has e->n entries); *unterminated as in ds_sample. */
nt_status ds_chat_labels(const ds_chat *dc, const tmpl_output *o, const val *messages,
                         const ds_turn *turns, const tok_encoding *e, int32_t *labels,
                         uint32_t *unterminated, ds_drop *why, nt_err *err);

#endif
