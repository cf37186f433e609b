/* LoRA inside the model (model/m4_lora.h). Independent references: central finite differences
 * of the model's own loss (at two step sizes) for every adapter tensor, ex_merge_lora (the
 * exporter's merge, formats.md §10) folded into a plain model, the f32 model on the rounded /
 * dequantized weights for compact storage, and PyTorch autograd in float64 for one linear and
 * one expert (tests/unit/oracles/lora_torch.py). */
#include <omp.h>

#include "export/hf_model.h"
#include "export/peft.h"
#include "formats/safetensors.h"
#include "base/fileio.h"
#include "base/mem.h"
#include "m4_lora_util.h"
#include "tensor/convert.h"
#include "tensor/fp.h"
#include "tensor/nf4.h"
#include "test.h"
#include "py_oracle.h"

static double run(m4_model *m, const lsetup *s, bool grad, float *logits, nt_err *err) {
    m4_loss l = {0};
    m4_model_zero_grads(m);
    if (m4_forward(m, &s->b, grad, logits, &l, err)) return NAN;
    if (grad && m4_backward(m, err)) return NAN;
    return l.loss;
}

TEST(attach_shapes_and_names_follow_peft) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, true, 0) == 0);
    m4_model *m = lmodel(&s, TN_F32, &err);
    CHECK_MSG(lattach(m, &s, 0, &err) == NT_OK, "%s", err.msg);
    /* layer 0 dense: 5 attention + 3 MLP; layer 1: 5 attention + 3 shared, router, 2 experts */
    CHECK_EQ_INT(s.res.n, 19);
    CHECK_EQ_INT(m4_lora_num_tensors(m), 38);
    int64_t total = 0;
    bool seen_gu = false, seen_router = false;
    for (size_t i = 0; i < m4_lora_num_tensors(m); i++) {
        const m4_lora_tensor *t = m4_lora_get(m, i);
        total += t->numel;
        CHECK(t->data == m4_lora_params(m) + (t->data - m4_lora_params(m)));
        if (!strcmp(t->name, "base_model.model.model.layers.1.mlp.experts.base_layer.lora_A.weight")) {
            seen_gu = true; /* gate_up [8, 20, 40]: A [r·E, in] */
            CHECK_EQ_INT(t->shape[0], RANK * 8);
            CHECK_EQ_INT(t->shape[1], 40);
        }
        if (!strcmp(t->name, "base_model.model.model.layers.1.mlp.experts.lora_B.weight")) {
            CHECK_EQ_INT(t->shape[0], 40); /* down [8, 40, 10]: B [out, r·E] */
            CHECK_EQ_INT(t->shape[1], RANK * 8);
        }
        if (!strcmp(t->name, "base_model.model.model.layers.1.mlp.gate.lora_B.weight")) {
            seen_router = true; /* router [8, 40]: B [8, r] */
            CHECK_EQ_INT(t->shape[0], 8);
            CHECK_EQ_INT(t->shape[1], RANK);
        }
    }
    CHECK(seen_gu && seen_router);
    CHECK_EQ_INT(total, m4_lora_num_floats(m));
    CHECK_EQ_INT(total, tr_trainable_params(&s.res, RANK, NULL, NULL));
    CHECK_NEAR(m4_lora_scale(m), 5.0 / 3.0, 1e-15);
    CHECK(lattach(m, &s, 0, &err) == NT_EINVAL); /* twice */
    m4_model_free(m);
    m = lmodel(&s, TN_F32, &err);
    CHECK(lattach(m, &s, 0.1, &err) == NT_EINVAL); /* dropout with parameter targets */
    CHECK_CONTAINS(err.msg, "lora_dropout");
    CHECK_CONTAINS(err.msg, "target_parameters");
    m4_lora_opts o = {.r = RANK, .alpha = 8, .use_rslora = true};
    CHECK_EQ_INT(m4_lora_attach(m, &s.res, &o, &err), NT_OK);
    CHECK_NEAR(m4_lora_scale(m), 8.0 / sqrt(3.0), 1e-15);
    m4_model_free(m);
    /* a target whose shape disagrees with the tensor, and one the text model lacks */
    m = lmodel(&s, TN_F32, &err);
    s.res.targets[0].in = 99;
    CHECK(lattach(m, &s, 0, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "model.layers.0.self_attn.q_a_proj: expects [E=1, out=32, in=99]");
    CHECK_CONTAINS(err.msg, "is [E=1, out=32, in=40]");
    s.res.targets[0].in = 40;
    snprintf(s.res.targets[1].name, sizeof s.res.targets[1].name, "model.layers.0.self_attn.q_c_proj");
    CHECK(lattach(m, &s, 0, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "model.layers.0.self_attn.q_c_proj.weight is not a linear weight");
    CHECK(!m4_lora_attached(m));
    m4_model_free(m);
    tr_result_free(&s.res);
}

/* B = 0 at init: the model's loss and logits are those of the model without adapters, A's
 * gradient is 0 and B's is not. */
TEST(init_leaves_the_base_output_unchanged) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, true, 0) == 0);
    m4_model *a = lmodel(&s, TN_F32, &err), *ref = lmodel(&s, TN_F32, &err);
    CHECK_EQ_INT(lattach(a, &s, 0, &err), NT_OK);
    int64_t nl = B_ * T_ * s.full.text.vocab_size;
    float *la = malloc((size_t)nl * sizeof(float)), *lr = malloc((size_t)nl * sizeof(float));
    double L = run(a, &s, true, la, &err), Lr = run(ref, &s, true, lr, &err);
    CHECK(L == Lr);
    int64_t diff = 0;
    for (int64_t i = 0; i < nl; i++) diff += la[i] != lr[i];
    CHECK_EQ_INT(diff, 0);
    for (size_t i = 0; i < m4_lora_num_tensors(a); i++) {
        const m4_lora_tensor *t = m4_lora_get(a, i);
        double g = 0, v = 0;
        for (int64_t j = 0; j < t->numel; j++) g += fabs(t->grad[j]), v += fabs(t->data[j]);
        if (t->which == 'A') {
            CHECK_MSG(g == 0 && v > 0, "%s: |g| %g |A| %g", t->name, g, v);
        } else {
            CHECK_MSG(g > 0 && v == 0, "%s: |g| %g |B| %g", t->name, g, v);
        }
    }
    free(la);
    free(lr);
    m4_model_free(a);
    m4_model_free(ref);
    tr_result_free(&s.res);
}

