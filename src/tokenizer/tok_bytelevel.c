/* GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68
 * bytes map to U+0100.. in byte order. HF byte-level BPE vocabularies are written in it. */
#include "tokenizer/tok_internal.h"

static bool byte_is_self(unsigned b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t tok_byte_to_cp(uint8_t b) {
    /* the 68 other bytes in order: 0x00-0x20, 0x7F-0xA0, 0xAD */
    if (byte_is_self(b)) return b;
    if (b <= 0x20) return 256u + b;
    if (b <= 0xA0) return 256u + 33 + (b - 0x7Fu);
    return 256u + 67;
}

int tok_cp_to_byte(uint32_t cp) {
    if (cp < 256) return byte_is_self(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    unsigned k = cp - 256;
    if (k < 33) return (int)k;
    if (k < 67) return (int)(0x7F + k - 33);
    return 0xAD;
}

bool tok_bytelevel_decode(const char *s, size_t n, uint8_t *out, size_t *out_n) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, k = 0;
    if (tok_utf8_check(p, n) != n) return false;
    while (i < n) {
        uint32_t cp;
        i += (size_t)tok_utf8_next(p + i, &cp);
        int b = tok_cp_to_byte(cp);
        if (b < 0) return false;
        out[k++] = (uint8_t)b;
    }
    *out_n = k;
    return true;
}

void tok_bytelevel_encode(nt_buf *b, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = tok_byte_to_cp(p[i]);
        if (cp < 0x80) {
            nt_buf_putc(b, (char)cp);
        } else {
            char u[2] = {(char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F))};
            nt_buf_append(b, u, 2);
        }
    }
}
