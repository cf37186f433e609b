/* PEFT adapter tensors: key names, saving, initialization. */
#include "export/peft.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "model/m4_init.h"
#include "tensor/convert.h"

char *ex_lora_key(const tr_target *t, char which) {
    nt_buf b = {0};
    nt_buf_printf(&b, "base_model.model.%s", t->module);
    for (int i = 0; i < t->nest; i++) nt_buf_puts(&b, ".base_layer");
    nt_buf_printf(&b, ".lora_%c.weight", which);
    return nt_buf_take(&b, NULL);
}

void ex_lora_init(const tr_target *t, int64_t r, uint64_t seed, float *A, float *B) {
    char *key = ex_lora_key(t, 'A');
    m4_rng rng;
    m4_rng_seed(&rng, seed, key);
    free(key);
    /* kaiming_uniform_(a=√5): gain √(2/(1+5)), bound = gain·√3/√fan_in = 1/√in. */
    double bound = 1.0 / sqrt((double)t->in);
    int64_t na = r * t->experts * t->in, nb = t->out * r * t->experts;
    for (int64_t i = 0; i < na; i++) {
        double u = (double)(m4_rng_next(&rng) >> 11) * 0x1p-53;
        A[i] = (float)(bound * (2.0 * u - 1.0));
    }
    memset(B, 0, (size_t)nb * sizeof *B);
}

/* Tensors are added borrowed (F32) or converted into buffers kept until the save (BF16). */
typedef struct {
    st_writer *w;
    st_dtype dtype;
    void **owned;
    size_t n_owned;
} adder;

static nt_status add(adder *a, const char *name, int ndim, const int64_t *shape,
                     const float *data, nt_err *err) {
    if (!data) return nt_err_set(err, NT_EINVAL, "tensor '%s': no data", name);
    if (a->dtype == ST_F32) return st_writer_add(a->w, name, ST_F32, ndim, shape, data, err);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    uint16_t *bf = nt_xmalloc(n ? n * 2 : 1);
    tn_f32_to_bf16_row(data, bf, n);
    a->owned = nt_xrealloc(a->owned, (a->n_owned + 1) * sizeof *a->owned);
    a->owned[a->n_owned++] = bf;
    return st_writer_add(a->w, name, ST_BF16, ndim, shape, bf, err);
}

static nt_status add_all(adder *a, const tr_result *res, int64_t r, const ex_adapter_data *d,
                         nt_err *err) {
    nt_status st = NT_OK;
    for (size_t i = 0; i < res->n && !st; i++) {
        const tr_target *t = &res->targets[i];
        int64_t re = r * t->experts;
        int64_t sa[2] = {re, t->in}, sb[2] = {t->out, re};
        char *ka = ex_lora_key(t, 'A'), *kb = ex_lora_key(t, 'B');
        st = add(a, ka, 2, sa, d->lora[i].A, err);
        if (!st) st = add(a, kb, 2, sb, d->lora[i].B, err);
        free(ka);
        free(kb);
    }
    for (size_t i = 0; i < res->n_saved && !st; i++) {
        char *k = nt_xasprintf("base_model.model.%s", res->saved[i].name);
        st = add(a, k, res->saved[i].ndim, res->saved[i].shape, d->saved ? d->saved[i] : NULL,
                 err);
        free(k);
    }
    return st;
}

static nt_status write_text(const char *dir, const char *file, char *text, nt_err *err) {
    char *path = nt_path_join(dir, file);
    nt_status st = nt_write_file_atomic(path, text, strlen(text), err);
    free(path);
    free(text);
    return st;
}

nt_status ex_save_adapter(const char *dir, const tr_result *res, const ex_peft_config *c,
                          const ex_adapter_data *d, nt_err *err) {
    if (d->dtype != ST_F32 && d->dtype != ST_BF16)
        return nt_err_set(err, NT_EINVAL, "adapter dtype must be F32 or BF16, not %s",
                          st_dtype_name(d->dtype));
    if (c->r < 1) return nt_err_set(err, NT_EINVAL, "lora_r must be >= 1");
    nt_status st = nt_mkdirs(dir, err);
    if (st) return st;
    adder a = {.w = st_writer_new(), .dtype = d->dtype};
    st = add_all(&a, res, c->r, d, err);
    if (!st) {
        char *path = nt_path_join(dir, "adapter_model.safetensors");
        st = st_writer_save(a.w, path, err);
        free(path);
    }
    st_writer_free(a.w);
    for (size_t i = 0; i < a.n_owned; i++) free(a.owned[i]);
    free(a.owned);
    if (!st) st = write_text(dir, "adapter_config.json", ex_adapter_config_json(res, c), err);
    if (!st)
        st = write_text(dir, "README.md", ex_model_card(res, c, d->metrics, d->n_metrics), err);
    if (st) nt_err_prefix(err, "%s: ", dir);
    return st;
}
