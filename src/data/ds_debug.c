/* Sample dumps for humans and for other tools. */
#include "data/ds_debug.h"

#include <inttypes.h>

#include "base/fileio.h"

static void token_text(nt_buf *b, const tok_tokenizer *t, int32_t id) {
    size_t n = 0;
    const uint8_t *p = id >= 0 ? tok_token_bytes(t, (uint32_t)id, &n) : NULL;
    for (size_t k = 0; p && k < n; k++) {
        if (p[k] == '\n') nt_buf_puts(b, "\\n");
        else if (p[k] == '\t') nt_buf_puts(b, "\\t");
        else if (p[k] < 0x20) nt_buf_printf(b, "\\x%02x", p[k]);
        else nt_buf_putc(b, (char)p[k]);
    }
}

void ds_debug_sample(nt_buf *b, const ds_set *s, size_t i, const tok_tokenizer *t, bool color) {
    const int32_t *ids = ds_set_ids(s, i), *lab = ds_set_labels(s, i);
    nt_buf_printf(b, "sample %zu (dataset %u, row %" PRIu64 "):\n", i, s->dataset[i], s->row[i]);
    for (uint32_t k = 0; k < s->len[i]; k++) {
        bool on = lab[k] != DS_IGNORE_INDEX;
        if (k) nt_buf_putc(b, ' ');
        if (color) nt_buf_puts(b, on ? "\x1b[32m" : "\x1b[31m");
        else if (on) nt_buf_puts(b, "«");
        token_text(b, t, ids[k]);
        nt_buf_printf(b, "(%d, %d)", lab[k], ids[k]);
        if (color) nt_buf_puts(b, "\x1b[0m");
        else if (on) nt_buf_puts(b, "»");
    }
    nt_buf_printf(b, "\nlength %u, trained %u\n\n", s->len[i], ds_set_trained(s, i));
}

static void int_list(nt_buf *b, const int32_t *v, uint32_t n) {
    nt_buf_putc(b, '[');
    for (uint32_t k = 0; k < n; k++) nt_buf_printf(b, k ? ", %d" : "%d", v[k]);
    nt_buf_putc(b, ']');
}

nt_status ds_export_jsonl(const ds_set *s, const char *path, nt_err *err) {
    nt_atomic_file f;
    nt_status st = nt_atomic_open(&f, path, err);
    if (st) return st;
    nt_buf b = {0};
    for (size_t i = 0; i < s->n && !st; i++) {
        b.len = 0;
        nt_buf_puts(&b, "{\"input_ids\": ");
        int_list(&b, ds_set_ids(s, i), s->len[i]);
        nt_buf_puts(&b, ", \"labels\": ");
        int_list(&b, ds_set_labels(s, i), s->len[i]);
        nt_buf_printf(&b, ", \"dataset\": %u, \"row\": %" PRIu64 "}\n", s->dataset[i], s->row[i]);
        st = nt_atomic_write(&f, b.data, b.len, err);
    }
    nt_buf_free(&b);
    if (st) { nt_atomic_abort(&f); return st; }
    return nt_atomic_commit(&f, err);
}
