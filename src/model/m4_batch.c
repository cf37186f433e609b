/* Reading m4_batch tensors from a safetensors file. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_batch.h"

/* Element i of an integer tensor as int64 (data may be unaligned: memcpy). */
static int64_t int_at(const st_tensor *t, uint64_t i) {
    const char *p = (const char *)t->data;
    switch (t->dtype) {
    case ST_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    case ST_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case ST_U8: case ST_BOOL: return (unsigned char)p[i];
    default: return 0;
    }
}

static nt_status get(const st_file *f, const char *name, bool small_ok, int64_t B, int64_t T,
                     const st_tensor **out, nt_err *err) {
    const st_tensor *t = st_file_find(f, name);
    *out = t;
    if (!t) return NT_OK;
    bool dt_ok = t->dtype == ST_I64 || t->dtype == ST_I32 ||
                 (small_ok && (t->dtype == ST_U8 || t->dtype == ST_BOOL));
    if (!dt_ok)
        return nt_err_set(err, NT_EINVAL, "%s: tensor '%s': dtype %s (expected an integer type)",
                          st_file_path(f), name, st_dtype_name(t->dtype));
    if (t->ndim != 2 || (B >= 0 && (t->shape[0] != B || t->shape[1] != T)))
        return nt_err_set(err, NT_EINVAL, "%s: tensor '%s': shape does not match input_ids [%lld, %lld]",
                          st_file_path(f), name, (long long)B, (long long)T);
    return NT_OK;
}

nt_status m4_batch_read(const st_file *f, m4_batch_buf *bb, nt_err *err) {
    memset(bb, 0, sizeof *bb);
    const st_tensor *ids, *lab, *msk, *pos;
    if (get(f, "input_ids", false, -1, -1, &ids, err)) return err ? err->code : NT_EINVAL;
    if (!ids) return nt_err_set(err, NT_ENOTFOUND, "%s: no tensor 'input_ids'", st_file_path(f));
    int64_t B = ids->shape[0], T = ids->shape[1];
    if (B <= 0 || T <= 0) return nt_err_set(err, NT_EINVAL, "%s: input_ids is empty", st_file_path(f));
    if (get(f, "labels", false, B, T, &lab, err) || get(f, "attention_mask", true, B, T, &msk, err) ||
        get(f, "position_ids", false, B, T, &pos, err))
        return err ? err->code : NT_EINVAL;
    size_t n = (size_t)(B * T);
    bb->ids = nt_xmalloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        int64_t v = int_at(ids, i);
        bb->ids[i] = v < INT32_MIN || v > INT32_MAX ? -1 : (int32_t)v;
    }
    if (lab) {
        bb->labels = nt_xmalloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
            int64_t v = int_at(lab, i);
            bb->labels[i] = v < INT32_MIN || v > INT32_MAX ? -2 : (int32_t)v;
        }
    }
    if (msk) {
        bb->mask = nt_xmalloc(n);
        for (size_t i = 0; i < n; i++) bb->mask[i] = int_at(msk, i) != 0;
    }
    if (pos) {
        bb->pos = nt_xmalloc(n * sizeof(int64_t));
        for (size_t i = 0; i < n; i++) bb->pos[i] = int_at(pos, i);
    }
    bb->b = (m4_batch){B, T, bb->ids, bb->labels, bb->mask, bb->pos};
    return NT_OK;
}

void m4_batch_buf_free(m4_batch_buf *bb) {
    free(bb->ids);
    free(bb->labels);
    free(bb->mask);
    free(bb->pos);
    memset(bb, 0, sizeof *bb);
}
