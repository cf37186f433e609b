/* Fills the parameter allocation from a checkpoint. A stopgap until the shared loader
 * (m4_load) lands: resolves the text-layout name in the three layouts and converts the
 * stored dtype to f32 exactly (FP8 times its weight_scale_inv). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/m4_internal.h"
#include "tensor/convert.h"
#include "tensor/dtype.h"

/* The checkpoint tensor for a text-layout name, trying the wrapper layouts too. */
static const st_tensor *find_any(const st_model *ck, const char *name, char *found, size_t cap) {
    char alt[256];
    const char *rest = strncmp(name, "model.", 6) == 0 ? name + 6 : NULL;
    const char *cands[3] = {name, NULL, NULL};
    char c1[256], c2[256];
    if (rest) {
        snprintf(c1, sizeof c1, "model.language_model.%s", rest);
        snprintf(c2, sizeof c2, "language_model.model.%s", rest);
        cands[1] = c1;
        cands[2] = c2;
    } else if (!strcmp(name, "lm_head.weight")) {
        snprintf(alt, sizeof alt, "language_model.lm_head.weight");
        cands[1] = alt;
    }
    for (int i = 0; i < 3; i++) {
        const st_tensor *t = cands[i] ? st_model_find(ck, cands[i]) : NULL;
        if (t) {
            snprintf(found, cap, "%s", cands[i]);
            return t;
        }
    }
    return NULL;
}

static nt_status scale_of(const st_model *ck, const char *name, float **scales, size_t *n,
                          nt_err *err) {
    char sname[300];
    size_t len = strlen(name);
    if (len > 7 && !strcmp(name + len - 7, ".weight"))
        snprintf(sname, sizeof sname, "%.*s.weight_scale_inv", (int)(len - 7), name);
    else
        snprintf(sname, sizeof sname, "%s_scale_inv", name);
    const st_tensor *s = st_model_find(ck, sname);
    if (!s) return nt_err_set(err, NT_ENOTFOUND, "%s: F8_E4M3 without %s", name, sname);
    tn_dtype dt;
    if (tn_dtype_from_st(st_dtype_name(s->dtype), &dt, err)) return nt_err_prefix(err, "%s: ", sname);
    *n = (size_t)s->numel;
    *scales = malloc(*n * sizeof(float));
    void *tmp = malloc(s->nbytes ? s->nbytes : 1);
    if (!*scales || !tmp) abort();
    memcpy(tmp, s->data, s->nbytes);
    nt_status st = tn_to_f32(dt, tmp, *scales, *n, err);
    free(tmp);
    return st;
}

static nt_status convert(const st_model *ck, const st_tensor *t, const char *name, float *dst,
                         nt_err *err) {
    tn_dtype dt;
    if (tn_dtype_from_st(st_dtype_name(t->dtype), &dt, err)) return nt_err_prefix(err, "%s: ", name);
    if (dt == TN_F8_E4M3) {
        float *sc = NULL;
        size_t ns = 0;
        nt_status st = scale_of(ck, name, &sc, &ns, err);
        if (!st) {
            size_t cols = (size_t)t->shape[t->ndim - 1], rows = (size_t)(t->numel / cols);
            tn_fp8_dequant_rows(t->data, cols, rows / (ns ? ns : 1), sc, 0, rows, dst);
        }
        free(sc);
        return st;
    }
    void *src = (void *)t->data, *tmp = NULL;
    if (!st_tensor_aligned(t)) {
        tmp = malloc(t->nbytes);
        if (!tmp) abort();
        memcpy(tmp, t->data, t->nbytes);
        src = tmp;
    }
    nt_status st = tn_to_f32(dt, src, dst, (size_t)t->numel, err);
    free(tmp);
    return st ? nt_err_prefix(err, "%s: ", name) : NT_OK;
}

nt_status m4_model_load(m4_model *m, const st_model *ck, nt_err *err) {
    for (size_t i = 0; i < m->n_info; i++) {
        const m4_param_info *p = &m->info[i];
        char found[256];
        const st_tensor *t = find_any(ck, p->name, found, sizeof found);
        if (!t) return nt_err_set(err, NT_ENOTFOUND, "tensor '%s' not in checkpoint", p->name);
        bool same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) return nt_err_set(err, NT_EINVAL, "tensor '%s': shape does not match the config", found);
        if (convert(ck, t, found, m->params + p->offset, err)) return err ? err->code : NT_EINVAL;
    }
    return NT_OK;
}
