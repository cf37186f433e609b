/* The prepared-dataset cache (config dataset_prepared_path): the tokenized train and validation
 * sets in one binary file, mmapped on read, keyed by a hash of every input that changes the
 * result. Format and semantics: docs/datasets.md, "Prepared cache format".
 *
 *   ds_cache_key k;
 *   ds_cache_key_init(&k);
 *   ds_cache_key_file(&k, "data", "chat.jsonl", &err);        // each data file's bytes
 *   ds_cache_key_file(&k, "tokenizer", "tokenizer.json", &err);
 *   ds_cache_key_str(&k, "template", template_text);
 *   ds_cache_key_config(&k, relevant_keys);                    // dict of config keys
 *   uint8_t key[DS_CACHE_KEY_LEN]; ds_cache_key_final(&k, key);
 *
 *   ds_cache c; bool reused;
 *   ds_cache_get(cfg_prepared_path, key, build_fn, ctx, &c, &reused, &err);
 *   ... c.train, c.val (borrowed columns in the mapping) ...
 *   ds_cache_close(&c);
 *
 * Files live at <dataset_prepared_path>/<64 hex digits of the key>/prepared.bin, written
 * atomically (temp file, fsync, rename). A missing file is built; a corrupt, truncated or
 * foreign-version file is rebuilt (with a warning) by ds_cache_get and reported as NT_EPARSE
 * by ds_cache_read; it never crashes. Little-endian hosts only (checked at compile time). */
#ifndef NEWT_DATA_DS_CACHE_H
#define NEWT_DATA_DS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/fileio.h"
#include "base/hash.h"
#include "data/ds_set.h"
#include "value/value.h"

#define DS_CACHE_KEY_LEN 32
#define DS_CACHE_MAGIC "NEWTPREP"
#define DS_CACHE_VERSION 1u
#define DS_CACHE_HEADER 128
#define DS_CACHE_ALIGN 64
#define DS_CACHE_FILE "prepared.bin"

/* Key builder: one BLAKE2b-256 stream. Every item is framed as tag, NUL, 8-byte length, bytes,
 * so no two different sequences of inputs can produce the same byte stream. */
typedef struct {
    nt_hash h;
} ds_cache_key;

void ds_cache_key_init(ds_cache_key *k);
void ds_cache_key_bytes(ds_cache_key *k, const char *tag, const void *data, size_t n);
/* s NULL is framed differently from "" (an unset template differs from an empty one). */
void ds_cache_key_str(ds_cache_key *k, const char *tag, const char *s);
/* The file's contents (not its name or mtime): renaming or touching keeps the key. */
nt_status ds_cache_key_file(ds_cache_key *k, const char *tag, const char *path, nt_err *err);
/* The canonical JSON (sort_keys, ensure_ascii, Python's separators) of v, usually a dict of
 * every config key that changes the prepared data (datasets, sequence_len, chat_template,
 * train_on_inputs, special_tokens, val_set_size, seed, shuffle_merged_datasets, ...). */
void ds_cache_key_config(ds_cache_key *k, const val *v);
void ds_cache_key_final(ds_cache_key *k, uint8_t key[DS_CACHE_KEY_LEN]);

/* A mapped cache file: train and val are borrowed views into map (read-only memory: never
 * write through them), valid until ds_cache_close. */
typedef struct {
    ds_set train, val;
    nt_mmap map;
    uint8_t key[DS_CACHE_KEY_LEN];
} ds_cache;

/* "<dir>/<hex key>/prepared.bin" (heap string). */
char *ds_cache_path(const char *dir, const uint8_t key[DS_CACHE_KEY_LEN]);
/* Writes train and val (val may be empty) atomically to path, creating parent directories. */
nt_status ds_cache_write(const char *path, const uint8_t key[DS_CACHE_KEY_LEN],
                         const ds_set *train, const ds_set *valid, nt_err *err);
/* Maps and fully validates path (magic, version, sizes, checksum, key when key != NULL,
 * sample offsets). NT_ENOTFOUND when absent, NT_EPARSE when corrupt; the message names the
 * file and what is wrong. */
nt_status ds_cache_read(const char *path, const uint8_t key[DS_CACHE_KEY_LEN], ds_cache *c,
                        nt_err *err);
void ds_cache_close(ds_cache *c);

/* Builds the sets when there is no usable cache: fills empty train and val. */
typedef nt_status (*ds_cache_build_fn)(void *ctx, ds_set *train, ds_set *valid, nt_err *err);
/* Reuses <dir>/<hex>/prepared.bin when it is valid (*reused = true); otherwise calls build,
 * writes the file atomically and maps it (*reused = false). A corrupt file is rebuilt with a
 * warning; I/O errors (e.g. an unwritable directory) are returned. */
nt_status ds_cache_get(const char *dir, const uint8_t key[DS_CACHE_KEY_LEN],
                       ds_cache_build_fn build, void *ctx, ds_cache *c, bool *reused,
                       nt_err *err);

#endif
