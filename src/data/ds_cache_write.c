/* Prepared cache writer: one pass computes the checksum, a second streams the same bytes into
 * an atomic file, both through emit_body so they cannot disagree. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "data/ds_cache_int.h"

#define SINK_CHUNK (1u << 20)

typedef struct {
    nt_hash *h;          /* checksum pass */
    nt_atomic_file *f;   /* write pass */
    nt_buf buf;
    uint64_t pos;        /* file offset of the next byte */
    nt_status st;
    nt_err *err;
} sink;

static void sink_flush(sink *k) {
    if (k->f && !k->st && k->buf.len) k->st = nt_atomic_write(k->f, k->buf.data, k->buf.len, k->err);
    k->buf.len = 0;
}

static void sink_put(sink *k, const void *p, size_t n) {
    if (!n) return; /* empty columns may have NULL pointers */
    k->pos += n;
    if (k->h) {
        nt_hash_update(k->h, p, n);
        return;
    }
    if (k->buf.len + n > SINK_CHUNK) sink_flush(k);
    if (n >= SINK_CHUNK) {
        if (!k->st) k->st = nt_atomic_write(k->f, p, n, k->err);
        return;
    }
    nt_buf_append(&k->buf, p, n);
}

static void sink_pad_to(sink *k, uint64_t off) {
    static const uint8_t zero[DS_CACHE_ALIGN];
    while (k->pos < off) sink_put(k, zero, (size_t)(off - k->pos < sizeof zero ? off - k->pos : sizeof zero));
}

/* Token columns sample by sample (the source may be non-contiguous); the start column is the
 * running sum, so files always hold samples back to back in order. */
static void emit_split(sink *k, const ds_set *s, const uint64_t *off) {
    sink_pad_to(k, off[0]);
    for (size_t i = 0; i < s->n; i++) sink_put(k, ds_set_ids(s, i), s->len[i] * 4u);
    sink_pad_to(k, off[1]);
    for (size_t i = 0; i < s->n; i++) sink_put(k, ds_set_labels(s, i), s->len[i] * 4u);
    sink_pad_to(k, off[2]);
    uint64_t at = 0;
    for (size_t i = 0; i < s->n; i++) {
        sink_put(k, &at, 8);
        at += s->len[i];
    }
    sink_pad_to(k, off[3]);
    sink_put(k, s->len, s->n * 4);
    sink_pad_to(k, off[4]);
    sink_put(k, s->dataset, s->n * 4);
    sink_pad_to(k, off[5]);
    sink_put(k, s->row, s->n * 8);
}

static void emit_body(sink *k, const ds_set *sets[2], const dsc_layout *L) {
    for (int s = 0; s < 2; s++) emit_split(k, sets[s], L->off[s]);
    sink_pad_to(k, L->size);
}

static void make_header(uint8_t *hd, const uint8_t *key, const ds_set *sets[2], const dsc_layout *L) {
    memset(hd, 0, DS_CACHE_HEADER);
    memcpy(hd + DSC_OFF_MAGIC, DS_CACHE_MAGIC, 8);
    uint32_t v = DS_CACHE_VERSION, hs = DS_CACHE_HEADER;
    memcpy(hd + DSC_OFF_VERSION, &v, 4);
    memcpy(hd + DSC_OFF_HSIZE, &hs, 4);
    memcpy(hd + DSC_OFF_KEY, key, DS_CACHE_KEY_LEN);
    for (int s = 0; s < 2; s++) {
        dsc_put_u64(hd + DSC_OFF_COUNTS + 16 * s, sets[s]->n);
        dsc_put_u64(hd + DSC_OFF_COUNTS + 16 * s + 8, sets[s]->ntok);
    }
    dsc_put_u64(hd + DSC_OFF_FSIZE, L->size);
}

nt_status ds_cache_write(const char *path, const uint8_t key[DS_CACHE_KEY_LEN],
                         const ds_set *train, const ds_set *valid, nt_err *err) {
    const ds_set *sets[2] = {train, valid};
    uint64_t n[2] = {train->n, valid->n}, ntok[2] = {train->ntok, valid->ntok};
    dsc_layout L;
    dsc_layout_of(n, ntok, &L);
    uint8_t hd[DS_CACHE_HEADER];
    make_header(hd, key, sets, &L);

    nt_hash h;
    nt_hash_init(&h, DS_CACHE_KEY_LEN);
    nt_hash_update(&h, hd, DSC_OFF_SUM);
    sink ck = {.h = &h, .pos = DS_CACHE_HEADER};
    emit_body(&ck, sets, &L);
    nt_hash_final(&h, hd + DSC_OFF_SUM);

    char *dir = nt_xstrdup(path);
    char *slash = strrchr(dir, '/');
    nt_status st = NT_OK;
    if (slash && slash != dir) {
        *slash = '\0';
        st = nt_mkdirs(dir, err);
    }
    free(dir);
    if (st) return st;
    nt_atomic_file f;
    if ((st = nt_atomic_open(&f, path, err))) return st;
    sink out = {.f = &f, .err = err};
    sink_put(&out, hd, sizeof hd);
    emit_body(&out, sets, &L);
    sink_flush(&out);
    nt_buf_free(&out.buf);
    if (out.st) {
        nt_atomic_abort(&f);
        return out.st;
    }
    return nt_atomic_commit(&f, err);
}
