/* Exact conversion of checkpoint tensors to f32 and to compact storage dtypes. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_load_internal.h"
#include "tensor/convert.h"

#define CHUNK 4096 /* elements per bounce/convert step: 16 KiB of f32 on the stack */

/* F32/BF16/F16 elements [start, start+count) of t. Tensors written by other tools may sit at
 * any byte offset, so an unaligned tensor goes through an aligned bounce buffer. */
static nt_status read_plain(const st_tensor *t, tn_dtype dt, size_t start, size_t count,
                            float *dst, nt_err *err) {
    size_t es = st_dtype_size(t->dtype);
    const unsigned char *src = (const unsigned char *)t->data + start * es;
    if (st_tensor_aligned(t)) return tn_to_f32(dt, src, dst, count, err);
    float bounce[CHUNK];
    for (size_t i = 0; i < count; i += CHUNK) {
        size_t k = count - i < CHUNK ? count - i : CHUNK;
        memcpy(bounce, src + i * es, k * es);
        nt_status st = tn_to_f32(dt, bounce, dst + i, k, err);
        if (st) return st;
    }
    return NT_OK;
}

/* FP8 elements: one scale per slice of numel / nscales elements (the expert, or the tensor). */
static nt_status read_fp8(const m4_weights *w, const st_tensor *t, size_t start, size_t count,
                          float *dst, nt_err *err) {
    size_t ns = m4w_scale_count(t), slice = (size_t)t->numel / (ns ? ns : 1);
    float *scales = nt_xmalloc((ns ? ns : 1) * sizeof *scales);
    nt_status st = m4w_read_scales(w, t, scales, err);
    const uint8_t *src = t->data;
    for (size_t i = start, end = start + count; !st && i < end;) {
        size_t s = i / slice, k = (s + 1) * slice < end ? (s + 1) * slice - i : end - i;
        tn_fp8_dequant(src + i, scales[s], dst + (i - start), k);
        i += k;
    }
    free(scales);
    return st;
}

nt_status m4_load_f32_range(const m4_weights *w, const char *canon, size_t start, size_t count,
                            float *dst, nt_err *err) {
    const st_tensor *t = m4_weights_find(w, canon, err);
    if (!t) return err ? err->code : NT_ENOTFOUND;
    if (start > t->numel || count > t->numel - start)
        return nt_err_set(err, NT_EINVAL, "tensor '%s': elements [%zu, %zu) out of range (%llu)",
                          canon, start, start + count, (unsigned long long)t->numel);
    tn_dtype dt;
    if (!m4w_tn_dtype(t->dtype, &dt)) /* validated at open; kept for safety */
        return nt_err_set(err, NT_EUNSUPPORTED, "tensor '%s': dtype %s", canon,
                          st_dtype_name(t->dtype));
    if (count == 0) return NT_OK;
    nt_status st = dt == TN_F8_E4M3 ? read_fp8(w, t, start, count, dst, err)
                                    : read_plain(t, dt, start, count, dst, err);
    if (st) nt_err_prefix(err, "%s: ", canon);
    return st;
}

nt_status m4_load_f32(const m4_weights *w, const char *canon, float *dst, size_t numel,
                      nt_err *err) {
    const st_tensor *t = m4_weights_find(w, canon, err);
    if (!t) return err ? err->code : NT_ENOTFOUND;
    if (t->numel != numel)
        return nt_err_set(err, NT_EINVAL, "tensor '%s': %llu elements, caller expects %zu", canon,
                          (unsigned long long)t->numel, numel);
    return m4_load_f32_range(w, canon, 0, numel, dst, err);
}

static nt_status load_bf16(const m4_weights *w, const char *canon, m4_stored *s, nt_err *err) {
    uint16_t *out = malloc(s->numel * sizeof *out + 1);
    if (!out) return nt_err_set(err, NT_ENOMEM, "tensor '%s': out of memory", canon);
    s->data = out;
    float buf[CHUNK];
    for (size_t i = 0; i < s->numel; i += CHUNK) {
        size_t k = s->numel - i < CHUNK ? s->numel - i : CHUNK;
        nt_status st = m4_load_f32_range(w, canon, i, k, buf, err);
        if (st) return st;
        tn_f32_to_bf16_row(buf, out + i, k);
    }
    return NT_OK;
}

static nt_status load_nf4(const m4_weights *w, const char *canon, const st_tensor *t,
                          m4_stored *s, nt_err *err) {
    /* The whole tensor in f32 first: bnb quantizes the flattened tensor in blocks of 64. */
    float *tmp = malloc(s->numel * sizeof *tmp + 1);
    if (!tmp) return nt_err_set(err, NT_ENOMEM, "tensor '%s': out of memory", canon);
    nt_status st = m4_load_f32_range(w, canon, 0, s->numel, tmp, err);
    if (!st) st = tn_nf4_quantize(TN_F32, tmp, s->shape, s->ndim, TN_NF4_BLOCKSIZE, false, &s->nf4, err);
    free(tmp);
    if (st) return nt_err_prefix(err, "%s: ", canon);
    tn_dtype dt;
    if (m4w_tn_dtype(t->dtype, &dt) && (dt == TN_BF16 || dt == TN_F16)) s->nf4.dtype = dt;
    return NT_OK;
}

nt_status m4_load_stored(const m4_weights *w, const char *canon, tn_dtype dt, m4_stored *out,
                         nt_err *err) {
    memset(out, 0, sizeof *out);
    const st_tensor *t = m4_weights_find(w, canon, err);
    if (!t) return err ? err->code : NT_ENOTFOUND;
    out->dtype = dt;
    out->ndim = t->ndim;
    for (int i = 0; i < t->ndim && i < 4; i++) out->shape[i] = t->shape[i];
    out->numel = (size_t)t->numel;
    nt_status st;
    if (dt == TN_F32) {
        out->data = malloc(out->numel * sizeof(float) + 1);
        st = out->data ? m4_load_f32_range(w, canon, 0, out->numel, out->data, err)
                       : nt_err_set(err, NT_ENOMEM, "tensor '%s': out of memory", canon);
    } else if (dt == TN_BF16) {
        st = load_bf16(w, canon, out, err);
    } else if (dt == TN_NF4) {
        st = t->ndim >= 1 && t->ndim <= TN_NF4_MAX_DIMS
                 ? load_nf4(w, canon, t, out, err)
                 : nt_err_set(err, NT_EINVAL, "tensor '%s': NF4 needs 1-4 dims", canon);
    } else {
        st = nt_err_set(err, NT_EUNSUPPORTED, "tensor '%s': storage dtype %s (f32, bf16 or nf4)",
                        canon, tn_dtype_name(dt));
    }
    if (st) m4_stored_free(out);
    return st;
}
