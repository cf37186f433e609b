/* Standard base64 (RFC 4648, with padding), as tekken.json and tiktoken files use. */
#include "tokenizer/tok_base64.h"

static int b64_val(uint8_t c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

bool tok_b64_decode(const char *s, size_t n, uint8_t *out, size_t *out_n) {
    if (n % 4) return false;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            uint8_t c = (uint8_t)s[i + j];
            if (c == '=' && i + 4 == n && j >= 2) { v[j] = 0; pad++; continue; }
            if (pad) return false; /* data after padding */
            v[j] = b64_val(c);
            if (v[j] < 0) return false;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[k++] = (uint8_t)(w >> 16);
        if (pad < 2) out[k++] = (uint8_t)(w >> 8);
        if (pad < 1) out[k++] = (uint8_t)w;
    }
    *out_n = k;
    return true;
}

void tok_b64_encode(nt_buf *b, const uint8_t *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16;
        if (i + 1 < n) w |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) w |= p[i + 2];
        char q[4] = {tab[w >> 18 & 63], tab[w >> 12 & 63], i + 1 < n ? tab[w >> 6 & 63] : '=',
                     i + 2 < n ? tab[w & 63] : '='};
        nt_buf_append(b, q, 4);
    }
}
