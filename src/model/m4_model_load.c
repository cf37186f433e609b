/* Fills the parameter allocation from an opened checkpoint (m4_load: any of the three name
 * layouts, F32/BF16/F16/F8_E4M3+scale converted exactly to f32). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/m4_internal.h"
#include "model/m4_load.h"

/* Table names are the text layout ("model.layers.0...", "lm_head.weight"); m4_load asks for
 * the canonical name without the "model." prefix. */
/* bf16 and plain NF4 come straight from m4_load_stored (bf16 converted in chunks); NF4 with
 * double quant from one f32 copy of the tensor (bnb quantizes the whole flattened tensor). */
static nt_status load_compact(m4_model *m, const m4_weights *w, size_t i, const char *canon,
                              nt_err *err) {
    const m4_param_info *p = &m->info[i];
    m4_store *s = &m->store[i];
    if (s->dtype == TN_BF16 || !m->pol[i].double_quant) {
        m4_stored st;
        if (m4_load_stored(w, canon, s->dtype, &st, err)) return err ? err->code : NT_EINVAL;
        if ((int64_t)st.numel != p->numel) {
            m4_stored_free(&st);
            return nt_err_set(err, NT_EINVAL, "tensor '%s': %zu elements, the model expects %lld", canon,
                              st.numel, (long long)p->numel);
        }
        tn_dtype dt = s->dtype;
        m4_store_free(s);
        s->dtype = dt;
        if (dt == TN_BF16) s->bf16 = st.data; /* ownership moves to the model */
        else s->nf4 = st.nf4;
        return NT_OK;
    }
    float *tmp = malloc((size_t)p->numel * sizeof(float) + 1);
    if (!tmp) return nt_err_set(err, NT_ENOMEM, "tensor '%s': out of memory", canon);
    nt_status st = m4_load_f32(w, canon, tmp, (size_t)p->numel, err);
    if (!st) st = m4_store_make(s, p, s->dtype, true, tmp, err);
    free(tmp);
    return st;
}

/* Drops the checkpoint pages of a tensor once it is converted: they are clean read-only file
 * pages, so this only lowers the resident set (a later read faults them in again). Without it
 * the peak RSS counts the whole mapped checkpoint on top of the model. Best effort. */
static void release_pages(const m4_weights *w, const char *canon) {
    const st_tensor *t = m4_weights_find(w, canon, NULL);
    long page = sysconf(_SC_PAGESIZE);
    if (!t || !t->data || page <= 0) return;
    uintptr_t a = (uintptr_t)t->data, e = a + (uintptr_t)t->nbytes;
    a = (a + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    e &= ~((uintptr_t)page - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

nt_status m4_model_load(m4_model *m, const m4_weights *w, nt_err *err) {
    for (size_t i = 0; i < m->n_info; i++) {
        const m4_param_info *p = &m->info[i];
        const char *canon = strncmp(p->name, "model.", 6) == 0 ? p->name + 6 : p->name;
        nt_status st = m->store[i].dtype != TN_F32
                           ? load_compact(m, w, i, canon, err)
                           : m4_load_f32(w, canon, m->params + m->poff[i], (size_t)p->numel, err);
        if (st) return st;
        release_pages(w, canon);
    }
    return NT_OK;
}