/* The MoE layer's expert choices after the last forward (kept without checkpointing, which
 * the loss-only forwards never use): a finite difference is only valid if the perturbation
 * leaves them unchanged. */
static const int32_t *routing(const m4_model *m) { return m->acts[m->cfg.num_layers - 1].idx; }

/* (L(θ+hv) − L(θ−hv)) / 2h, halving h until neither side changes the routing. */
static double central_diff(m4_model *m, const lsetup *s, const m4_lora_tensor *t, const float *x0,
                           const float *v, float h, const int32_t *route0, double *h_used) {
    int64_t nr = B_ * T_ * s->full.text.experts_per_tok;
    nt_err err = {0};
    for (int tries = 0; tries < 8; tries++, h *= 0.5f) {
        double L[2];
        bool same = true;
        for (int sgn = 0; sgn < 2; sgn++) {
            for (int64_t j = 0; j < t->numel; j++) t->data[j] = x0[j] + (sgn ? -h : h) * v[j];
            L[sgn] = run(m, s, false, NULL, &err);
            same = same && !memcmp(routing(m), route0, (size_t)nr * sizeof(int32_t));
        }
        memcpy(t->data, x0, (size_t)t->numel * sizeof(float));
        if (same) return *h_used = h, (L[0] - L[1]) / (2.0 * (double)h);
    }
    return NAN;
}

/* Directional central differences: for each adapter tensor and a random ±1 direction v,
 * the difference quotient at h and h/2 must both match g·v (relative, floor 0.1). */
