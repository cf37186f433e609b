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

static void scale_grads(m4_model *m, double s) {
    float *lg = m4_lora_grads(m);
    for (int64_t k = 0; lg && k < m4_lora_num_floats(m); k++) lg[k] = (float)(lg[k] * s);
    for (size_t i = 0; i < m4_model_num_params(m); i++) {
        float *g = m4_model_grad_data(m, i);
        if (!g) continue;
        int64_t n = m4_model_param(m, i)->numel;
        for (int64_t k = 0; k < n; k++) g[k] = (float)(g[k] * s);
    }
}

float tr_step_finish(tr_optim *o, m4_model *m, double grad_scale, double max_norm, double lr) {
    if (grad_scale != 1.0) scale_grads(m, grad_scale);
    float gn = max_norm > 0 ? tr_optim_clip_grad_norm(o, max_norm) : tr_optim_grad_norm(o);
    tr_optim_step(o, lr);
    return gn;
}
