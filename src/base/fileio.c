#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"

nt_status nt_read_file(const char *path, char **data, size_t *len, nt_err *err) {
    *data = NULL;
    if (len) *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nt_err_errno(err, errno == ENOENT ? NT_ENOTFOUND : NT_EIO, "%s", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return nt_err_errno(err, NT_EIO, "%s", path);
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return nt_err_set(err, NT_EIO, "%s: is a directory", path);
    }
    nt_buf b = {0};
    nt_buf_reserve(&b, S_ISREG(sb.st_mode) ? (size_t)sb.st_size : 4096);
    for (;;) {
        nt_buf_reserve(&b, 65536);
        ssize_t r = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (r < 0) {
            if (errno == EINTR) continue;
            nt_buf_free(&b);
            close(fd);
            return nt_err_errno(err, NT_EIO, "%s: read", path);
        }
        if (r == 0) break;
        b.len += (size_t)r;
    }
    b.data[b.len] = '\0';
    close(fd);
    *data = nt_buf_take(&b, len);
    return NT_OK;
}

nt_status nt_mmap_file(const char *path, nt_mmap *m, nt_err *err) {
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nt_err_errno(err, errno == ENOENT ? NT_ENOTFOUND : NT_EIO, "%s", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return nt_err_set(err, NT_EIO, "%s: not a regular file", path);
    }
    if (sb.st_size > 0) {
        void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return nt_err_errno(err, NT_EIO, "%s: mmap", path);
        }
        m->data = p;
        m->len = (size_t)sb.st_size;
    }
    close(fd);
    return NT_OK;
}

void nt_munmap(nt_mmap *m) {
    if (m->data) munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

nt_status nt_atomic_open(nt_atomic_file *f, const char *path, nt_err *err) {
    memset(f, 0, sizeof *f);
    f->path = nt_xstrdup(path);
    f->tmp_path = nt_xasprintf("%s.tmp.%ld", path, (long)getpid());
    f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        nt_status st = nt_err_errno(err, NT_EIO, "%s: cannot create", f->tmp_path);
        free(f->path);
        free(f->tmp_path);
        f->path = f->tmp_path = NULL;
        return st;
    }
    return NT_OK;
}

nt_status nt_atomic_write(nt_atomic_file *f, const void *data, size_t n, nt_err *err) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return nt_err_errno(err, NT_EIO, "%s: write", f->tmp_path);
        }
        p += w;
        n -= (size_t)w;
        f->written += (uint64_t)w;
    }
    return NT_OK;
}

static void fsync_parent(const char *path) {
    char *copy = nt_xstrdup(path);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(copy);
}

static void atomic_release(nt_atomic_file *f) {
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    f->fd = -1;
}

nt_status nt_atomic_commit(nt_atomic_file *f, nt_err *err) {
    nt_status st = NT_OK;
    if (fsync(f->fd) != 0) st = nt_err_errno(err, NT_EIO, "%s: fsync", f->tmp_path);
    if (close(f->fd) != 0 && !st) st = nt_err_errno(err, NT_EIO, "%s: close", f->tmp_path);
    if (!st && rename(f->tmp_path, f->path) != 0)
        st = nt_err_errno(err, NT_EIO, "%s: rename to %s", f->tmp_path, f->path);
    if (st) unlink(f->tmp_path);
    else fsync_parent(f->path);
    atomic_release(f);
    return st;
}

void nt_atomic_abort(nt_atomic_file *f) {
    if (!f->tmp_path) return;
    close(f->fd);
    unlink(f->tmp_path);
    atomic_release(f);
}

nt_status nt_write_file_atomic(const char *path, const void *data, size_t n, nt_err *err) {
    nt_atomic_file f;
    nt_status st = nt_atomic_open(&f, path, err);
    if (st) return st;
    if ((st = nt_atomic_write(&f, data, n, err))) {
        nt_atomic_abort(&f);
        return st;
    }
    return nt_atomic_commit(&f, err);
}

bool nt_path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

bool nt_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Unlike os.path.join, an absolute b does not discard a: parts come from config keys and a
 * stray leading '/' should not escape the output directory. */
char *nt_path_join(const char *a, const char *b) {
    size_t na = strlen(a);
    while (na > 1 && a[na - 1] == '/') na--;
    while (*b == '/') b++;
    const char *sep = na == 0 || a[na - 1] == '/' ? "" : "/"; /* "" or the root "/" */
    return nt_xasprintf("%.*s%s%s", (int)na, a, sep, b);
}

nt_status nt_mkdirs(const char *path, nt_err *err) {
    char *p = nt_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            nt_status st = nt_err_errno(err, NT_EIO, "mkdir %s", p);
            free(p);
            return st;
        }
        *s = '/';
    }
    nt_status st = NT_OK;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) st = nt_err_errno(err, NT_EIO, "mkdir %s", p);
    else if (!nt_is_dir(p)) st = nt_err_set(err, NT_EIO, "%s: exists and is not a directory", p);
    free(p);
    return st;
}