static void grad_check(bool with_params, double dropout, bool ckpt) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, with_params, dropout) == 0);
    m4_model *m = lmodel(&s, TN_F32, &err);
    CHECK_EQ_INT(lattach(m, &s, dropout, &err), NT_OK);
    m4_model_set_options(m, &(m4_options){.checkpointing = ckpt});
    m4_lora_set_step(m, 5, 1);
    lrandomize(m, 0.3f, 99);
    CHECK(!isnan(run(m, &s, true, NULL, &err)));
    float *g = nt_xmalloc((size_t)m4_lora_num_floats(m) * sizeof(float));
    memcpy(g, m4_lora_grads(m), (size_t)m4_lora_num_floats(m) * sizeof(float));
    m4_model_set_options(m, &(m4_options){.checkpointing = false});
    CHECK(!isnan(run(m, &s, false, NULL, &err)));
    int64_t nr = B_ * T_ * s.full.text.experts_per_tok;
    int32_t *route0 = nt_xmalloc((size_t)nr * sizeof(int32_t));
    memcpy(route0, routing(m), (size_t)nr * sizeof(int32_t));
    double worst = 0, hmin = 1;
    uint32_t st = 3;
    for (size_t i = 0; i < m4_lora_num_tensors(m); i++) {
        const m4_lora_tensor *t = m4_lora_get(m, i);
        const float *gt = g + (t->grad - m4_lora_grads(m));
        float *v = nt_xmalloc((size_t)t->numel * sizeof(float)), *x0 = nt_xmalloc((size_t)t->numel * sizeof(float));
        memcpy(x0, t->data, (size_t)t->numel * sizeof(float));
        double gv = 0;
        for (int64_t j = 0; j < t->numel; j++) v[j] = lcg(&st) & 256 ? 1.0f : -1.0f, gv += (double)gt[j] * v[j];
        for (int k = 0; k < 2; k++) {
            double hu = 0, fd = central_diff(m, &s, t, x0, v, k ? 1e-3f : 2e-3f, route0, &hu);
            double e = fabs(fd - gv) / fmax(fabs(gv), 0.1);
            CHECK_MSG(e <= 3e-3, "%s h %g: fd %.8g vs grad·v %.8g", t->name, hu, fd, gv);
            worst = fmax(worst, e);
            hmin = fmin(hmin, hu);
        }
        free(v);
        free(x0);
    }
    printf("  %zu tensors%s%s: worst |fd − g·v| / max(|g·v|, 0.1) %.3g (smallest h %g)\n",
           m4_lora_num_tensors(m), dropout > 0 ? ", dropout" : "", ckpt ? ", checkpointing" : "",
           worst, hmin);
    free(route0);
    free(g);
    m4_model_free(m);
    tr_result_free(&s.res);
}

TEST(gradients_of_every_adapter_match_finite_differences) { grad_check(true, 0, false); }
TEST(gradients_with_dropout_and_checkpointing_match_finite_differences) { grad_check(false, 0.25, true); }

/* A few plain SGD steps on the adapters, so B is no longer zero. */
static void sgd_steps(m4_model *m, const lsetup *s, int n, float lr) {
    nt_err err = {0};
    for (int k = 0; k < n; k++) {
        m4_lora_set_step(m, k, 0);
        CHECK(!isnan(run(m, s, true, NULL, &err)));
        float *p = m4_lora_params(m), *g = m4_lora_grads(m);
        for (int64_t i = 0; i < m4_lora_num_floats(m); i++) p[i] -= lr * g[i];
    }
}

/* ex_merge_lora (W += s·B_e@A_e, §10) into a model without adapters gives the adapted model's
 * loss and logits. */
