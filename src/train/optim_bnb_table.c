/* A direct-lookup replacement for bnb's dQuantize binary search (tn_qmap_quantize), built once
 * per map (optim_internal.h, tr_qtable).
 *
 * Why it is exact. For a strictly increasing, finite map the reference search compares x only
 * with the odd-indexed codes on its way down (127, 63 or 191, ... ), ends on the even index
 * p = 2 * #{odd o : x > code[o]} with lower = code[p - 1] (code[0] when p = 0) and upper =
 * code[p + 1], and then picks p - 1, p or p + 1 by the midpoint rules. Every comparison is
 * monotone in x, so the result is a non-decreasing step function of x (-0 and +0 compare
 * equal and give the same code; NaN compares false everywhere and gives 0). A non-decreasing
 * step function is fully described by where it steps: K_c, the smallest x (as an ordered
 * integer key) with result >= c, for c = 1..255. Those are found here by bisection over keys,
 * using the reference function itself, so the rules (ties at midpoints, the end fix-ups) are
 * reproduced by construction. A lookup is then the count of K_c <= key(x): the key's bucket
 * gives the count below the bucket and the one step inside it (buckets are chosen small
 * enough to hold at most one).
 *
 * Keys: key(x) = mag for x >= +0 and ~mag (= -1 - mag) for x <= -0, where mag = max(|x| bits,
 * mb0) - mb0: magnitudes below m0 (bits mb0) collapse onto m0, which removes the ~2^30 keys
 * of tiny floats from the table; done only where the map gives one code on [-m0, -0] and
 * one on [+0, m0] (checked). Any other map (unsorted, NaN entries: a checkpoint may carry
 * anything) leaves the table unbuilt (ok = false) and the step uses the search. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "tensor/qmap.h"
#include "train/optim_internal.h"

/* Tables larger than this are not worth it (the map would be very odd): use the search. */
#define TR_QTABLE_MAX_BUCKETS (1u << 17)

static float from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static uint32_t to_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* The float of key k (one of them, for the collapsed magnitudes). */
static float key_float(int32_t k, uint32_t mb0) {
    return k < 0 ? from_bits(0x80000000u | ((uint32_t)~k + mb0)) : from_bits((uint32_t)k + mb0);
}

static bool map_is_increasing(const float code[256]) {
    for (int i = 0; i < 256; i++)
        if (!isfinite(code[i]) || (i > 0 && !(code[i - 1] < code[i]))) return false;
    return true;
}

/* The largest exponent-aligned m0 below every nonzero |code| on which the result is constant
 * on both sides of zero; 0 (no collapsing) if there is none. */
static uint32_t pick_mb0(const float code[256]) {
    uint32_t mn = 0x7f800000u;
    for (int i = 0; i < 256; i++) {
        uint32_t b = to_bits(code[i]) & 0x7fffffffu;
        if (b && b < mn) mn = b;
    }
    uint32_t mb0 = (mn & 0x7f800000u) >= 0x01000000u ? (mn & 0x7f800000u) - 0x00800000u : 0;
    float m0 = from_bits(mb0);
    if (mb0 && (tn_qmap_quantize(code, m0) != tn_qmap_quantize(code, 0.0f) ||
                tn_qmap_quantize(code, -m0) != tn_qmap_quantize(code, -0.0f)))
        return 0;
    return mb0;
}

/* K_c for c = 1..255 (k[c]): the smallest key in [lo, hi] whose code is >= c, or hi + 1. */
static void find_steps(const float code[256], uint32_t mb0, int64_t lo, int64_t hi, int64_t k[256]) {
    for (int c = 1; c < 256; c++) {
        int64_t a = lo, b = hi + 1; /* invariant: code(a - 1) < c (or a = lo), code(b) >= c */
        while (a < b) {
            int64_t mid = a + (b - a) / 2;
            if (tn_qmap_quantize(code, key_float((int32_t)mid, mb0)) >= c) b = mid;
            else a = mid + 1;
        }
        k[c] = a;
    }
}

/* The largest shift whose buckets hold at most one step each; -1 if none fits the limit. */
static int pick_shift(const int64_t k[256], int64_t klo, int64_t khi) {
    for (int shift = 23; shift >= 0; shift--) {
        if ((uint64_t)((khi - klo) >> shift) + 1 > TR_QTABLE_MAX_BUCKETS) return -1;
        bool one = true;
        for (int c = 2; c < 256 && one; c++)
            one = (k[c] - klo) >> shift != (k[c - 1] - klo) >> shift;
        if (one) return shift;
    }
    return -1;
}

void tr_qtable_build(tr_qtable *t, const float code[256]) {
    tr_qtable_free(t);
    if (!map_is_increasing(code)) return;
    uint32_t mb0 = pick_mb0(code);
    int64_t top = (int64_t)(0x7f800000u - mb0); /* the key of +inf */
    int64_t k[256];
    find_steps(code, mb0, -1 - top, top, k);
    int64_t klo = k[1] - 1, khi = k[255];
    if (khi > top || khi - klo >= (int64_t)1 << 31) return; /* never reaches 255: unusual map */
    int shift = pick_shift(k, klo, khi);
    if (shift < 0) return;
    size_t nb = (size_t)((khi - klo) >> shift) + 1;
    t->tab = nt_xmalloc(nb * sizeof(uint32_t));
    int c = 1; /* the next step not yet below the current bucket */
    for (size_t b = 0; b < nb; b++) {
        int64_t start = klo + ((int64_t)b << shift), end = start + ((int64_t)1 << shift);
        uint32_t base = (uint32_t)(c - 1), off = 1u << shift;
        if (c < 256 && k[c] < end) off = (uint32_t)(k[c] - start), c++;
        t->tab[b] = base | off << 8;
    }
    t->nneg = 0; /* sorted: the negatives, then at most one zero (-0 counts), then positives */
    for (int i = 0; i < 256; i++) t->nneg += signbit(code[i]) != 0;
    t->mb0 = mb0;
    t->klo = (int32_t)klo;
    t->khi = (int32_t)khi;
    t->shift = (uint32_t)shift;
    t->ok = true;
}

void tr_qtable_free(tr_qtable *t) {
    free(t->tab);
    *t = (tr_qtable){0};
}

uint8_t tr_qtable_quantize(const tr_qtable *t, float x) {
    uint32_t bits = to_bits(x), mag = bits & 0x7fffffffu;
    if (mag > 0x7f800000u) return 0; /* NaN */
    mag = (mag > t->mb0 ? mag : t->mb0) - t->mb0;
    int32_t key = (int32_t)(mag ^ (uint32_t)((int32_t)bits >> 31));
    key = key < t->klo ? t->klo : key > t->khi ? t->khi : key;
    uint32_t rel = (uint32_t)key - (uint32_t)t->klo;
    uint32_t e = t->tab[rel >> t->shift];
    return (uint8_t)((e & 0xffu) + ((rel & ((1u << t->shift) - 1)) >= e >> 8));
}
