/* Where a dataset entry's rows come from: a local .jsonl / .json file, a folder of them, or
 * data_files; read into memory as one ds_row per JSON line or per element of a JSON list.
 * Parquet, CSV, Arrow and Hugging Face hub datasets are "not supported yet" errors. */
#ifndef NEWT_DATA_DS_SOURCE_H
#define NEWT_DATA_DS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "value/value.h"

typedef struct {
    char *path;
    char *data;  /* file contents (JSON lines point into it) */
    size_t len;
    val *root;   /* a parsed .json file (its rows point into it), else NULL */
} ds_file;

typedef struct {
    uint32_t dataset, file; /* config index, index into ds_rows.files */
    uint64_t row;           /* 1-based line (JSON lines) or 0-based element index (JSON list) */
    const char *text;       /* JSON lines: the line (not parsed yet) */
    size_t n;
    const val *v;           /* JSON list: the element */
} ds_row;

typedef struct {
    ds_file *files;
    size_t nfiles;
    ds_row *rows;
    size_t nrows, cap;
} ds_rows;

/* The files of datasets[index] (entry: its resolved config mapping), sorted; errors name the key. */
nt_status ds_source_files(const val *entry, size_t index, char ***files, size_t *n, nt_err *err);
/* Reads every file of the entry and appends its rows. */
nt_status ds_rows_read(ds_rows *r, const val *entry, uint32_t index, nt_err *err);
void ds_rows_free(ds_rows *r);

#endif
