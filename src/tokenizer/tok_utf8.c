/* UTF-8 validation, decoding and lossy conversion (invalid bytes -> U+FFFD). */
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Length of the valid UTF-8 sequence at p[0..n), or 0 if it is not valid. Follows the
 * Unicode well-formed table (no overlongs, no surrogates, nothing above U+10FFFF). */
static int seq_len(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    if (c < 0xE0) return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    if (n < 2 || p[1] < lo || p[1] > hi) return 0;
    if (c < 0xF0) return n >= 3 && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    return n >= 4 && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80 ? 4 : 0;
}

size_t tok_utf8_check(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        int k = seq_len(p + i, n - i);
        if (!k) return i;
        i += (size_t)k;
    }
    return n;
}

int tok_utf8_next(const uint8_t *p, uint32_t *cp) {
    uint8_t c = p[0];
    if (c < 0x80) { *cp = c; return 1; }
    if (c < 0xE0) { *cp = (uint32_t)(c & 0x1F) << 6 | (p[1] & 0x3F); return 2; }
    if (c < 0xF0) {
        *cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
        return 3;
    }
    *cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
          (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
    return 4;
}

/* Length of the maximal prefix of a valid sequence at p (>= 1): what one U+FFFD replaces. */
static size_t invalid_len(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    if (c < 0xC2 || c > 0xF4) return 1;
    size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    size_t k = 1;
    if (k < n && k < need && p[k] >= lo && p[k] <= hi) k++;
    else return 1;
    while (k < n && k < need && (p[k] & 0xC0) == 0x80) k++;
    return k;
}

void tok_utf8_lossy(nt_buf *out, const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t ok = tok_utf8_check(p + i, n - i);
        nt_buf_append(out, p + i, ok);
        i += ok;
        if (i >= n) break;
        nt_buf_append(out, "\xEF\xBF\xBD", 3);
        i += invalid_len(p + i, n - i);
    }
}

/* Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s test). */
bool tok_is_unicode_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}
