/* Fills the parameter allocation from an opened checkpoint (m4_load: any of the three name
 * layouts, F32/BF16/F16/F8_E4M3+scale converted exactly to f32). */
#include <stdlib.h>
#include <string.h>

#include "model/m4_internal.h"
#include "model/m4_load.h"

/* Table names are the text layout ("model.layers.0...", "lm_head.weight"); m4_load asks for
 * the canonical name without the "model." prefix. */
static nt_status load_compact(m4_model *m, const m4_weights *w, size_t i, const char *canon,
                              nt_err *err) {
    const m4_param_info *p = &m->info[i];
    float *tmp = malloc((size_t)p->numel * sizeof(float) + 1); /* one tensor at a time */
    if (!tmp) return nt_err_set(err, NT_ENOMEM, "tensor '%s': out of memory", canon);
    nt_status st = m4_load_f32(w, canon, tmp, (size_t)p->numel, err);
    if (!st) st = m4_store_make(&m->store[i], p, m->store[i].dtype, m->pol[i].double_quant, tmp, err);
    free(tmp);
    return st;
}

nt_status m4_model_load(m4_model *m, const m4_weights *w, nt_err *err) {
    for (size_t i = 0; i < m->n_info; i++) {
        const m4_param_info *p = &m->info[i];
        const char *canon = strncmp(p->name, "model.", 6) == 0 ? p->name + 6 : p->name;
        nt_status st = m->store[i].dtype != TN_F32
                           ? load_compact(m, w, i, canon, err)
                           : m4_load_f32(w, canon, m->params + m->poff[i], (size_t)p->numel, err);
        if (st) return st;
    }
    return NT_OK;
}
