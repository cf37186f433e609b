/* Per-tensor policy: trainable or frozen, and the storage of frozen linear weights (f32, bf16
 * or NF4). Applying a policy converts the affected tensors, compacts the f32 allocation in one
 * pass (tensors keep table order, so every move is towards the front) and drops the gradient
 * buffers, which the next forward re-makes for the trainable tensors only. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_internal.h"
#include "tensor/convert.h"

void m4_store_free(m4_store *s) {
    free(s->bf16);
    tn_nf4_free(&s->nf4);
    memset(s, 0, sizeof *s);
    s->dtype = TN_F32;
}

nt_status m4_store_make(m4_store *s, const m4_param_info *p, tn_dtype dt, bool double_quant,
                        const float *src, nt_err *err) {
    m4_store t = {.dtype = dt};
    if (dt == TN_BF16) {
        t.bf16 = malloc((size_t)p->numel * sizeof(uint16_t) + 1);
        if (!t.bf16) return nt_err_set(err, NT_ENOMEM, "tensor '%s': out of memory", p->name);
        tn_f32_to_bf16_row(src, t.bf16, (size_t)p->numel);
    } else if (dt == TN_NF4) {
        if (tn_nf4_quantize(TN_F32, src, p->shape, p->ndim, TN_NF4_BLOCKSIZE, double_quant,
                            &t.nf4, err))
            return nt_err_prefix(err, "tensor '%s': ", p->name);
    } else {
        return nt_err_set(err, NT_EINVAL, "tensor '%s': storage %s", p->name, tn_dtype_name(dt));
    }
    m4_store_free(s);
    *s = t;
    return NT_OK;
}

bool m4_model_is_linear_weight(const m4_model *m, size_t i) {
    if (m->info[i].ndim < 2) return false;
    for (size_t j = 0; j < (size_t)m->cfg.num_layers * M4_LAYER_FIELDS; j++)
        if (m->lidx[j] == (int32_t)i) return true;
    return false;
}

void m4_model_get_policy(const m4_model *m, m4_param_policy *pol) {
    for (size_t i = 0; i < m->n_info; i++) {
        pol[i] = m->pol[i];
        pol[i].trainable = m->trainable[i];
    }
}

static nt_status check_policy(const m4_model *m, const m4_param_policy *pol, nt_err *err) {
    for (size_t i = 0; i < m->n_info; i++) {
        const char *n = m->info[i].name;
        tn_dtype dt = pol[i].storage, cur = m->store[i].dtype;
        if (dt != TN_F32 && dt != TN_BF16 && dt != TN_NF4)
            return nt_err_set(err, NT_EUNSUPPORTED, "tensor '%s': storage %s (f32, bf16 or nf4)", n, tn_dtype_name(dt));
        if (dt != TN_F32 && pol[i].trainable)
            return nt_err_set(err, NT_EINVAL, "tensor '%s': a trainable tensor is stored f32, not %s", n, tn_dtype_name(dt));
        if (dt != TN_F32 && !m4_model_is_linear_weight(m, i))
            return nt_err_set(err, NT_EUNSUPPORTED, "tensor '%s': only decoder-layer linear weights can be stored %s", n, tn_dtype_name(dt));
        if (cur != TN_F32 && (dt != cur || (cur == TN_NF4 && pol[i].double_quant != m->pol[i].double_quant)))
            return nt_err_set(err, NT_EINVAL, "tensor '%s' is already stored %s%s; its storage cannot change", n,
                              tn_dtype_name(cur), cur == TN_NF4 && m->pol[i].double_quant ? " (double quant)" : "");
    }
    return NT_OK;
}

/* Moves the tensors that stay f32 to the front, in table order, and shrinks the allocation. */
static void compact(m4_model *m) {
    size_t n = 0;
    for (size_t i = 0; i < m->n_info; i++) {
        if (m->poff[i] == SIZE_MAX) continue;
        if (m->store[i].dtype != TN_F32) {
            m->poff[i] = SIZE_MAX;
            continue;
        }
        if (m->poff[i] != n)
            memmove(m->params + n, m->params + m->poff[i], (size_t)m->info[i].numel * sizeof(float));
        m->poff[i] = n;
        n += (size_t)m->info[i].numel;
    }
    if ((int64_t)n != m->n_pfloats) {
        float *p = realloc(m->params, (n ? n : 1) * sizeof(float));
        if (p) m->params = p; /* a failed shrink keeps the larger block */
        m->n_pfloats = (int64_t)n;
    }
    m4_point_params(m, m->params, m->poff, &m->p);
}

