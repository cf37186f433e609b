/* safetensors: read (mmap, fully validated), sharded checkpoints, write (atomic, sharded).
 *
 * File layout: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
 * then the raw row-major little-endian data; offsets are relative to the first byte after the
 * header. Everything a corrupt file could lie about is checked before a pointer is handed out
 * (see docs/formats.md, "safetensors", for the exact rules), so every st_tensor.data points
 * at st_tensor.nbytes readable bytes. Sizes and offsets are 64-bit throughout; data is never
 * read or copied at open time (a 200 GB file opens in microseconds; pages fault in lazily).
 *
 * This room knows nothing of src/tensor/: st_dtype is the file's own dtype vocabulary. */
#ifndef NEWT_FORMATS_SAFETENSORS_H
#define NEWT_FORMATS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "value/value.h"

/* ---- dtypes ---- */

typedef enum {
    ST_F64, ST_F32, ST_F16, ST_BF16, ST_F8_E4M3, ST_F8_E5M2,
    ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_U16, ST_U32, ST_U64, ST_BOOL,
    ST_DTYPE_COUNT
} st_dtype;

const char *st_dtype_name(st_dtype d);  /* "F32", ...; "?" for an invalid value */
size_t st_dtype_size(st_dtype d);       /* bytes per element; 0 for an invalid value */
/* Exact, case-sensitive match of the file's spelling; false if unknown. */
bool st_dtype_parse(const char *s, size_t n, st_dtype *out);

/* ---- one file ---- */

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u * 1000u * 1000u) /* the reference implementation's limit */

typedef struct st_file st_file;

typedef struct {
    const char *name;           /* NUL-terminated; never contains a NUL byte */
    st_dtype dtype;
    int ndim;                   /* 0 for a scalar */
    int64_t shape[ST_MAX_DIMS];
    uint64_t numel;             /* product of shape (1 for a scalar) */
    uint64_t nbytes;            /* numel * st_dtype_size(dtype) */
    uint64_t offset;            /* data_offsets[0], relative to the data region */
    const void *data;           /* nbytes readable bytes in the mapping (NULL if nbytes is 0) */
    const st_file *file;        /* the file it lives in */
} st_tensor;

/* Maps and validates path. On success *out owns the mapping until st_file_close. Errors
 * start with the path and name the tensor at fault. */
nt_status st_file_open(const char *path, st_file **out, nt_err *err);
/* The same validation on bytes in memory (borrowed: they must outlive the st_file). name is
 * used in error messages and by st_file_path. */
nt_status st_file_open_memory(const void *data, size_t n, const char *name, st_file **out,
                              nt_err *err);
void st_file_close(st_file *f);

const char *st_file_path(const st_file *f);
size_t st_file_count(const st_file *f);
const st_tensor *st_file_tensor(const st_file *f, size_t i);        /* header order */
const st_tensor *st_file_tensor_sorted(const st_file *f, size_t i); /* by name (bytewise) */
const st_tensor *st_file_find(const st_file *f, const char *name);  /* NULL if absent */
/* The __metadata__ dict (all values strings); an empty dict when the file has none. */
const val *st_file_metadata(const st_file *f);
uint64_t st_file_header_len(const st_file *f); /* N */
uint64_t st_file_data_len(const st_file *f);   /* bytes after the header */

/* True when data is aligned to the element size. Files written by other tools may place a
 * tensor at any byte offset; callers that cast the pointer must check or memcpy. */
bool st_tensor_aligned(const st_tensor *t);

/* ---- a model: one file, an index with shards, or a folder ---- */

typedef struct st_model st_model;

/* path: a .safetensors file, a *.safetensors.index.json, or a folder holding
 * model.safetensors.index.json, model.safetensors, consolidated.safetensors.index.json,
 * consolidated.safetensors or exactly one *.safetensors (first match wins). */
nt_status st_model_open(const char *path, st_model **out, nt_err *err);
void st_model_close(st_model *m);

size_t st_model_count(const st_model *m);
const st_tensor *st_model_tensor(const st_model *m, size_t i);        /* shard, then header order */
const st_tensor *st_model_tensor_sorted(const st_model *m, size_t i); /* by name */
const st_tensor *st_model_find(const st_model *m, const char *name);
size_t st_model_shard_count(const st_model *m);
const st_file *st_model_shard(const st_model *m, size_t i);
/* The index's "metadata" dict, or NULL when the model is a single file without index. */
const val *st_model_index_metadata(const st_model *m);
uint64_t st_model_total_bytes(const st_model *m); /* sum of nbytes over all tensors */

/* ---- writer ---- */

/* Fills buf[0..n) with bytes [offset, offset + n) of the tensor's data. Called in order,
 * in chunks, so a huge tensor can be produced (converted, merged) without holding it. */
typedef nt_status (*st_fill_fn)(void *ctx, uint64_t offset, void *buf, size_t n, nt_err *err);

typedef struct st_writer st_writer;

st_writer *st_writer_new(void);
void st_writer_free(st_writer *w);
/* Adds a __metadata__ entry after {"format": "pt"} (setting "format" replaces its value). */
void st_writer_set_metadata(st_writer *w, const char *key, const char *value);
/* Adds a tensor; data is borrowed until the last save. Names must be unique, non-empty
 * valid UTF-8; shape entries >= 0; ndim <= ST_MAX_DIMS. */
nt_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                        const int64_t *shape, const void *data, nt_err *err);
nt_status st_writer_add_fill(st_writer *w, const char *name, st_dtype dtype, int ndim,
                             const int64_t *shape, st_fill_fn fill, void *ctx, nt_err *err);
/* Writes one file atomically: nothing appears under path unless every byte was written.
 * Header keys follow the order given; the data is grouped by element size (8, 4, 2, 1 bytes,
 * the order given within a group) so that every tensor is aligned in the file. */
nt_status st_writer_save(st_writer *w, const char *path, nt_err *err);

/* Splits tensors into shards of at most max_shard_bytes of tensor data the way Hugging Face
 * does (docs/formats.md) and writes them into dir: one shard is dir/model.safetensors
 * without index; several are model-0000i-of-0000n.safetensors plus
 * model.safetensors.index.json. max_shard_bytes 0 means no limit. Each file is atomic; the
 * index is written last, so a folder with an index is complete. */
nt_status st_writer_save_sharded(st_writer *w, const char *dir, uint64_t max_shard_bytes,
                                 nt_err *err);

/* The shard each tensor would go to (0-based) and the number of shards, for a limit;
 * shard_of has one entry per added tensor. Returns the shard count. */
size_t st_writer_plan_shards(const st_writer *w, uint64_t max_shard_bytes, size_t *shard_of);
size_t st_writer_count(const st_writer *w);

#endif
