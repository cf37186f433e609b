/* Prepared cache reader (full validation before any column is trusted) and get-or-build. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "data/ds_cache_int.h"

#define DSC_MAX_COUNT (1ull << 40)

static nt_status corrupt(nt_err *err, const char *path, const char *what) {
    return nt_err_set(err, NT_EPARSE, "%s: not a valid prepared dataset: %s", path, what);
}

static nt_status check_header(const nt_mmap *m, const char *path, const uint8_t *key,
                              uint64_t n[2], uint64_t ntok[2], dsc_layout *L, nt_err *err) {
    const uint8_t *p = m->data;
    if (m->len < DS_CACHE_HEADER) return corrupt(err, path, "shorter than its header");
    if (memcmp(p + DSC_OFF_MAGIC, DS_CACHE_MAGIC, 8)) return corrupt(err, path, "bad magic");
    uint32_t v, hs;
    memcpy(&v, p + DSC_OFF_VERSION, 4);
    memcpy(&hs, p + DSC_OFF_HSIZE, 4);
    if (v != DS_CACHE_VERSION || hs != DS_CACHE_HEADER)
        return nt_err_set(err, NT_EPARSE, "%s: prepared dataset format version %u, expected %u",
                          path, v, DS_CACHE_VERSION);
    for (int s = 0; s < 2; s++) {
        n[s] = dsc_get_u64(p + DSC_OFF_COUNTS + 16 * s);
        ntok[s] = dsc_get_u64(p + DSC_OFF_COUNTS + 16 * s + 8);
        if (n[s] >= DSC_MAX_COUNT || ntok[s] >= DSC_MAX_COUNT)
            return corrupt(err, path, "implausible sample or token count");
    }
    dsc_layout_of(n, ntok, L);
    if (dsc_get_u64(p + DSC_OFF_FSIZE) != L->size || m->len != L->size)
        return nt_err_set(err, NT_EPARSE,
                          "%s: not a valid prepared dataset: %zu bytes, the header implies %llu "
                          "(truncated?)", path, m->len, (unsigned long long)L->size);
    if (key && memcmp(p + DSC_OFF_KEY, key, DS_CACHE_KEY_LEN))
        return corrupt(err, path, "built for a different key");
    uint8_t sum[DS_CACHE_KEY_LEN];
    nt_hash h;
    nt_hash_init(&h, DS_CACHE_KEY_LEN);
    nt_hash_update(&h, p, DSC_OFF_SUM);
    nt_hash_update(&h, p + DS_CACHE_HEADER, m->len - DS_CACHE_HEADER);
    nt_hash_final(&h, sum);
    if (memcmp(sum, p + DSC_OFF_SUM, sizeof sum)) return corrupt(err, path, "checksum mismatch");
    return NT_OK;
}

/* Points s at the mapped columns and checks that samples lie back to back within ntok. */
static nt_status bind_split(const nt_mmap *m, const uint64_t *off, uint64_t n, uint64_t ntok,
                            ds_set *s, const char *path, nt_err *err) {
    uint8_t *base = (uint8_t *)m->data; /* read-only mapping: ds_set is borrowed, never written */
    s->ids = (int32_t *)(void *)(base + off[0]);
    s->labels = (int32_t *)(void *)(base + off[1]);
    s->start = (uint64_t *)(void *)(base + off[2]);
    s->len = (uint32_t *)(void *)(base + off[3]);
    s->dataset = (uint32_t *)(void *)(base + off[4]);
    s->row = (uint64_t *)(void *)(base + off[5]);
    s->n = s->cap = n;
    s->ntok = s->tok_cap = ntok;
    s->borrowed = true;
    uint64_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (s->start[i] != at || s->len[i] > ntok - at)
            return corrupt(err, path, "sample offsets are inconsistent");
        at += s->len[i];
    }
    if (at != ntok) return corrupt(err, path, "sample lengths do not add up to the token count");
    return NT_OK;
}

nt_status ds_cache_read(const char *path, const uint8_t key[DS_CACHE_KEY_LEN], ds_cache *c,
                        nt_err *err) {
    memset(c, 0, sizeof *c);
    nt_status st = nt_mmap_file(path, &c->map, err);
    if (st) return st;
    uint64_t n[2], ntok[2];
    dsc_layout L;
    st = check_header(&c->map, path, key, n, ntok, &L, err);
    if (!st) st = bind_split(&c->map, L.off[0], n[0], ntok[0], &c->train, path, err);
    if (!st) st = bind_split(&c->map, L.off[1], n[1], ntok[1], &c->val, path, err);
    if (st) {
        ds_cache_close(c);
        return st;
    }
    memcpy(c->key, c->map.data + DSC_OFF_KEY, DS_CACHE_KEY_LEN);
    return NT_OK;
}

void ds_cache_close(ds_cache *c) {
    ds_set_free(&c->train);
    ds_set_free(&c->val);
    nt_munmap(&c->map);
    memset(c, 0, sizeof *c);
}

char *ds_cache_path(const char *dir, const uint8_t key[DS_CACHE_KEY_LEN]) {
    char hex[2 * DS_CACHE_KEY_LEN + 1];
    nt_hash_hex(key, DS_CACHE_KEY_LEN, hex);
    return nt_xasprintf("%s/%s/%s", dir, hex, DS_CACHE_FILE);
}

static nt_status build_and_write(const char *path, const uint8_t *key, ds_cache_build_fn build,
                                 void *ctx, nt_err *err) {
    ds_set train = {0}, valid = {0};
    nt_status st = build(ctx, &train, &valid, err);
    if (!st) st = ds_cache_write(path, key, &train, &valid, err);
    ds_set_free(&train);
    ds_set_free(&valid);
    return st;
}

nt_status ds_cache_get(const char *dir, const uint8_t key[DS_CACHE_KEY_LEN],
                       ds_cache_build_fn build, void *ctx, ds_cache *c, bool *reused,
                       nt_err *err) {
    char *path = ds_cache_path(dir, key);
    *reused = false;
    nt_err rerr = {0};
    nt_status st = ds_cache_read(path, key, c, &rerr);
    if (!st) {
        *reused = true;
    } else if (st == NT_ENOTFOUND || st == NT_EPARSE) {
        if (st == NT_EPARSE) nt_log_warn("%s; rebuilding it", rerr.msg);
        st = build_and_write(path, key, build, ctx, err);
        if (!st) st = ds_cache_read(path, key, c, err);
    } else {
        *err = rerr;
    }
    free(path);
    return st;
}