TEST(merged_weights_reproduce_the_adapted_model) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, true, 0) == 0);
    m4_model *a = lmodel(&s, TN_F32, &err), *mg = lmodel(&s, TN_F32, &err);
    CHECK_EQ_INT(lattach(a, &s, 0, &err), NT_OK);
    sgd_steps(a, &s, 3, 0.5f);
    for (size_t j = 0; j < s.res.n; j++) {
        const tr_target *t = &s.res.targets[j];
        char name[200];
        ltensor_name(t, name, sizeof name);
        int64_t i = m4_model_find_param(mg, name);
        CHECK_MSG(i >= 0, "%s", name);
        const m4_lora_tensor *A = m4_lora_get(a, 2 * j), *B = m4_lora_get(a, 2 * j + 1);
        double bn = 0;
        for (int64_t k = 0; k < B->numel; k++) bn += fabs(B->data[k]);
        CHECK_MSG(bn > 0, "%s: B still zero", B->name);
        ex_merge_lora(m4_model_param_data(mg, (size_t)i), t->experts, t->out, t->in, A->data,
                      B->data, RANK, m4_lora_scale(a));
    }
    int64_t nl = B_ * T_ * s.full.text.vocab_size;
    float *la = malloc((size_t)nl * sizeof(float)), *lm = malloc((size_t)nl * sizeof(float));
    double L = run(a, &s, false, la, &err), Lm = run(mg, &s, false, lm, &err);
    double mx = 0, ref = 0;
    for (int64_t i = 0; i < nl; i++) mx = fmax(mx, fabs((double)la[i] - lm[i])), ref = fmax(ref, fabs(lm[i]));
    CHECK_MSG(mx <= 1e-5 * ref, "logits max|Δ| %.3g of %.3g", mx, ref);
    CHECK_MSG(fabs(L - Lm) <= 1e-5 * fabs(Lm), "loss %.9g vs %.9g", L, Lm);
    printf("  loss %.7g vs merged %.7g; logits max|Δ|/max|ref| %.3g\n", L, Lm, mx / ref);
    free(la);
    free(lm);
    m4_model_free(a);
    m4_model_free(mg);
    tr_result_free(&s.res);
}

/* The f32 values a compact tensor stands for. */
static void effective_weights(m4_model *ref, size_t i, tn_dtype dt) {
    const m4_param_info *p = m4_model_param(ref, i);
    float *v = m4_model_param_data(ref, i);
    if (dt == TN_BF16) {
        for (int64_t j = 0; j < p->numel; j++) v[j] = tn_bf16_to_f32(tn_f32_to_bf16(v[j]));
    } else {
        tn_nf4 q;
        nt_err err = {0};
        if (tn_nf4_quantize(TN_F32, v, p->shape, p->ndim, 64, false, &q, &err)) abort();
        tn_nf4_dequant(&q, 0, (size_t)p->numel, v);
        tn_nf4_free(&q);
    }
}

/* Frozen base stored bf16 / NF4 with adapters = the f32 model on the rounded / dequantized
 * weights: loss, logits and every adapter gradient. */
static void check_storage(tn_dtype dt, bool ckpt) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, true, 0) == 0);
    m4_model *ref = lmodel(&s, TN_F32, &err), *a = lmodel(&s, dt, &err);
    CHECK(ref && a);
    for (size_t i = 0; i < m4_model_num_params(ref); i++)
        if (m4_model_is_linear_weight(ref, i)) effective_weights(ref, i, dt);
    m4_options o = {.checkpointing = ckpt};
    m4_model_set_options(a, &o);
    m4_model_set_options(ref, &o);
    CHECK_EQ_INT(lattach(a, &s, 0, &err), NT_OK);
    CHECK_EQ_INT(lattach(ref, &s, 0, &err), NT_OK);
    lrandomize(a, 0.3f, 5);
    lrandomize(ref, 0.3f, 5);
    int64_t nl = B_ * T_ * s.full.text.vocab_size;
    float *la = malloc((size_t)nl * sizeof(float)), *lr = malloc((size_t)nl * sizeof(float));
    double L = run(a, &s, true, la, &err), Lr = run(ref, &s, true, lr, &err);
    CHECK_MSG(fabs(L - Lr) <= 1e-6 * fabs(Lr), "%.9g vs %.9g", L, Lr);
    double el = lrel(la, lr, nl), worst = 0;
    CHECK_MSG(el <= 1e-6, "logits %.3g", el);
    for (size_t i = 0; i < m4_lora_num_tensors(a); i++) {
        const m4_lora_tensor *ta = m4_lora_get(a, i), *tr = m4_lora_get(ref, i);
        double e = lrel(ta->grad, tr->grad, ta->numel);
        CHECK_MSG(e <= 2e-6, "%s: %.3g", ta->name, e);
        worst = fmax(worst, e);
    }
    printf("  %s%s: loss %.3g, logits %.3g, worst adapter grad %.3g (relative)\n", tn_dtype_name(dt),
           ckpt ? " checkpointing" : "", fabs(L - Lr) / fabs(Lr), el, worst);
    free(la);
    free(lr);
    m4_model_free(a);
    m4_model_free(ref);
    tr_result_free(&s.res);
}

