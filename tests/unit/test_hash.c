#include <stdint.h>

#include "base/fileio.h"
#include "base/hash.h"
#include "base/mem.h"
#include "test.h"

#define PY "/usr/bin/python3"

/* Deterministic bytes (xorshift64*), so a failure reproduces exactly. */
static void fill(uint8_t *p, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        p[i] = (uint8_t)((s * 0x2545F4914F6CDD1DULL) >> 56);
    }
}

static char *write_case(size_t len, uint64_t seed, int idx) {
    uint8_t *data = nt_xmalloc(len ? len : 1);
    fill(data, len, seed);
    char name[64];
    snprintf(name, sizeof name, "hash_case_%d.bin", idx);
    char *path = nt_path_join(test_tmpdir(), name);
    nt_err err = {0};
    if (nt_write_file_atomic(path, data, len, &err)) fprintf(stderr, "  %s\n", err.msg);
    free(data);
    return path;
}

/* Digests of the given files by Python's hashlib, one hex line per file; NULL on failure. */
static char *python_digests(char **paths, int n, int digest_size) {
    nt_buf cmd = {0};
    nt_buf_printf(&cmd, "%s -c 'import hashlib,sys\n"
                        "for p in sys.argv[1:]: print(hashlib.blake2b(open(p,\"rb\").read(), "
                        "digest_size=%d).hexdigest())'", PY, digest_size);
    for (int i = 0; i < n; i++) nt_buf_printf(&cmd, " '%s'", paths[i]);
    FILE *f = popen(cmd.data, "r");
    nt_buf_free(&cmd);
    if (!f) return NULL;
    nt_buf out = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) nt_buf_append(&out, chunk, r);
    int rc = pclose(f);
    if (rc != 0) {
        nt_buf_free(&out);
        return NULL;
    }
    return nt_buf_take(&out, NULL);
}

TEST(rfc7693_abc_blake2b_512) {
    /* RFC 7693 appendix A: BLAKE2b-512("abc"). */
    uint8_t d[64];
    char hex[129];
    nt_hash_buf("abc", 3, d, 64);
    CHECK_EQ_STR(nt_hash_hex(d, 64, hex),
                 "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                 "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
}

static void check_against_python(int digest_size) {
    if (access(PY, X_OK) != 0) SKIP("%s not available", PY);
    enum { NCASE = 12 };
    size_t lens[NCASE] = {0, 1, 127, 128, 129, 255, 256, 257, 1000, 1000000, 0, 0};
    uint8_t rnd[2];
    fill(rnd, 2, 99);
    lens[10] = 3000 + rnd[0] * 37u; /* seeded "random" lengths */
    lens[11] = 70000 + rnd[1] * 1013u;
    char *paths[NCASE];
    for (int i = 0; i < NCASE; i++) paths[i] = write_case(lens[i], (uint64_t)i + 7, i);
    char *expect = python_digests(paths, NCASE, digest_size);
    CHECK_MSG(expect != NULL, "python3 hashlib failed");
    char *line = expect;
    int compared = 0;
    for (int i = 0; expect && i < NCASE; i++) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = '\0';
        /* one-shot from memory */
        uint8_t *data = nt_xmalloc(lens[i] ? lens[i] : 1);
        fill(data, lens[i], (uint64_t)i + 7);
        uint8_t d[64];
        char hex[129];
        nt_hash_buf(data, lens[i], d, (size_t)digest_size);
        CHECK_MSG(strcmp(nt_hash_hex(d, (size_t)digest_size, hex), line) == 0,
                  "len %zu: %s != python %s", lens[i], hex, line);
        /* streaming in uneven pieces must agree */
        nt_hash h;
        nt_hash_init(&h, (size_t)digest_size);
        for (size_t off = 0, step = 1; off < lens[i]; off += step, step = step * 3 + 1) {
            size_t n = lens[i] - off < step ? lens[i] - off : step;
            nt_hash_update(&h, data + off, n);
        }
        nt_hash_final(&h, d);
        CHECK_MSG(strcmp(nt_hash_hex(d, (size_t)digest_size, hex), line) == 0,
                  "streamed len %zu differs from python", lens[i]);
        if (digest_size == NT_HASH_LEN) {
            nt_err err = {0};
            CHECK_EQ_INT(nt_hash_file(paths[i], d, &err), NT_OK);
            CHECK_EQ_STR(nt_hash_hex(d, NT_HASH_LEN, hex), line);
        }
        free(data);
        line = nl + 1;
        compared++;
    }
    CHECK_EQ_INT(compared, NCASE);
    for (int i = 0; i < NCASE; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    free(expect);
}

TEST(matches_python_hashlib_256) { check_against_python(32); }
TEST(matches_python_hashlib_other_lengths) {
    check_against_python(20);
    check_against_python(64);
}

TEST(file_errors_name_the_path) {
    uint8_t d[NT_HASH_LEN];
    nt_err err = {0};
    CHECK_EQ_INT(nt_hash_file("/nonexistent/newt-hash", d, &err), NT_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "/nonexistent/newt-hash");
    CHECK_EQ_INT(nt_hash_file(test_tmpdir(), d, &err), NT_EIO);
    CHECK_CONTAINS(err.msg, "not a regular file");
}

TEST(hex_encoding) {
    const uint8_t b[] = {0x00, 0x0f, 0xa5, 0xff};
    char hex[9];
    CHECK_EQ_STR(nt_hash_hex(b, 4, hex), "000fa5ff");
}

TEST_MAIN()
