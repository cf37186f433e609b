/* The prepared-cache file layout shared by the writer and the reader (docs/datasets.md). */
#ifndef NEWT_DATA_DS_CACHE_INT_H
#define NEWT_DATA_DS_CACHE_INT_H

#include <stdint.h>

#include "data/ds_cache.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the prepared cache format is little-endian; this host is not"
#endif

/* Header field offsets. */
enum {
    DSC_OFF_MAGIC = 0, DSC_OFF_VERSION = 8, DSC_OFF_HSIZE = 12, DSC_OFF_KEY = 16,
    DSC_OFF_COUNTS = 48, /* n_train, ntok_train, n_val, ntok_val: u64 each */
    DSC_OFF_FSIZE = 80, DSC_OFF_RESERVED = 88, DSC_OFF_SUM = 96,
};

/* Per split: ids, labels, start, len, dataset, row. */
#define DSC_NSEC 6
static const unsigned dsc_elem[DSC_NSEC] = {4, 4, 8, 4, 4, 8};

typedef struct {
    uint64_t off[2][DSC_NSEC];
    uint64_t size;
} dsc_layout;

static inline uint64_t dsc_align(uint64_t x) {
    return (x + DS_CACHE_ALIGN - 1) / DS_CACHE_ALIGN * DS_CACHE_ALIGN;
}

/* Counts must be below 2^40 (checked by the reader) so nothing overflows. */
static inline void dsc_layout_of(const uint64_t n[2], const uint64_t ntok[2], dsc_layout *L) {
    uint64_t at = DS_CACHE_HEADER;
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < DSC_NSEC; c++) {
            L->off[s][c] = at;
            at = dsc_align(at + (c < 2 ? ntok[s] : n[s]) * dsc_elem[c]);
        }
    L->size = at;
}

static inline uint64_t dsc_get_u64(const uint8_t *p) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

static inline void dsc_put_u64(uint8_t *p, uint64_t x) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(x >> (8 * i));
}

#endif