TEST(bf16_base_matches_f32_on_rounded_weights) { check_storage(TN_BF16, false); }
TEST(nf4_base_matches_f32_on_dequantized_weights) { check_storage(TN_NF4, true); }

/* The routed experts one per thread (each thread's scratch from its own arena: compact-weight
 * tiles, adapter temporaries) give the bits of the one-after-another order: loss, logits and
 * every adapter gradient, the fused experts' included. */
static void check_expert_threads(tn_dtype dt) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, true, 0) == 0);
    int threads = omp_get_max_threads();
    omp_set_num_threads(2);
    m4_model *m[2] = {lmodel(&s, dt, &err), lmodel(&s, dt, &err)};
    CHECK(m[0] && m[1]);
    int64_t nl = B_ * T_ * s.full.text.vocab_size;
    float *lg[2];
    double L[2];
    for (int i = 0; i < 2; i++) {
        m[i]->experts_serial = i == 1;
        CHECK_EQ_INT(lattach(m[i], &s, 0, &err), NT_OK);
        lrandomize(m[i], 0.3f, 5);
        lg[i] = malloc((size_t)nl * sizeof(float));
        L[i] = run(m[i], &s, true, lg[i], &err);
    }
    CHECK_MSG(memcmp(&L[0], &L[1], sizeof L[0]) == 0, "loss %.9g vs %.9g", L[0], L[1]);
    CHECK(memcmp(lg[0], lg[1], (size_t)nl * sizeof(float)) == 0);
    CHECK(memcmp(m4_lora_grads(m[0]), m4_lora_grads(m[1]), (size_t)m4_lora_num_floats(m[0]) * sizeof(float)) == 0);
    /* the parallel run took scratch on the threads' arenas, the serial one on neither (the
     * dynamic schedule does not promise every thread an expert: with OpenBLAS the master
     * thread was seen to take none) */
    CHECK(m[0]->n_tscratch == 2 && m[0]->tscratch[0].high_water + m[0]->tscratch[1].high_water > 0);
    CHECK(m[1]->n_tscratch == 2 && m[1]->tscratch[0].high_water == 0 && m[1]->tscratch[1].high_water == 0);
    omp_set_num_threads(threads);
    for (int i = 0; i < 2; i++) {
        free(lg[i]);
        m4_model_free(m[i]);
    }
    tr_result_free(&s.res);
}

TEST(experts_one_per_thread_match_the_serial_order_f32) { check_expert_threads(TN_F32); }
TEST(experts_one_per_thread_match_the_serial_order_nf4) { check_expert_threads(TN_NF4); }

/* Dropout: the checkpointed recompute sees the same masks (bit-identical loss and
 * gradients); eval mode equals the model without dropout; the masks depend on the step. */
