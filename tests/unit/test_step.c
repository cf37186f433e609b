/* The optimizer side of a training step on a real (small) model (train/step.h): training
 * with tr_step_finish — fused step, gradients left zero, the next step's zeroing skipped —
 * gives the same bytes as the unfused sequence with a memset at every step, over steps of
 * two accumulated micro-batches, for the full fine-tune and for LoRA; and the model's
 * "gradients known zero" flag is set and forgotten where m4_model.h says. */
#include "m4_lora_util.h"
#include "test.h"

#include "train/step.h"

/* Every parameter trainable (full) or the frozen f32 base with adapters (lora). */
static m4_model *make_model(const lsetup *s, bool lora, nt_err *err) {
    m4_model *m = NULL;
    if (lora) {
        m = lmodel(s, TN_F32, err);
        if (m && lattach(m, s, 0, err)) m4_model_free(m), m = NULL;
        if (m) lrandomize(m, 0.2f, 99);
        return m;
    }
    return lfull(&s->full.text, NULL, 12345, err);
}

/* Forward + backward of rows [0, 1) and [1, 2) of the batch (two micro-batches). */
static int64_t micro_batches(m4_model *m, const lsetup *s, nt_err *err) {
    int64_t cnt = 0;
    for (int r = 0; r < B_; r++) {
        m4_batch b = {1, T_, s->b.input_ids + r * T_, s->b.labels + r * T_, NULL, NULL};
        m4_loss l;
        if (m4_forward(m, &b, true, NULL, &l, err) || m4_backward(m, err)) return -1;
        cnt += l.count;
    }
    return cnt;
}

/* The trainer's step before fusion: memset, micro-batches, scale in double, clip, step. */
static float unfused_step(m4_model *m, tr_optim *o, const lsetup *s, double max_norm, double lr, nt_err *err) {
    for (size_t i = 0; i < tr_optim_param_count(o); i++)
        memset(tr_optim_param(o, i)->grad, 0, tr_optim_param(o, i)->numel * sizeof(float));
    int64_t cnt = micro_batches(m, s, err);
    double sc = 1.0 / (double)cnt;
    for (size_t i = 0; i < tr_optim_param_count(o); i++) {
        float *g = tr_optim_param(o, i)->grad;
        for (size_t j = 0; j < tr_optim_param(o, i)->numel; j++) g[j] = (float)(g[j] * sc);
    }
    float gn = max_norm > 0 ? tr_optim_clip_grad_norm(o, max_norm) : tr_optim_grad_norm(o);
    tr_optim_step(o, lr);
    return gn;
}

static float fused_step(m4_model *m, tr_optim *o, const lsetup *s, double max_norm, double lr, nt_err *err) {
    m4_model_zero_grads(m);
    int64_t cnt = micro_batches(m, s, err);
    return tr_step_finish(o, m, 1.0 / (double)cnt, max_norm, lr);
}

static bool all_zero(const tr_optim *o) {
    for (size_t i = 0; i < tr_optim_param_count(o); i++)
        for (size_t j = 0; j < tr_optim_param(o, i)->numel; j++) {
            uint32_t b;
            memcpy(&b, &tr_optim_param(o, i)->grad[j], 4);
            if (b) return false;
        }
    return true;
}

static bool params_equal(const tr_optim *a, const tr_optim *b) {
    for (size_t i = 0; i < tr_optim_param_count(a); i++)
        if (memcmp(tr_optim_param(a, i)->param, tr_optim_param(b, i)->param, tr_optim_param(a, i)->numel * 4))
            return false;
    return true;
}

static void same_training(bool lora, tr_optim_kind kind, double max_norm) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, false, 0) == 0);
    m4_model *a = make_model(&s, lora, &err), *b = make_model(&s, lora, &err);
    CHECK_MSG(a && b, "%s", err.msg);
    tr_optim_hparams hp = tr_optim_defaults(kind);
    tr_optim *oa = NULL, *ob = NULL;
    /* the gradients exist from the first forward on: allocate them before taking pointers */
    CHECK(a && b && m4_model_alloc_grads(a, &err) == NT_OK && m4_model_alloc_grads(b, &err) == NT_OK);
    CHECK(a && tr_step_optim_new(a, &hp, 0.01, &oa, &err) == NT_OK);
    CHECK(b && tr_step_optim_new(b, &hp, 0.01, &ob, &err) == NT_OK);
    for (int k = 0; k < 3 && oa && ob; k++) {
        double lr = 1e-3 * (k + 1);
        float gu = unfused_step(b, ob, &s, max_norm, lr, &err), gf = fused_step(a, oa, &s, max_norm, lr, &err);
        CHECK_MSG(memcmp(&gu, &gf, 4) == 0, "%s %s step %d: norm %.9g vs %.9g", lora ? "lora" : "full",
                  tr_optim_kind_name(kind), k + 1, gu, gf);
        CHECK_MSG(gf > 0 && params_equal(ob, oa), "%s %s step %d", lora ? "lora" : "full", tr_optim_kind_name(kind),
                  k + 1);
        CHECK(all_zero(oa));
    }
    tr_optim_free(oa), tr_optim_free(ob);
    m4_model_free(a), m4_model_free(b);
    tr_result_free(&s.res);
}

