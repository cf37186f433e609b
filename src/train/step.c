/* The optimizer side of a training step (step.h). */
#include "train/step.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_lora.h"

nt_status tr_step_optim_new(m4_model *m, const tr_optim_hparams *hp, double weight_decay,
                            tr_optim **out, nt_err *err) {
    size_t n = m4_model_num_params(m), k = 0, nl = m4_lora_num_tensors(m);
    tr_param *ps = nt_xcalloc(n + nl + 1, sizeof *ps);
    for (size_t i = 0; i < nl; i++) {
        const m4_lora_tensor *t = m4_lora_get(m, i);
        ps[k++] = (tr_param){.name = t->name, .param = t->data, .grad = t->grad, .numel = (size_t)t->numel,
                             .weight_decay = weight_decay};
    }
    for (size_t i = 0; i < n; i++) {
        float *g = m4_model_grad_data(m, i);
        if (!g) continue;
        const m4_param_info *pi = m4_model_param(m, i);
        ps[k++] = (tr_param){.name = pi->name, .param = m4_model_param_data(m, i), .grad = g,
                             .numel = (size_t)pi->numel,
                             .weight_decay = tr_param_decays(pi->name) ? weight_decay : 0.0,
                             .bnb_32bit = strstr(pi->name, "embed_tokens") != NULL};
    }
    nt_status rc = k ? tr_optim_new(hp, ps, k, out, err)
                     : nt_err_set(err, NT_EINVAL, "adapter: nothing to train (no trainable parameter)");
    free(ps);
    return rc;
}

/* Does the optimizer cover every gradient float of the model (then the fused step leaves
 * all of them zero)? An optimizer made by tr_step_optim_new does; a caller's own may not. */
static bool covers_all_grads(const tr_optim *o, const m4_model *m) {
    int64_t n = 0;
    for (size_t i = 0; i < tr_optim_param_count(o); i++) n += (int64_t)tr_optim_param(o, i)->numel;
    return n == m4_model_num_grad_floats(m) + m4_lora_num_floats(m);
}

float tr_step_finish(tr_optim *o, m4_model *m, double grad_scale, double max_norm, double lr) {
    float gn = tr_optim_fused_step(o, grad_scale, max_norm, lr);
    if (covers_all_grads(o, m)) m4_model_grads_zeroed(m);
    return gn;
}
