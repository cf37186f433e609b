/* Loading adapters back from an adapter_model.safetensors (resume, continued training). Every
 * A/B is checked (present, 2-D with the exact shape, F32 or BF16) before anything is copied,
 * so on error the adapters are unchanged. */
#include <stdlib.h>
#include <string.h>

#include "formats/safetensors.h"
#include "model/m4_lora_internal.h"
#include "tensor/convert.h"

static nt_status check_one(const st_file *f, const m4_lora_tensor *x, nt_err *err) {
    const st_tensor *t = st_file_find(f, x->name);
    if (!t) return nt_err_set(err, NT_ENOTFOUND, "tensor %s is missing", x->name);
    if (t->dtype != ST_F32 && t->dtype != ST_BF16)
        return nt_err_set(err, NT_EUNSUPPORTED, "tensor %s: dtype %s, expected F32 or BF16",
                          x->name, st_dtype_name(t->dtype));
    if (t->ndim != 2 || t->shape[0] != x->shape[0] || t->shape[1] != x->shape[1])
        return nt_err_set(err, NT_EINVAL, "tensor %s: expected shape [%lld, %lld], got a %d-D tensor%s",
                          x->name, (long long)x->shape[0], (long long)x->shape[1], t->ndim,
                          t->ndim == 2 ? " of another size" : "");
    return NT_OK;
}

static void copy_one(const st_file *f, const m4_lora_tensor *x) {
    const st_tensor *t = st_file_find(f, x->name);
    if (t->dtype == ST_F32) {
        memcpy(x->data, t->data, (size_t)x->numel * sizeof(float));
        return;
    }
    uint16_t *tmp = malloc((size_t)x->numel * sizeof *tmp + 1);
    if (!tmp) abort();
    memcpy(tmp, t->data, (size_t)x->numel * sizeof *tmp); /* the mapping may be unaligned */
    tn_bf16_to_f32_row(tmp, x->data, (size_t)x->numel);
    free(tmp);
}

nt_status m4_lora_load(m4_model *m, const char *path, nt_err *err) {
    if (!m->lora) return nt_err_set(err, NT_EINVAL, "%s: no LoRA adapters attached", path);
    st_file *f = NULL;
    nt_status st = st_file_open(path, &f, err);
    if (st) return st;
    size_t n = m4_lora_num_tensors(m);
    for (size_t i = 0; i < n && !st; i++) st = check_one(f, &m->lora->t[i], err);
    if (!st)
        for (size_t i = 0; i < n; i++) copy_one(f, &m->lora->t[i]);
    st_file_close(f);
    if (st) nt_err_prefix(err, "%s: ", path);
    return st;
}
