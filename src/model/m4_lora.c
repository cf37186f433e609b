/* LoRA adapters attached to the model: target resolution against the parameter table, the
 * one allocation for every A/B (and one for their gradients), PEFT initialization and the
 * tensor enumeration for the optimizer and the adapter writer. The math is m4_lora_math.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_lora_internal.h"

static const char V5_PREFIX[] = "model.language_model.";

/* The text-layout tensor a target's LoRA applies to: `<module>.weight` for a module target,
 * the parameter key itself for a parameter target; the v5 wrapper prefix is dropped. */
static int64_t target_tensor(const m4_model *m, const tr_target *t, nt_err *err) {
    const char *n = t->name;
    if (!strncmp(n, V5_PREFIX, strlen(V5_PREFIX))) n += strlen("model.language_"); /* → "model." */
    char *name = t->kind == TR_MODULE ? nt_xasprintf("%s.weight", n) : nt_xstrdup(n);
    int64_t i = m4_model_find_param(m, name);
    if (i < 0)
        nt_err_set(err, NT_EINVAL, "LoRA target %s: %s is not a linear weight of the text model",
                   t->name, name);
    free(name);
    return i;
}

static nt_status check_target(const m4_model *m, const tr_target *t, int64_t i, nt_err *err) {
    const m4_param_info *p = m4_model_param(m, (size_t)i);
    int64_t E = p->ndim == 3 ? p->shape[0] : 1;
    int64_t out = p->shape[p->ndim - 2], in = p->shape[p->ndim - 1];
    if (p->ndim < 2 || E != t->experts || out != t->out || in != t->in)
        return nt_err_set(err, NT_EINVAL,
                          "LoRA target %s: expects [E=%lld, out=%lld, in=%lld], tensor %s is "
                          "[E=%lld, out=%lld, in=%lld]", t->name, (long long)t->experts,
                          (long long)t->out, (long long)t->in, p->name, (long long)E,
                          (long long)out, (long long)in);
    return NT_OK;
}

static nt_status resolve(m4_model *m, m4_lora *l, const tr_result *res, const m4_lora_opts *o,
                         nt_err *err) {
    for (size_t j = 0; j < res->n; j++) {
        const tr_target *t = &res->targets[j];
        if (t->kind == TR_PARAMETER && o->dropout != 0)
            return nt_err_set(err, NT_EINVAL,
                              "LoRA target %s: lora_dropout must be 0 with target_parameters "
                              "(PEFT refuses dropout on parameter targets)", t->name);
        int64_t i = target_tensor(m, t, err);
        if (i < 0 || check_target(m, t, i, err)) return NT_EINVAL;
        if (l->of_tensor[i] >= 0)
            return nt_err_set(err, NT_EINVAL, "LoRA target %s: tensor targeted twice", t->name);
        l->of_tensor[i] = (int32_t)j;
        l->tensor_of[j] = (int32_t)i;
    }
    return NT_OK;
}

static void layout(m4_lora *l) {
    int64_t off = 0;
    for (size_t j = 0; j < l->n; j++) {
        const tr_target *t = &l->tg[j];
        int64_t rE = l->r * t->experts;
        l->off[j] = off;
        off += rE * (t->in + t->out);
    }
    l->nf = off;
}

static void make_tensors(m4_lora *l) {
    l->t = nt_xcalloc(2 * l->n, sizeof *l->t);
    for (size_t j = 0; j < l->n; j++) {
        const tr_target *t = &l->tg[j];
        int64_t rE = l->r * t->experts;
        for (int w = 0; w < 2; w++) {
            m4_lora_tensor *x = &l->t[2 * j + (size_t)w];
            x->which = w ? 'B' : 'A';
            x->name = ex_lora_key(t, x->which);
            x->target = j;
            x->shape[0] = w ? t->out : rE;
            x->shape[1] = w ? rE : t->in;
            x->numel = x->shape[0] * x->shape[1];
            int64_t o = l->off[j] + (w ? rE * t->in : 0);
            x->data = l->p + o;
            x->grad = l->g + o;
        }
    }
}

