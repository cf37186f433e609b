/* Base64 for token bytes (tekken.json "token_bytes", tiktoken rank files). */
#ifndef NEWT_TOKENIZER_TOK_BASE64_H
#define NEWT_TOKENIZER_TOK_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

/* Decodes s[0..n) into out (room for n * 3 / 4 bytes); false on malformed input. */
bool tok_b64_decode(const char *s, size_t n, uint8_t *out, size_t *out_n);
void tok_b64_encode(nt_buf *b, const uint8_t *p, size_t n);

#endif
