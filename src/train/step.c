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
        float *g = m4_model_grad_data(m, i); /* NULL with a sink: updated through it */
        if (!m4_model_trains(m, i) || (!g && !m4_model_has_grad_sink(m))) continue;
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

/* ---- the optimizer in backward ---- */

struct tr_inbwd {
    m4_model *m;
    tr_optim *o;
    size_t *param;  /* [tensors] optimizer parameter of each model tensor */
    double lr;
    bool armed, begun;
};

bool tr_step_inbwd_exact(const m4_model *m, double max_norm, int64_t micro_batches_per_step) {
    return !(max_norm > 0) && micro_batches_per_step == 1 && !m4_lora_attached(m);
}

static void sink_begin(void *ctx, int64_t tokens) {
    tr_inbwd *s = ctx;
    if (!s->armed) abort(); /* tr_step_inbwd_arm belongs before the forward */
    tr_optim_range_begin(s->o, tokens ? 1.0 / (double)tokens : 1.0, s->lr);
    s->armed = false, s->begun = true;
}

static void sink_grad(void *ctx, size_t tensor, size_t off, size_t n, const float *g) {
    tr_inbwd *s = ctx;
    tr_optim_range_update(s->o, s->param[tensor], off, n, g);
}

nt_status tr_step_inbwd_new(m4_model *m, const tr_optim_hparams *hp, double weight_decay,
                            tr_inbwd **out, tr_optim **opt, nt_err *err) {
    *out = NULL, *opt = NULL;
    tr_inbwd *s = nt_xcalloc(1, sizeof *s);
    s->m = m;
    m4_grad_sink sink = {.ctx = s, .begin = sink_begin, .grad = sink_grad};
    if (m4_model_set_grad_sink(m, &sink, err) || m4_model_alloc_grads(m, err) ||
        tr_step_optim_new(m, hp, weight_decay, &s->o, err)) {
        m4_model_set_grad_sink(m, NULL, NULL);
        free(s);
        return err ? err->code : NT_EINVAL;
    }
    size_t n = m4_model_num_params(m);
    s->param = nt_xmalloc((n ? n : 1) * sizeof *s->param);
    for (size_t i = 0; i < n; i++) s->param[i] = SIZE_MAX;
    for (size_t k = 0; k < tr_optim_param_count(s->o); k++) {
        int64_t i = m4_model_find_param(m, tr_optim_param(s->o, k)->name);
        if (i >= 0) s->param[i] = k;
    }
    *out = s, *opt = s->o;
    return NT_OK;
}

void tr_step_inbwd_arm(tr_inbwd *s, double lr) { s->lr = lr, s->armed = true, s->begun = false; }

float tr_step_inbwd_finish(tr_inbwd *s) {
    if (!s->begun) abort(); /* no forward with gradients since tr_step_inbwd_arm */
    s->begun = false;
    return tr_optim_range_end(s->o);
}

void tr_step_inbwd_free(tr_inbwd *s) {
    if (!s) return;
    m4_model_set_grad_sink(s->m, NULL, NULL);
    free(s->param);
    free(s);
}
