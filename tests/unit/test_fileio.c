#include <dirent.h>
#include <errno.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "test.h"

/* A fresh subdirectory of the test tmpdir per test, so leftover-file checks see only ours. */
static char *fresh_dir(const char *name) {
    char *d = nt_path_join(test_tmpdir(), name);
    nt_err err = {0};
    if (nt_mkdirs(d, &err)) fprintf(stderr, "  %s\n", err.msg);
    return d;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

TEST(read_file_missing_dir_empty) {
    char *dir = fresh_dir("read");
    char *data = (char *)1;
    size_t len = 99;
    nt_err err = {0};
    char *missing = nt_path_join(dir, "nope.txt");
    CHECK_EQ_INT(nt_read_file(missing, &data, &len, &err), NT_ENOTFOUND);
    CHECK_CONTAINS(err.msg, missing);
    CHECK(data == NULL && len == 0);
    CHECK_EQ_INT(nt_read_file(dir, &data, &len, &err), NT_EIO);
    CHECK_CONTAINS(err.msg, "is a directory");
    char *empty = nt_path_join(dir, "empty");
    FILE *f = fopen(empty, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK_EQ_INT(nt_read_file(empty, &data, &len, &err), NT_OK);
    CHECK(data != NULL && len == 0 && data[0] == '\0');
    free(data);
    nt_mmap m;
    CHECK_EQ_INT(nt_mmap_file(empty, &m, &err), NT_OK);
    CHECK(m.data == NULL && m.len == 0);
    nt_munmap(&m);
    CHECK_EQ_INT(nt_mmap_file(missing, &m, &err), NT_ENOTFOUND);
    free(empty);
    free(missing);
    free(dir);
}

TEST(read_file_returns_exact_bytes) {
    char *dir = fresh_dir("bytes");
    char *path = nt_path_join(dir, "bin");
    unsigned char bytes[300000];
    for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)(i * 7 + (i >> 8));
    bytes[5] = 0; /* embedded NUL */
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(bytes, 1, sizeof bytes, f) == sizeof bytes);
    if (f) fclose(f);
    char *data;
    size_t len;
    nt_err err = {0};
    CHECK_EQ_INT(nt_read_file(path, &data, &len, &err), NT_OK);
    CHECK_EQ_INT(len, sizeof bytes);
    CHECK(data && memcmp(data, bytes, sizeof bytes) == 0 && data[len] == '\0');
    free(data);
    nt_mmap m;
    CHECK_EQ_INT(nt_mmap_file(path, &m, &err), NT_OK);
    CHECK(m.len == sizeof bytes && memcmp(m.data, bytes, sizeof bytes) == 0);
    nt_munmap(&m);
    free(path);
    free(dir);
}

static char *read_all(const char *path) {
    char *data = NULL;
    nt_err err = {0};
    nt_read_file(path, &data, NULL, &err);
    return data;
}

TEST(atomic_commit_replaces_and_leaves_no_temp) {
    char *dir = fresh_dir("commit");
    char *path = nt_path_join(dir, "out.json");
    nt_err err = {0};
    CHECK_EQ_INT(nt_write_file_atomic(path, "old", 3, &err), NT_OK);
    nt_atomic_file af;
    CHECK_EQ_INT(nt_atomic_open(&af, path, &err), NT_OK);
    CHECK_EQ_INT(nt_atomic_write(&af, "new ", 4, &err), NT_OK);
    char *during = read_all(path);
    CHECK_EQ_STR(during, "old"); /* readers see the old file until commit */
    free(during);
    CHECK_EQ_INT(nt_atomic_write(&af, "content", 7, &err), NT_OK);
    CHECK_EQ_INT(af.written, 11);
    CHECK_EQ_INT(nt_atomic_commit(&af, &err), NT_OK);
    char *after = read_all(path);
    CHECK_EQ_STR(after, "new content");
    free(after);
    CHECK_EQ_INT(count_entries(dir), 1);
    free(path);
    free(dir);
}

TEST(atomic_abort_keeps_old_content_and_removes_temp) {
    char *dir = fresh_dir("abort");
    char *path = nt_path_join(dir, "ckpt.bin");
    nt_err err = {0};
    CHECK_EQ_INT(nt_write_file_atomic(path, "precious", 8, &err), NT_OK);
    nt_atomic_file af;
    CHECK_EQ_INT(nt_atomic_open(&af, path, &err), NT_OK);
    CHECK_EQ_INT(nt_atomic_write(&af, "half-writ", 9, &err), NT_OK);
    CHECK_EQ_INT(count_entries(dir), 2); /* the temp file exists while writing */
    nt_atomic_abort(&af);
    nt_atomic_abort(&af); /* a second abort is harmless */
    char *s = read_all(path);
    CHECK_EQ_STR(s, "precious");
    free(s);
    CHECK_EQ_INT(count_entries(dir), 1);
    /* aborting a first write leaves nothing at all */
    char *fresh = nt_path_join(dir, "never");
    CHECK_EQ_INT(nt_atomic_open(&af, fresh, &err), NT_OK);
    nt_atomic_abort(&af);
    CHECK(!nt_path_exists(fresh));
    CHECK_EQ_INT(count_entries(dir), 1);
    free(fresh);
    free(path);
    free(dir);
}

TEST(atomic_open_in_missing_dir_fails_with_path) {
    nt_atomic_file af;
    nt_err err = {0};
    CHECK_EQ_INT(nt_atomic_open(&af, "/nonexistent-newt/x/out", &err), NT_EIO);
    CHECK_CONTAINS(err.msg, "/nonexistent-newt/x/out");
    CHECK(af.path == NULL && af.tmp_path == NULL);
}

TEST(mkdirs_nested_existing_and_blocked) {
    char *dir = fresh_dir("mk");
    char *deep = nt_path_join(dir, "a/b/c/");
    nt_err err = {0};
    CHECK_EQ_INT(nt_mkdirs(deep, &err), NT_OK);
    CHECK(nt_is_dir(deep));
    CHECK_EQ_INT(nt_mkdirs(deep, &err), NT_OK); /* idempotent */
    char *file = nt_path_join(dir, "plain");
    CHECK_EQ_INT(nt_write_file_atomic(file, "x", 1, &err), NT_OK);
    CHECK(nt_path_exists(file) && !nt_is_dir(file));
    CHECK_EQ_INT(nt_mkdirs(file, &err), NT_EIO);
    CHECK_CONTAINS(err.msg, "not a directory");
    char *under = nt_path_join(file, "sub");
    CHECK_EQ_INT(nt_mkdirs(under, &err), NT_EIO);
    CHECK_CONTAINS(err.msg, "plain");
    free(under);
    free(file);
    free(deep);
    free(dir);
}

TEST(path_join) {
    struct { const char *a, *b, *want; } cases[] = {
        {"a", "b", "a/b"},         {"a/", "b", "a/b"},     {"a//", "/b", "a/b"},
        {"/", "etc", "/etc"},      {"", "x", "x"},        {"dir", "", "dir/"},
        {"a/b", "c/d", "a/b/c/d"}, {"/x/", "//y", "/x/y"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *j = nt_path_join(cases[i].a, cases[i].b);
        CHECK_EQ_STR(j, cases[i].want);
        free(j);
    }
}

TEST_MAIN()
