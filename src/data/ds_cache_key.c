/* Cache key builder: framed items into one BLAKE2b-256 stream (see ds_cache.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/ds_cache.h"
#include "formats/json.h"

static void put_u64(nt_hash *h, uint64_t x) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(x >> (8 * i));
    nt_hash_update(h, b, sizeof b);
}

static void frame(ds_cache_key *k, const char *tag, uint64_t n) {
    nt_hash_update(&k->h, tag, strlen(tag) + 1);
    put_u64(&k->h, n);
}

void ds_cache_key_init(ds_cache_key *k) {
    nt_hash_init(&k->h, DS_CACHE_KEY_LEN);
    /* The format version is part of the key: a new layout never finds old files. */
    ds_cache_key_str(k, "newt-prepared", DS_CACHE_MAGIC);
    put_u64(&k->h, DS_CACHE_VERSION);
}

void ds_cache_key_bytes(ds_cache_key *k, const char *tag, const void *data, size_t n) {
    frame(k, tag, n);
    nt_hash_update(&k->h, data, n);
}

void ds_cache_key_str(ds_cache_key *k, const char *tag, const char *s) {
    if (!s) {
        frame(k, tag, UINT64_MAX); /* no string can have this length */
        return;
    }
    ds_cache_key_bytes(k, tag, s, strlen(s));
}

nt_status ds_cache_key_file(ds_cache_key *k, const char *tag, const char *path, nt_err *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return nt_err_errno(err, NT_EIO, "%s", path);
    frame(k, tag, (uint64_t)sb.st_size);
    return nt_hash_update_file(&k->h, path, err);
}

void ds_cache_key_config(ds_cache_key *k, const val *v) {
    json_opts o = JSON_OPTS_PY;
    o.sort_keys = true;
    o.ensure_ascii = true;
    size_t n = 0;
    char *s = json_dumps(v, &o, &n);
    ds_cache_key_bytes(k, "config", s, n);
    free(s);
}

void ds_cache_key_final(ds_cache_key *k, uint8_t key[DS_CACHE_KEY_LEN]) {
    nt_hash_final(&k->h, key);
}