TEST(dropout_masks_repeat_in_recompute_and_vanish_in_eval) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, false, 0.3) == 0);
    m4_model *a = lmodel(&s, TN_F32, &err), *c = lmodel(&s, TN_F32, &err), *z = lmodel(&s, TN_F32, &err);
    CHECK_EQ_INT(lattach(a, &s, 0.3, &err), NT_OK);
    CHECK_EQ_INT(lattach(c, &s, 0.3, &err), NT_OK);
    CHECK_EQ_INT(lattach(z, &s, 0, &err), NT_OK);
    m4_model_set_options(c, &(m4_options){.checkpointing = true});
    lrandomize(a, 0.3f, 8);
    lrandomize(c, 0.3f, 8);
    lrandomize(z, 0.3f, 8);
    m4_lora_set_step(a, 7, 2);
    m4_lora_set_step(c, 7, 2);
    double La = run(a, &s, true, NULL, &err), Lc = run(c, &s, true, NULL, &err);
    CHECK(La == Lc);
    CHECK(!memcmp(m4_lora_grads(a), m4_lora_grads(c), (size_t)m4_lora_num_floats(a) * sizeof(float)));
    double Lz = run(z, &s, false, NULL, &err);
    CHECK_MSG(fabs(La - Lz) > 1e-4, "dropout changed nothing: %.9g vs %.9g", La, Lz);
    m4_lora_set_step(a, 8, 2);
    double La8 = run(a, &s, false, NULL, &err);
    CHECK(La8 != La);
    m4_lora_set_step(a, 7, 2);
    CHECK(run(a, &s, false, NULL, &err) == La); /* same (step, micro): same masks */
    m4_lora_set_training(a, false);
    CHECK(run(a, &s, false, NULL, &err) == Lz);
    printf("  loss with dropout %.7g (step 8: %.7g), eval / p = 0 %.7g\n", La, La8, Lz);
    m4_model_free(a);
    m4_model_free(c);
    m4_model_free(z);
    tr_result_free(&s.res);
}

static size_t find_target(const lsetup *s, const char *tensor) {
    char name[200];
    for (size_t j = 0; j < s->res.n; j++) {
        ltensor_name(&s->res.targets[j], name, sizeof name);
        if (!strcmp(name, tensor)) return j;
    }
    return SIZE_MAX;
}

/* One call of the linear site (base + LoRA) against PyTorch autograd in float64. */
static void torch_case(m4_model *m, const lsetup *s, const char *tensor, m4_wt w, int64_t N,
                       int64_t K, int64_t e) {
    size_t j = find_target(s, tensor);
    CHECK(j != SIZE_MAX);
    if (j == SIZE_MAX) return;
    const tr_target *t = &s->res.targets[j];
    const m4_lora_tensor *A = m4_lora_get(m, 2 * j), *B = m4_lora_get(m, 2 * j + 1);
    const int64_t M = 5;
    int64_t nin = M * K + N * K + A->numel + B->numel + M * N, nout = M * N + M * K + A->numel + B->numel;
    float *in = calloc((size_t)nin, sizeof(float)), *got = calloc((size_t)nout, sizeof(float));
    uint32_t st = 77;
    for (int64_t i = 0; i < M * K; i++) in[i] = unif(&st);
    memcpy(in + M * K, m4_model_param_data(m, (size_t)w.idx) + w.lrow * K, (size_t)(N * K) * sizeof(float));
    memcpy(in + M * K + N * K, A->data, (size_t)A->numel * sizeof(float));
    memcpy(in + M * K + N * K + A->numel, B->data, (size_t)B->numel * sizeof(float));
    float *dy = in + nin - M * N;
    for (int64_t i = 0; i < M * N; i++) dy[i] = unif(&st);
    m4_lora_zero_grads(m);
    m4_lin_fwd(m, got, N, in, K, w, M, N, K, false);
    m4_lin_bwd(m, got + M * N, K, NULL, dy, N, in, K, w, M, N, K);
    memcpy(got + M * N + M * K, A->grad, (size_t)A->numel * sizeof(float));
    memcpy(got + M * N + M * K + A->numel, B->grad, (size_t)B->numel * sizeof(float));
    const char *path = py_oracle_write_f32("lora_in.f32", in, (size_t)nin);
    char args[768];
    snprintf(args, sizeof args, "%s %lld %lld %lld %d %lld %lld %.17g", path, (long long)M,
             (long long)N, (long long)K, RANK, (long long)t->experts, (long long)e, m4_lora_scale(m));
    FILE *f = py_oracle_open("lora_torch.py", args);
    CHECK(f != NULL);
    float *ref = calloc((size_t)nout, sizeof(float));
    int64_t n = 0;
    double v;
    while (f && n < nout && fscanf(f, "%lf", &v) == 1) ref[n++] = (float)v;
    if (f) pclose(f);
    CHECK_EQ_INT(n, nout);
    const char *what[] = {"y", "dx", "dA", "dB"};
    int64_t off = 0, len[] = {M * N, M * K, A->numel, B->numel};
    for (int k = 0; k < 4; off += len[k], k++) {
        double e_ = lrel(got + off, ref + off, len[k]);
        CHECK_MSG(e_ <= 1e-6, "%s %s: %.3g", tensor, what[k], e_);
        printf("  %s expert %lld %s: %.3g\n", tensor, (long long)e, what[k], e_);
    }
    free(in);
    free(got);
    free(ref);
}