nt_status m4_model_apply_policy(m4_model *m, const m4_param_policy *pol, nt_err *err) {
    if (check_policy(m, pol, err)) return err ? err->code : NT_EINVAL;
    bool *made = nt_xcalloc(m->n_info + 1, 1);
    for (size_t i = 0; i < m->n_info; i++) {
        if (pol[i].storage == TN_F32 || m->store[i].dtype != TN_F32) continue;
        if (m4_store_make(&m->store[i], &m->info[i], pol[i].storage, pol[i].double_quant,
                          m->params + m->poff[i], err)) {
            for (size_t j = 0; j < i; j++)
                if (made[j]) m4_store_free(&m->store[j]);
            free(made);
            return err ? err->code : NT_EINVAL;
        }
        made[i] = true;
    }
    free(made);
    for (size_t i = 0; i < m->n_info; i++) {
        m->pol[i] = pol[i];
        m->trainable[i] = pol[i].trainable;
        m->goff[i] = SIZE_MAX;
    }
    compact(m);
    free(m->grads);
    m->grads = NULL;
    m->n_gfloats = 0;
    m->grads_ready = false;
    m->have_grad = false;
    m4_point_params(m, NULL, m->goff, &m->g);
    return NT_OK;
}

nt_status m4_model_set_trainable(m4_model *m, size_t i, bool trainable, nt_err *err) {
    m4_param_policy *pol = nt_xmalloc(m->n_info * sizeof *pol + 1);
    m4_model_get_policy(m, pol);
    pol[i].trainable = trainable;
    nt_status st = m4_model_apply_policy(m, pol, err);
    free(pol);
    return st;
}

nt_status m4_model_freeze_base(m4_model *m, tn_dtype dt, bool double_quant, nt_err *err) {
    m4_param_policy *pol = nt_xmalloc(m->n_info * sizeof *pol + 1);
    for (size_t i = 0; i < m->n_info; i++) {
        bool lin = m4_model_is_linear_weight(m, i);
        pol[i] = (m4_param_policy){.trainable = false, .storage = lin ? dt : TN_F32,
                                   .double_quant = lin && double_quant};
    }
    nt_status st = m4_model_apply_policy(m, pol, err);
    free(pol);
    return st;
}

size_t m4_model_param_bytes(const m4_model *m, size_t i) {
    const m4_store *s = &m->store[i];
    size_t n = (size_t)m->info[i].numel;
    if (s->dtype == TN_BF16) return 2 * n;
    if (s->dtype != TN_NF4) return 4 * n;
    const tn_nf4 *q = &s->nf4;
    size_t b = (q->n + 1) / 2 + sizeof q->quant_map;
    if (q->double_quant) b += q->nblocks + q->nnested * sizeof(float) + sizeof q->nested_quant_map;
    else b += q->nblocks * sizeof(float);
    return b;
}

void m4_model_report(const m4_model *m, m4_param_report *r) {
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < m->n_info; i++) {
        tn_dtype dt = m->store[i].dtype;
        r->bytes[dt] += m4_model_param_bytes(m, i);
        r->count[dt] += m->info[i].numel;
        if (m->trainable[i]) r->trainable += m->info[i].numel;
    }
    r->grad_bytes = (size_t)r->trainable * sizeof(float);
    if (m->sink.grad && m->grp_floats) /* one group at a time (m4_sink.c) */
        r->grad_bytes = (size_t)m4_sink_largest_group(m) * sizeof(float);
}
