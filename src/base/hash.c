/* BLAKE2b as described in RFC 7693 (sections 2 and 3): 12 rounds of the G mixing function
 * over a 16-word working vector, rotations 32/24/16/63, SHA-512's IV, little-endian words. */
#include "base/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint64_t IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* Message word schedule per round (RFC 7693 section 2.7); rounds 10 and 11 reuse rows 0, 1. */
static const uint8_t SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint64_t rotr64(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#define MIX(a, b, c, d, x, y)              \
    do {                                   \
        v[a] = v[a] + v[b] + (x);          \
        v[d] = rotr64(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];                \
        v[b] = rotr64(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);          \
        v[d] = rotr64(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];                \
        v[b] = rotr64(v[b] ^ v[c], 63);    \
    } while (0)

static void compress(nt_hash *h, const uint8_t block[NT_HASH_BLOCK], int last) {
    uint64_t m[16], v[16];
    for (int i = 0; i < 16; i++) m[i] = load64_le(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = h->h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= h->t[0];
    v[13] ^= h->t[1];
    if (last) v[14] = ~v[14];
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = SIGMA[r % 10];
        MIX(0, 4, 8, 12, m[s[0]], m[s[1]]);
        MIX(1, 5, 9, 13, m[s[2]], m[s[3]]);
        MIX(2, 6, 10, 14, m[s[4]], m[s[5]]);
        MIX(3, 7, 11, 15, m[s[6]], m[s[7]]);
        MIX(0, 5, 10, 15, m[s[8]], m[s[9]]);
        MIX(1, 6, 11, 12, m[s[10]], m[s[11]]);
        MIX(2, 7, 8, 13, m[s[12]], m[s[13]]);
        MIX(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h->h[i] ^= v[i] ^ v[i + 8];
}

static void add_count(nt_hash *h, uint64_t n) {
    h->t[0] += n;
    if (h->t[0] < n) h->t[1]++;
}

void nt_hash_init(nt_hash *h, size_t outlen) {
    if (outlen < 1) outlen = 1;
    if (outlen > NT_HASH_MAX_LEN) outlen = NT_HASH_MAX_LEN;
    memset(h, 0, sizeof *h);
    memcpy(h->h, IV, sizeof IV);
    /* Parameter block word 0: digest length, key length 0, fanout 1, depth 1. */
    h->h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
    h->outlen = outlen;
}

void nt_hash_update(nt_hash *h, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        /* A full pending block is compressed only now that more input follows: the last
         * block must be compressed with the final flag set. */
        if (h->buflen == NT_HASH_BLOCK) {
            add_count(h, NT_HASH_BLOCK);
            compress(h, h->buf, 0);
            h->buflen = 0;
        }
        if (h->buflen == 0) {
            while (len > NT_HASH_BLOCK) { /* whole blocks straight from the input */
                add_count(h, NT_HASH_BLOCK);
                compress(h, p, 0);
                p += NT_HASH_BLOCK;
                len -= NT_HASH_BLOCK;
            }
        }
        size_t take = NT_HASH_BLOCK - h->buflen;
        if (take > len) take = len;
        memcpy(h->buf + h->buflen, p, take);
        h->buflen += take;
        p += take;
        len -= take;
    }
}

void nt_hash_final(nt_hash *h, uint8_t *out) {
    add_count(h, h->buflen);
    memset(h->buf + h->buflen, 0, NT_HASH_BLOCK - h->buflen);
    compress(h, h->buf, 1);
    for (size_t i = 0; i < h->outlen; i++) out[i] = (uint8_t)(h->h[i / 8] >> (8 * (i % 8)));
}

void nt_hash_buf(const void *data, size_t len, uint8_t *out, size_t outlen) {
    nt_hash h;
    nt_hash_init(&h, outlen);
    nt_hash_update(&h, data, len);
    nt_hash_final(&h, out);
}

/* Window size for mapping files: bounded address-space use for multi-GB shards. */
#define HASH_WINDOW ((size_t)64 << 20)

nt_status nt_hash_update_file(nt_hash *h, const char *path, nt_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nt_err_errno(err, errno == ENOENT ? NT_ENOTFOUND : NT_EIO, "%s", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return nt_err_set(err, NT_EIO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size;
    for (uint64_t off = 0; off < size; off += HASH_WINDOW) {
        size_t n = size - off < HASH_WINDOW ? (size_t)(size - off) : HASH_WINDOW;
        void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, (off_t)off);
        if (p == MAP_FAILED) {
            nt_status st = nt_err_errno(err, NT_EIO, "%s: mmap at offset %llu", path,
                                        (unsigned long long)off);
            close(fd);
            return st;
        }
        madvise(p, n, MADV_SEQUENTIAL);
        nt_hash_update(h, p, n);
        munmap(p, n);
    }
    close(fd);
    return NT_OK;
}

nt_status nt_hash_file(const char *path, uint8_t out[NT_HASH_LEN], nt_err *err) {
    nt_hash h;
    nt_hash_init(&h, NT_HASH_LEN);
    nt_status st = nt_hash_update_file(&h, path, err);
    if (st) return st;
    nt_hash_final(&h, out);
    return NT_OK;
}

char *nt_hash_hex(const uint8_t *digest, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}
