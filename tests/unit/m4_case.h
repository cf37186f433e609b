/* Loading a reference case (config.json + model.safetensors + ref_float64.safetensors, the
 * fixture conventions of ../shared/fixtures/README.md) into a model and a batch, for the
 * parity tests. Reference tensors are read as doubles. */
#ifndef NEWT_TEST_M4_CASE_H
#define NEWT_TEST_M4_CASE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json.h"
#include "model/m4_batch.h"
#include "model/m4_load.h"
#include "formats/safetensors.h"
#include "model/m4_config.h"
#include "model/m4_model.h"

typedef struct {
    m4_model *model;
    st_file *ref;
    m4_batch batch;
    m4_batch_buf bb;
} m4_case;

/* Elements of a reference tensor as doubles (F64, F32, I64, I32); NULL if absent. */
static inline double *case_doubles(const st_file *f, const char *name, int64_t *n) {
    const st_tensor *t = st_file_find(f, name);
    if (!t) return NULL;
    double *out = malloc((t->numel ? t->numel : 1) * sizeof(double));
    for (uint64_t i = 0; i < t->numel; i++) {
        const char *p = (const char *)t->data;
        switch (t->dtype) {
        case ST_F64: { double v; memcpy(&v, p + 8 * i, 8); out[i] = v; break; }
        case ST_F32: { float v; memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
        case ST_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); out[i] = (double)v; break; }
        case ST_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
        default: out[i] = 0;
        }
    }
    if (n) *n = (int64_t)t->numel;
    return out;
}

static inline void case_free(m4_case *c) {
    m4_model_free(c->model);
    st_file_close(c->ref);
    m4_batch_buf_free(&c->bb);
    memset(c, 0, sizeof *c);
}

/* dir holds config.json and model.safetensors; ref is the reference file. */
static inline int case_open(m4_case *c, const char *dir, const char *ref, bool ckpt, nt_err *err) {
    memset(c, 0, sizeof *c);
    m4_weights *w = NULL;
    if (m4_weights_open(dir, &w, err)) return 1;
    m4_options opt = {.checkpointing = ckpt};
    nt_status st = m4_model_new(&m4_weights_config(w)->text, &opt, &c->model, err);
    if (!st) st = m4_model_load(c->model, w, err);
    m4_weights_close(w);
    if (st || st_file_open(ref, &c->ref, err)) return 1;
    if (m4_batch_read(c->ref, &c->bb, err)) return 1;
    c->batch = c->bb.b;
    return 0;
}

/* ‖a − b‖ / ‖b‖ (‖a − b‖ when b is 0). */
static inline double rel_err_f(const float *a, const double *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

#endif