TEST(fused_training_matches_unfused_full_adamw_clip) { same_training(false, TR_OPT_ADAMW, 1e-3); }
TEST(fused_training_matches_unfused_full_adamw_8bit) { same_training(false, TR_OPT_ADAMW_8BIT, 1.0); }
TEST(fused_training_matches_unfused_full_sgd_no_clip) { same_training(false, TR_OPT_SGD, 0); }
TEST(fused_training_matches_unfused_lora_adamw) { same_training(true, TR_OPT_ADAMW, 1.0); }

/* The flag: set by the fused step (the memset is then skipped: a value written behind the
 * model's back survives it), forgotten by a pointer handed out, by a training forward and
 * by a backward, kept by an evaluation forward. */
TEST(known_zero_gradients_skip_the_memset) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, false, 0) == 0);
    m4_model *m = make_model(&s, false, &err);
    CHECK(m && m4_model_alloc_grads(m, &err) == NT_OK);
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_ADAMW);
    tr_optim *o = NULL;
    CHECK(m && tr_step_optim_new(m, &hp, 0, &o, &err) == NT_OK);
    if (!o) goto out;
    float *g = m4_model_grad_data(m, 0); /* the embedding's: written by the backward */
    size_t head = m4_model_num_params(m) - 1;
    float *gh = m4_model_grad_data(m, head); /* lm_head's: written by the forward */
    CHECK(fused_step(m, o, &s, 1.0, 1e-3, &err) > 0 && all_zero(o));
    g[3] = 1.0f;
    m4_model_zero_grads(m);
    CHECK(g[3] == 1.0f); /* skipped: the model knew they were zero */
    (void)m4_model_grad_data(m, 0);
    m4_model_zero_grads(m);
    CHECK(g[3] == 0.0f); /* a writable pointer was handed out: zeroed */
    m4_model_grads_zeroed(m);
    m4_loss l;
    CHECK(m4_forward(m, &s.b, false, NULL, &l, &err) == NT_OK); /* evaluation: no gradient */
    g[3] = 2.0f;
    m4_model_zero_grads(m);
    CHECK(g[3] == 2.0f);
    g[3] = 0.0f;
    m4_model_grads_zeroed(m);
    CHECK(m4_forward(m, &s.b, true, NULL, &l, &err) == NT_OK);
    bool head_written = false;
    for (int64_t j = 0; j < m4_model_param(m, head)->numel; j++) head_written |= gh[j] != 0;
    CHECK(head_written);
    m4_model_zero_grads(m);
    CHECK(all_zero(o)); /* the training forward forgot it */
    m4_model_grads_zeroed(m);
    CHECK(m4_forward(m, &s.b, true, NULL, &l, &err) == NT_OK);
    m4_model_grads_zeroed(m); /* a lie, to see that the backward forgets it */
    CHECK(m4_backward(m, &err) == NT_OK);
    m4_model_zero_grads(m);
    CHECK(all_zero(o));
out:
    tr_optim_free(o);
    m4_model_free(m);
    tr_result_free(&s.res);
}

/* An optimizer over only part of the gradients does not let the model skip the memset. */
TEST(partial_optimizer_does_not_claim_zero_gradients) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, false, 0) == 0);
    m4_model *m = make_model(&s, false, &err);
    CHECK(m && m4_model_alloc_grads(m, &err) == NT_OK);
    if (!m) return;
    float *g0 = m4_model_grad_data(m, 0), *g1 = m4_model_grad_data(m, 1);
    tr_param p = {"only", m4_model_param_data(m, 0), g0, (size_t)m4_model_param(m, 0)->numel, 0, false};
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_SGD);
    tr_optim *o = NULL;
    CHECK(tr_optim_new(&hp, &p, 1, &o, &err) == NT_OK);
    g1[0] = 5.0f; /* not covered by o: a step must not let zero_grads skip it */
    tr_step_finish(o, m, 1.0, 0, 1e-3);
    m4_model_zero_grads(m);
    CHECK(g1[0] == 0.0f);
    tr_optim_free(o);
    m4_model_free(m);
    tr_result_free(&s.res);
}

TEST_MAIN()
