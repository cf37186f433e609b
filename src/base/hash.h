/* Content hashing for cache keys: BLAKE2b (RFC 7693), unkeyed, digest length 1..64 bytes.
 * The prepared-dataset cache feeds file contents, tokenizer, template and config through one
 * streaming context, so a key changes whenever any input byte does. 32 bytes is plenty for
 * cache keys (NT_HASH_LEN); the 64-byte variant exists for the RFC test vector.
 *
 *   nt_hash h;
 *   nt_hash_init(&h, NT_HASH_LEN);
 *   nt_hash_update(&h, cfg, cfg_len);
 *   if (nt_hash_update_file(&h, path, &err)) return err.code;
 *   uint8_t d[NT_HASH_LEN]; char hex[2 * NT_HASH_LEN + 1];
 *   nt_hash_final(&h, d); nt_hash_hex(d, sizeof d, hex);
 */
#ifndef NEWT_BASE_HASH_H
#define NEWT_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define NT_HASH_LEN 32     /* default digest length in bytes */
#define NT_HASH_MAX_LEN 64 /* BLAKE2b's maximum */
#define NT_HASH_BLOCK 128

typedef struct {
    uint64_t h[8];
    uint64_t t[2];                 /* bytes compressed so far, 128-bit counter */
    uint8_t buf[NT_HASH_BLOCK];    /* pending block: kept until more input proves it isn't last */
    size_t buflen;
    size_t outlen;
} nt_hash;

/* outlen in 1..64; anything else is clamped into that range (a programming error, not input). */
void nt_hash_init(nt_hash *h, size_t outlen);
void nt_hash_update(nt_hash *h, const void *data, size_t len);
/* Writes h->outlen bytes to out. The context must be re-initialised before reuse. */
void nt_hash_final(nt_hash *h, uint8_t *out);

/* One-shot digest of a buffer. */
void nt_hash_buf(const void *data, size_t len, uint8_t *out, size_t outlen);

/* Streams a whole file into h (mmap'd in windows, so large files need no large buffer). */
nt_status nt_hash_update_file(nt_hash *h, const char *path, nt_err *err);
/* NT_HASH_LEN-byte digest of a file's contents. */
nt_status nt_hash_file(const char *path, uint8_t out[NT_HASH_LEN], nt_err *err);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated); returns out. */
char *nt_hash_hex(const uint8_t *digest, size_t n, char *out);

#endif