void m4_lora_free(m4_lora *l) {
    if (!l) return;
    for (size_t i = 0; l->t && i < 2 * l->n; i++) free((char *)l->t[i].name);
    free(l->t);
    free(l->tg);
    free(l->of_tensor);
    free(l->tensor_of);
    free(l->off);
    free(l->p);
    free(l->g);
    free(l);
}

nt_status m4_lora_attach(m4_model *m, const tr_result *res, const m4_lora_opts *o, nt_err *err) {
    if (m->lora) return nt_err_set(err, NT_EINVAL, "LoRA adapters are already attached");
    if (m->sink.grad) /* m4_model_set_grad_sink: the sink updates base tensors only */
        return nt_err_set(err, NT_EUNSUPPORTED, "LoRA adapters: not with the optimizer in backward");
    if (o->r < 1) return nt_err_set(err, NT_EINVAL, "LoRA rank r must be >= 1, got %lld", (long long)o->r);
    if (!(o->dropout >= 0 && o->dropout < 1))
        return nt_err_set(err, NT_EINVAL, "lora_dropout must be in [0, 1), got %g", o->dropout);
    m4_lora *l = nt_xcalloc(1, sizeof *l);
    l->n = res->n;
    l->tg = nt_xmalloc((res->n ? res->n : 1) * sizeof *l->tg);
    if (res->n) memcpy(l->tg, res->targets, res->n * sizeof *l->tg);
    l->of_tensor = nt_xmalloc(m->n_info * sizeof *l->of_tensor);
    for (size_t i = 0; i < m->n_info; i++) l->of_tensor[i] = -1;
    l->tensor_of = nt_xcalloc(res->n ? res->n : 1, sizeof *l->tensor_of);
    l->off = nt_xcalloc(res->n ? res->n : 1, sizeof *l->off);
    l->r = o->r;
    l->scale = o->use_rslora ? o->alpha / sqrt((double)o->r) : o->alpha / (double)o->r;
    l->p_drop = o->dropout;
    l->seed = o->seed;
    l->training = true;
    nt_status st = resolve(m, l, res, o, err);
    if (st) {
        m4_lora_free(l);
        return st;
    }
    layout(l);
    l->p = nt_xcalloc((size_t)(l->nf ? l->nf : 1), sizeof(float));
    l->g = nt_xcalloc((size_t)(l->nf ? l->nf : 1), sizeof(float));
    make_tensors(l);
    for (size_t j = 0; j < l->n; j++)
        ex_lora_init(&l->tg[j], l->r, l->seed, l->t[2 * j].data, l->t[2 * j + 1].data);
    m->lora = l;
    return NT_OK;
}

bool m4_lora_attached(const m4_model *m) { return m->lora != NULL; }
size_t m4_lora_num_tensors(const m4_model *m) { return m->lora ? 2 * m->lora->n : 0; }
const m4_lora_tensor *m4_lora_get(const m4_model *m, size_t i) { return &m->lora->t[i]; }
float *m4_lora_params(m4_model *m) { return m->lora ? m->lora->p : NULL; }
float *m4_lora_grads(m4_model *m) {
    m->grads_zero = false; /* the caller may write through the pointer */
    return m->lora ? m->lora->g : NULL;
}
int64_t m4_lora_num_floats(const m4_model *m) { return m->lora ? m->lora->nf : 0; }
double m4_lora_scale(const m4_model *m) { return m->lora ? m->lora->scale : 0; }

void m4_lora_zero_grads(m4_model *m) {
    if (m->lora) memset(m->lora->g, 0, (size_t)m->lora->nf * sizeof(float));
}

void m4_lora_set_step(m4_model *m, int64_t step, int64_t micro) {
    if (!m->lora) return;
    m->lora->step = step;
    m->lora->micro = micro;
}

void m4_lora_set_training(m4_model *m, bool training) {
    if (m->lora) m->lora->training = training;
}

void m4_lora_export(const m4_model *m, ex_lora_tensors *out) {
    for (size_t j = 0; m->lora && j < m->lora->n; j++)
        out[j] = (ex_lora_tensors){m->lora->t[2 * j].data, m->lora->t[2 * j + 1].data};
}

bool m4_lora_on(const m4_model *m, int32_t idx) {
    return m->lora && idx >= 0 && m->lora->of_tensor[idx] >= 0;
}
