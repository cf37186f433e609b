/* Fills the parameter allocation from an opened checkpoint (m4_load: any of the three name
 * layouts, F32/BF16/F16/F8_E4M3+scale converted exactly to f32). */
#include <string.h>

#include "model/m4_internal.h"
#include "model/m4_load.h"

/* Table names are the text layout ("model.layers.0...", "lm_head.weight"); m4_load asks for
 * the canonical name without the "model." prefix. */
nt_status m4_model_load(m4_model *m, const m4_weights *w, nt_err *err) {
    for (size_t i = 0; i < m->n_info; i++) {
        const m4_param_info *p = &m->info[i];
        const char *canon = strncmp(p->name, "model.", 6) == 0 ? p->name + 6 : p->name;
        if (m4_load_f32(w, canon, m->params + p->offset, (size_t)p->numel, err))
            return err ? err->code : NT_EINVAL;
    }
    return NT_OK;
}
