/* Internal representation shared by the tokenizer files. Both formats load into the same
 * structure: a token table (id -> bytes), a bytes -> id map for the BPE vocabulary, a pair map
 * (left id, right id) -> (priority, merged id), added tokens in two tries and the
 * pre-tokenizer's regex stages. */
#ifndef NEWT_TOKENIZER_TOK_INTERNAL_H
#define NEWT_TOKENIZER_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/tok.h"
#include "tokenizer/tok_unicode.h"
#include "value/value.h"

#define TOK_NONE UINT32_MAX
#define TOK_MAX_STAGES 8
#define TOK_SHORT_PIECE 64 /* pieces up to this many bytes merge by linear scans, longer via a heap */

/* ---- hash maps (tok_map.c) ---- */

/* bytes -> id; keys live in the tokenizer's token table (no copies). */
typedef struct {
    uint32_t *slots; /* id + 1, 0 = empty */
    uint32_t mask;
    uint32_t n;
} tok_strmap;

/* (left, right) -> (priority, merged id). */
typedef struct {
    uint64_t *keys; /* UINT64_MAX = empty */
    uint64_t *vals; /* priority << 32 | id */
    uint64_t mask;
    uint64_t n;
} tok_pairmap;

uint64_t tok_hash_bytes(const uint8_t *p, size_t n);

/* ---- added tokens (tok_added.c) ---- */

typedef struct {
    char *content;
    uint32_t len, id;
    bool special, lstrip, rstrip, single_word, normalized;
    uint8_t *dec; /* what decoding emits for it (HF passes it through the decoder) */
    uint32_t dec_len;
} tok_added;

/* Byte trie; node 0 is the root. Children are a sibling list (few per node). */
typedef struct {
    uint32_t first_child, next_sibling;
    int32_t added; /* index into added[] or -1 */
    uint8_t byte;
} tok_trie_node;

typedef struct {
    tok_trie_node *nodes;
    uint32_t n, cap;
    uint8_t first[32]; /* bitmap of first bytes, to skip plain text quickly */
} tok_trie;

/* ---- pre-tokenizer (tok_pretok.c) ---- */

typedef enum {
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_MERGED_PREV,
    TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS,
} tok_split_behavior;

typedef struct {
    pcre2_code *re;   /* NULL when fast */
    bool fast;        /* the Tekken pattern: tok_tekken_match instead of PCRE2 */
    tok_split_behavior behavior;
    bool invert;
} tok_stage;

struct tok_tokenizer {
    tok_format format;
    char *source;
    uint32_t n_ids;   /* max id + 1 */
    uint8_t *bytes;   /* bytes of the model (BPE) tokens */
    uint64_t *off;    /* id -> bytes[off[id] .. off[id + 1]) */
    uint8_t *model;   /* id -> 0 no model token, 1 model token, 2 undecodable (raw) model token */
    int32_t *added_of; /* id -> index in added[] or -1 */
    uint8_t **pend;   /* while loading: per-id bytes before tok_finish_table packs them */
    uint32_t *pend_len;
    tok_strmap vocab; /* model tokens only */
    tok_pairmap pairs;
    uint32_t byte_id[256];
    bool ignore_merges;
    int32_t unk_for_bytes; /* HF BPE unk_token id for bytes missing from the vocab, or -1 */
    tok_added *added;
    uint32_t n_added;
    tok_trie trie_raw, trie_norm; /* normalized=false tokens, normalized=true tokens */
    tok_stage stages[TOK_MAX_STAGES];
    int n_stages;
    tok_uc_table uc; /* character classes, built for a fast stage or single_word tokens */
    int32_t roles[TOK_NROLES];
    int32_t post_prefix[4], post_suffix[4]; /* post-processor template ids, -1 terminated */
};

/* Scratch of one encoding thread. */
struct tok_scratch {
    pcre2_match_data *md[TOK_MAX_STAGES];
    uint32_t *sym_id, *sym_start, *sym_end;
    uint64_t sym_prio[TOK_SHORT_PIECE]; /* pair priorities of a short piece */
    int32_t *sym_prev, *sym_next;
    uint64_t *heap; /* BPE heap keys: priority << 32 | position of the left symbol */
    size_t sym_cap, heap_cap;
    /* piece cache: hash -> (piece bytes, ids) ; reset when full */
    uint64_t *cache_hash;
    uint32_t *cache_at;  /* index into cache_data of the entry, UINT32_MAX empty */
    uint32_t *cache_data;
    size_t cache_len, cache_cap;
    uint32_t cache_entries;
};

/* tok_map.c */
void tok_strmap_init(tok_strmap *m, uint32_t expected);
void tok_strmap_free(tok_strmap *m);
/* Inserts id for its bytes in t's table; returns false if the bytes were already present. */
bool tok_strmap_put(tok_strmap *m, const tok_tokenizer *t, uint32_t id);
uint32_t tok_strmap_get(const tok_strmap *m, const tok_tokenizer *t, const uint8_t *p, size_t n);
void tok_pairmap_init(tok_pairmap *m, uint64_t expected);
void tok_pairmap_free(tok_pairmap *m);
void tok_pairmap_put(tok_pairmap *m, uint32_t l, uint32_t r, uint32_t prio, uint32_t id);
/* Returns priority << 32 | id, or UINT64_MAX when the pair does not merge. */
static inline uint64_t tok_pairmap_get(const tok_pairmap *m, uint32_t l, uint32_t r) {
    uint64_t k = (uint64_t)l << 32 | r;
    uint64_t h = (k * 0x9E3779B97F4A7C15ull) >> 17;
    for (uint64_t i = h & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == k) return m->vals[i];
        if (m->keys[i] == UINT64_MAX) return UINT64_MAX;
    }
}