static bool torch_available(void) {
    if (!py_oracle_available()) return false;
    return system(PY_ORACLE_PYTHON " -c 'import torch' >/dev/null 2>&1") == 0;
}

TEST(one_linear_and_one_expert_match_torch_autograd) {
    if (!torch_available()) SKIP("no torch in " PY_ORACLE_PYTHON);
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, true, 0) == 0);
    m4_model *m = lmodel(&s, TN_F32, &err);
    CHECK_EQ_INT(lattach(m, &s, 0, &err), NT_OK);
    lrandomize(m, 0.3f, 11);
    const m4_text_config *c = &s.full.text;
    int64_t qk = c->qk_nope_head_dim + c->qk_rope_head_dim, F = c->moe_intermediate_size, D = c->hidden_size;
    torch_case(m, &s, "model.layers.0.self_attn.q_b_proj.weight", M4_W(m, 0, q_b),
               c->num_heads * qk, c->q_lora_rank, 0);
    torch_case(m, &s, "model.layers.1.mlp.experts.gate_up_proj",
               m4_wt_rows(M4_W(m, 1, gate_up), 3 * 2 * F, D), 2 * F, D, 3);
    torch_case(m, &s, "model.layers.1.mlp.experts.down_proj",
               m4_wt_rows(M4_W(m, 1, down), 6 * D, F), D, F, 6);
    m4_model_free(m);
    tr_result_free(&s.res);
}

static nt_status save(m4_model *m, const lsetup *s, const char *dir, st_dtype dt, nt_err *err) {
    ex_lora_tensors *lt = calloc(s->res.n, sizeof *lt);
    m4_lora_export(m, lt);
    ex_adapter_data d = {.lora = lt, .dtype = dt};
    ex_peft_config pc = {.base_model = "tiny/m4", .r = RANK, .lora_alpha = 5,
                         .target_parameters = EXPERT_PARAMS, .n_target_parameters = 3};
    nt_status st = ex_save_adapter(dir, &s->res, &pc, &d, err);
    free(lt);
    return st;
}

/* ex_save_adapter writes the PEFT key set (hand-written below for layer 1's parameter
 * targets, §2.3 nesting) and m4_lora_load reads it back bit for bit. */
