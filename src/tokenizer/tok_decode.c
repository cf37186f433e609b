/* Decoding: token bytes back to back, then one lossy UTF-8 conversion of the whole, as HF's
 * ByteLevel decoder does (so a character split over two tokens decodes intact). */
#include "tokenizer/tok_internal.h"

nt_status tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
                     nt_buf *out, nt_err *err) {
    nt_buf raw = {0};
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *p = ids[i] >= 0 ? tok_token_bytes(t, (uint32_t)ids[i], &len) : NULL;
        if (!p) {
            nt_buf_free(&raw);
            return nt_err_set(err, NT_EINVAL, "id %d (position %zu) is not in the vocabulary (size %u)", ids[i], i,
                              t->n_ids);
        }
        if (skip_special && tok_is_special(t, (uint32_t)ids[i])) continue;
        nt_buf_append(&raw, p, len);
    }
    tok_utf8_lossy(out, (const uint8_t *)raw.data, raw.len);
    nt_buf_free(&raw);
    return NT_OK;
}
