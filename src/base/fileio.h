/* Whole-file reads, read-only mmaps and atomic writes (temp file, fsync, rename, fsync of
 * the directory) so that a crash never leaves a half-written file under the final name. */
#ifndef NEWT_BASE_FILEIO_H
#define NEWT_BASE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Reads a whole file into a malloc'd NUL-terminated buffer. */
nt_status nt_read_file(const char *path, char **data, size_t *len, nt_err *err);

typedef struct {
    const uint8_t *data;
    size_t len;
} nt_mmap;

/* Maps a file read-only (an empty file gives data == NULL, len == 0). */
nt_status nt_mmap_file(const char *path, nt_mmap *m, nt_err *err);
void nt_munmap(nt_mmap *m);

/* Atomic writer: bytes go to "<path>.tmp.<pid>"; commit fsyncs and renames over path,
 * abort removes the temp file. Exactly one of commit/abort must be called. */
typedef struct {
    char *path, *tmp_path;
    int fd;
    uint64_t written;
} nt_atomic_file;

nt_status nt_atomic_open(nt_atomic_file *f, const char *path, nt_err *err);
nt_status nt_atomic_write(nt_atomic_file *f, const void *data, size_t n, nt_err *err);
nt_status nt_atomic_commit(nt_atomic_file *f, nt_err *err);
void nt_atomic_abort(nt_atomic_file *f);

/* One-shot atomic write of a buffer. */
nt_status nt_write_file_atomic(const char *path, const void *data, size_t n, nt_err *err);

bool nt_path_exists(const char *path);
bool nt_is_dir(const char *path);
/* Joins two path parts with one '/' (an empty a gives b), in a fresh heap string. */
char *nt_path_join(const char *a, const char *b);
/* mkdir -p. */
nt_status nt_mkdirs(const char *path, nt_err *err);

#endif