TEST(save_load_round_trip_and_peft_keys) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, true, 0) == 0);
    m4_model *a = lmodel(&s, TN_F32, &err), *b = lmodel(&s, TN_NF4, &err);
    CHECK_EQ_INT(lattach(a, &s, 0, &err), NT_OK);
    m4_lora_opts o = {.r = RANK, .alpha = 5, .seed = 1234};
    CHECK_EQ_INT(m4_lora_attach(b, &s.res, &o, &err), NT_OK);
    sgd_steps(a, &s, 2, 0.5f);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lora_adapter", test_tmpdir());
    CHECK_MSG(save(a, &s, dir, ST_F32, &err) == NT_OK, "%s", err.msg);
    char *path = nt_path_join(dir, "adapter_model.safetensors");
    st_file *f = NULL;
    CHECK_MSG(st_file_open(path, &f, &err) == NT_OK, "%s", err.msg);
    if (f) {
        CHECK_EQ_INT(st_file_count(f), m4_lora_num_tensors(a));
        static const struct { const char *k; int64_t d0, d1; } want[] = {
            {"base_model.model.model.layers.1.mlp.gate.lora_A.weight", RANK, 40},
            {"base_model.model.model.layers.1.mlp.gate.lora_B.weight", 8, RANK},
            {"base_model.model.model.layers.1.mlp.experts.base_layer.lora_A.weight", 8 * RANK, 40},
            {"base_model.model.model.layers.1.mlp.experts.base_layer.lora_B.weight", 20, 8 * RANK},
            {"base_model.model.model.layers.1.mlp.experts.lora_A.weight", 8 * RANK, 10},
            {"base_model.model.model.layers.1.mlp.experts.lora_B.weight", 40, 8 * RANK},
            {"base_model.model.model.layers.0.self_attn.kv_a_proj_with_mqa.lora_A.weight", RANK, 40},
            {"base_model.model.model.layers.1.mlp.shared_experts.down_proj.lora_B.weight", 40, RANK},
            {"base_model.model.model.layers.0.mlp.down_proj.lora_A.weight", RANK, 50}};
        for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
            const st_tensor *t = st_file_find(f, want[i].k);
            CHECK_MSG(t && t->ndim == 2 && t->shape[0] == want[i].d0 && t->shape[1] == want[i].d1,
                      "%s", want[i].k);
        }
        for (size_t i = 0; i < m4_lora_num_tensors(a); i++)
            CHECK_MSG(st_file_find(f, m4_lora_get(a, i)->name), "%s", m4_lora_get(a, i)->name);
        st_file_close(f);
    }
    CHECK_MSG(m4_lora_load(b, path, &err) == NT_OK, "%s", err.msg);
    CHECK(!memcmp(m4_lora_params(a), m4_lora_params(b), (size_t)m4_lora_num_floats(a) * sizeof(float)));
    free(path);
    m4_model_free(a);
    m4_model_free(b);
    tr_result_free(&s.res);
}

/* Loading checks every tensor before copying: a rank mismatch names the tensor and leaves
 * the adapters unchanged; a missing file names the path. */
TEST(load_errors_name_the_tensor) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, true, 0) == 0);
    m4_model *a = lmodel(&s, TN_F32, &err), *b = lmodel(&s, TN_F32, &err);
    CHECK_EQ_INT(lattach(a, &s, 0, &err), NT_OK);
    m4_lora_opts o = {.r = RANK + 1, .alpha = 5, .seed = 1};
    CHECK_EQ_INT(m4_lora_attach(b, &s.res, &o, &err), NT_OK);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/lora_adapter_bf16", test_tmpdir());
    CHECK_MSG(save(a, &s, dir, ST_BF16, &err) == NT_OK, "%s", err.msg);
    char *path = nt_path_join(dir, "adapter_model.safetensors");
    float *before = malloc((size_t)m4_lora_num_floats(b) * sizeof(float));
    memcpy(before, m4_lora_params(b), (size_t)m4_lora_num_floats(b) * sizeof(float));
    CHECK(m4_lora_load(b, path, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "base_model.model.model.layers.0.self_attn.q_a_proj.lora_A.weight");
    CHECK_CONTAINS(err.msg, "expected shape [4, 40]");
    CHECK(!memcmp(before, m4_lora_params(b), (size_t)m4_lora_num_floats(b) * sizeof(float)));
    /* BF16 file into the right rank: the values are A rounded to bf16 */
    m4_model *c = lmodel(&s, TN_F32, &err);
    CHECK_EQ_INT(lattach(c, &s, 0, &err), NT_OK);
    memset(m4_lora_params(c), 0, (size_t)m4_lora_num_floats(c) * sizeof(float));
    CHECK_MSG(m4_lora_load(c, path, &err) == NT_OK, "%s", err.msg);
    int64_t bad = 0;
    for (int64_t i = 0; i < m4_lora_num_floats(a); i++)
        bad += m4_lora_params(c)[i] != tn_bf16_to_f32(tn_f32_to_bf16(m4_lora_params(a)[i]));
    CHECK_EQ_INT(bad, 0);
    CHECK(m4_lora_load(c, "/nonexistent/adapter_model.safetensors", &err) != NT_OK);
    CHECK_CONTAINS(err.msg, "/nonexistent/adapter_model.safetensors");
    free(before);
    free(path);
    m4_model_free(a);
    m4_model_free(b);
    m4_model_free(c);
    tr_result_free(&s.res);
}

TEST_MAIN()