/* tok_core.c: building the token table */
tok_tokenizer *tok_new(tok_format format, const char *source, uint32_t n_ids);
/* Sets model token id's bytes (kind 1: part of the BPE vocabulary, 2: decode only); false if
 * the id is out of range or already set. */
bool tok_set_bytes(tok_tokenizer *t, uint32_t id, const uint8_t *p, size_t n, uint8_t kind);
/* Packs the bytes and builds the vocabulary map; false (with the id) on duplicate bytes. */
bool tok_finish_table(tok_tokenizer *t, uint32_t *dup_id);
static inline const uint8_t *tok_bytes_of(const tok_tokenizer *t, uint32_t id, size_t *n) {
    *n = (size_t)(t->off[id + 1] - t->off[id]);
    return t->bytes + t->off[id];
}
/* Registers an added token (content copied); ids outside the table are an error. */
nt_status tok_add_token(tok_tokenizer *t, const tok_added *a, nt_err *err);
/* Builds the tries, byte ids and role defaults once everything is loaded. */
nt_status tok_finalize(tok_tokenizer *t, nt_err *err);
/* Compiles an HF/Tekken pattern with PCRE2 (UTF, UCP, JIT), \s made to match U+0085 as
 * Oniguruma's Unicode \s does. */
nt_status tok_compile_regex(const char *pattern, size_t n, pcre2_code **out, nt_err *err);

/* tok_bytelevel.c: GPT-2's byte <-> unicode map */
/* Code point standing for byte b. */
uint32_t tok_byte_to_cp(uint8_t b);
/* Byte of a code point, or -1 if the code point does not stand for a byte. */
int tok_cp_to_byte(uint32_t cp);
/* Decodes a byte-level string into bytes (out holds at least n bytes); false if some
 * character is not in the map. */
bool tok_bytelevel_decode(const char *s, size_t n, uint8_t *out, size_t *out_n);
/* Appends the byte-level string of bytes p[0..n) to b. */
void tok_bytelevel_encode(nt_buf *b, const uint8_t *p, size_t n);

/* tok_utf8.c */
/* Offset of the first byte that is not part of valid UTF-8, or n when all is valid. */
size_t tok_utf8_check(const uint8_t *p, size_t n);
/* Decodes one code point at p (valid UTF-8 assumed); returns its length. */
int tok_utf8_next(const uint8_t *p, uint32_t *cp);
/* Appends p[0..n) to out with invalid sequences replaced by U+FFFD (Rust from_utf8_lossy). */
void tok_utf8_lossy(nt_buf *out, const uint8_t *p, size_t n);
bool tok_is_unicode_whitespace(uint32_t cp);

/* tok_trie.c */
void tok_trie_insert(tok_trie *tr, const char *s, size_t n, int32_t added_index);
void tok_trie_free(tok_trie *tr);

/* Longest pre-tokenized piece BPE accepts: its working memory is ~40 bytes per byte. */
#define TOK_MAX_PIECE (8u << 20)

/* tok_bpe.c: encodes one piece text[a..b) and appends its tokens to out. */
void tok_bpe_piece(const tok_tokenizer *t, tok_scratch *s, const uint8_t *text, size_t a,
                   size_t b, tok_encoding *out);
void tok_encoding_push(tok_encoding *e, int32_t id, uint32_t start, uint32_t end);

/* Sets up stage k (behavior, invert already set) for pattern: the hand-written matcher for
 * the Tekken pattern, PCRE2 for anything else. */
nt_status tok_stage_init(tok_tokenizer *t, tok_stage *st, const char *pattern, size_t n, nt_err *err);

/* tok_tekken_re.c */
extern const char tok_tekken_pattern[];
/* End of the Tekken-pattern match starting at p in s[0..len) (p < len; it always matches). */
size_t tok_tekken_match(const tok_uc_table *uc, const uint8_t *s, size_t len, size_t p);

/* tok_load_tekken.c: a tokenizer from Tekken ranks (also what tok_load_tekken uses). */
nt_status tok_from_ranks(const tok_ranks *r, const char *source, tok_tokenizer **out, nt_err *err);
/* tok_hf_model.c: the token table, merges and added tokens of a parsed tokenizer.json. */
nt_status tok_hf_build(const val *root, const char *path, tok_tokenizer **out, nt_err *err);
/* From an already parsed tokenizer.json / tekken.json (errors are not prefixed with a path). */
nt_status tok_hf_from_value(const val *root, const char *path, tok_tokenizer **out, nt_err *err);
nt_status tok_ranks_from_value(const val *root, tok_ranks *r, nt_err *err);
/* tok_load.c: special-token roles from tokenizer_config.json / special_tokens_map.json in dir. */
nt_status tok_load_roles(tok_tokenizer *t, const char *dir, nt_err *err);

/* tok_pretok.c: splits text[a..b) with the stages and BPE-encodes every piece. */
nt_status tok_pretok_encode(const tok_tokenizer *t, tok_scratch *s, const uint8_t *text, size_t a,
                            size_t b, tok_encoding *out, nt_err *err);

#endif
