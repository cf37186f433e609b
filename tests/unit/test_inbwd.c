/* The optimizer in backward (train/step.h, m4_model.h "gradient sink") against the trainer's
 * ordinary step (gradient buffers, tr_step_finish without clipping) on the tiny fixture
 * model, fully trainable: over three steps of different batches the loss, the returned
 * gradient norm and every parameter have the same bits, for AdamW, 8-bit AdamW and SGD with
 * momentum; with gradient checkpointing; with lm_head handed over in vocabulary blocks
 * (batch ≤ chunk + hidden) and whole (longer batches); with a tied head. Also: no gradient
 * buffer exists while the sink is set, and adapters and a sink refuse each other. */
#include "m4_lora_util.h"
#include "test.h"

#include "base/mem.h"
#include "train/step.h"

static m4_model *full_model(const m4_text_config *c, bool ckpt, int64_t chunk, nt_err *err) {
    m4_options mo = {.checkpointing = ckpt, .loss_sum = true, .xent_chunk = chunk};
    return lfull(c, &mo, 777, err);
}

/* Random ids and labels of one row of T tokens, about one label in five ignored. */
static void make_batch(const m4_text_config *c, int64_t T, uint32_t seed, int32_t *ids, int32_t *labels) {
    for (int64_t t = 0; t < T; t++) {
        ids[t] = (int32_t)(lcg(&seed) % (uint32_t)c->vocab_size);
        labels[t] = lcg(&seed) % 5 == 0 ? -100 : (int32_t)(lcg(&seed) % (uint32_t)c->vocab_size);
    }
}

static bool params_same(m4_model *a, m4_model *b, int step) {
    for (size_t i = 0; i < m4_model_num_params(a); i++) {
        const m4_param_info *p = m4_model_param(a, i);
        if (memcmp(m4_model_param_data(a, i), m4_model_param_data(b, i), (size_t)p->numel * 4)) {
            fprintf(stderr, "  step %d: %s differs\n", step, p->name);
            return false;
        }
    }
    return true;
}

typedef struct {
    tr_optim_kind kind;
    bool ckpt, tied;
    int64_t T, chunk;
} ib_case;

static void same_as_fused(ib_case k) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, false, 0) == 0);
    m4_text_config c = s.full.text;
    c.tie_word_embeddings = k.tied;
    m4_model *a = full_model(&c, k.ckpt, k.chunk, &err), *b = full_model(&c, k.ckpt, k.chunk, &err);
    CHECK_MSG(a && b, "%s", err.msg);
    tr_optim_hparams hp = tr_optim_defaults(k.kind);
    if (k.kind == TR_OPT_SGD) hp.momentum = 0.9;
    tr_optim *oa = NULL, *ob = NULL;
    tr_inbwd *sb = NULL;
    CHECK(a && m4_model_alloc_grads(a, &err) == NT_OK && tr_step_optim_new(a, &hp, 0.01, &oa, &err) == NT_OK);
    CHECK_MSG(b && tr_step_inbwd_new(b, &hp, 0.01, &sb, &ob, &err) == NT_OK, "%s", err.msg);
    CHECK(!b || (m4_model_num_grad_floats(b) == 0 && m4_model_grad_data(b, 0) == NULL));
    int32_t *ids = nt_xmalloc((size_t)k.T * 4), *labels = nt_xmalloc((size_t)k.T * 4);
    for (int step = 1; step <= 3 && oa && ob; step++) {
        make_batch(&c, k.T, 1000u * (uint32_t)step + (uint32_t)k.T, ids, labels);
        m4_batch bt = {1, k.T, ids, labels, NULL, NULL};
        double lr = 1e-3 * step;
        m4_loss la, lb;
        m4_model_zero_grads(a);
        CHECK(m4_forward(a, &bt, true, NULL, &la, &err) == NT_OK && m4_backward(a, &err) == NT_OK);
        float ga = tr_step_finish(oa, a, la.count ? 1.0 / (double)la.count : 1.0, 0, lr);
        tr_step_inbwd_arm(sb, lr);
        CHECK(m4_forward(b, &bt, true, NULL, &lb, &err) == NT_OK && m4_backward(b, &err) == NT_OK);
        float gb = tr_step_inbwd_finish(sb);
        CHECK(la.count == lb.count && memcmp(&la.loss, &lb.loss, sizeof la.loss) == 0);
        CHECK_MSG(ga > 0 && memcmp(&ga, &gb, 4) == 0, "step %d: norm %.9g vs in backward %.9g", step, ga, gb);
        CHECK_MSG(params_same(a, b, step), "%s%s%s T %lld chunk %lld: step %d", tr_optim_kind_name(k.kind),
                  k.ckpt ? " checkpointing" : "", k.tied ? " tied" : "", (long long)k.T, (long long)k.chunk, step);
    }
    free(ids), free(labels);
    tr_step_inbwd_free(sb);
    CHECK(!b || !m4_model_has_grad_sink(b));
    tr_optim_free(oa), tr_optim_free(ob);
    m4_model_free(a), m4_model_free(b);
    tr_result_free(&s.res);
}

/* T 12 ≤ chunk 0 (default) + 64: lm_head in blocks; T 90 > chunk 8 + 64: lm_head whole. */
TEST(in_backward_matches_fused_adamw_head_blocks) { same_as_fused((ib_case){TR_OPT_ADAMW, false, false, 12, 0}); }
TEST(in_backward_matches_fused_adamw_head_whole) { same_as_fused((ib_case){TR_OPT_ADAMW, false, false, 90, 8}); }
TEST(in_backward_matches_fused_adamw_8bit) { same_as_fused((ib_case){TR_OPT_ADAMW_8BIT, false, false, 40, 0}); }
TEST(in_backward_matches_fused_sgd_momentum) { same_as_fused((ib_case){TR_OPT_SGD, false, false, 12, 0}); }
TEST(in_backward_matches_fused_checkpointing) { same_as_fused((ib_case){TR_OPT_ADAMW, true, false, 30, 0}); }
TEST(in_backward_matches_fused_tied_head) { same_as_fused((ib_case){TR_OPT_ADAMW, false, true, 20, 0}); }
TEST(in_backward_matches_fused_tied_head_long) { same_as_fused((ib_case){TR_OPT_ADAMW, false, true, 90, 8}); }

static void never_begin(void *ctx, int64_t tokens) { abort(); }
static void never_grad(void *ctx, size_t t, size_t off, size_t n, const float *g) { abort(); }

/* The exactness rule, and adapters refusing a sink and a sink refusing adapters. */
TEST(in_backward_rules_and_refusals) {
    lsetup s;
    nt_err err = {0};
    CHECK(lsetup_make(&s, false, 0) == 0);
    m4_model *f = full_model(&s.full.text, false, 0, &err), *m = lmodel(&s, TN_F32, &err);
    CHECK_MSG(f && m, "%s", err.msg);
    if (!f || !m) return;
    CHECK(tr_step_inbwd_exact(f, 0, 1));
    CHECK(!tr_step_inbwd_exact(f, 1.0, 1)); /* clipping needs every gradient first */
    CHECK(!tr_step_inbwd_exact(f, 0, 2));   /* so does accumulation */
    m4_grad_sink none = {0};
    CHECK(m4_model_set_grad_sink(f, &none, &err) == NT_EINVAL);
    tr_inbwd *sb = NULL;
    tr_optim *ob = NULL;
    tr_optim_hparams hp = tr_optim_defaults(TR_OPT_ADAMW);
    CHECK(tr_step_inbwd_new(f, &hp, 0, &sb, &ob, &err) == NT_OK);
    m4_grad_sink dummy = {.ctx = NULL, .begin = never_begin, .grad = never_grad};
    CHECK(m4_model_set_grad_sink(m, &dummy, &err) == NT_OK); /* a frozen base + sink: allowed */
    CHECK(lattach(m, &s, 0, &err) != 0);                      /* ... but then no adapters */
    CHECK_CONTAINS(err.msg, "optimizer in backward");
    CHECK(m4_model_set_grad_sink(m, NULL, &err) == NT_OK);
    CHECK(lattach(m, &s, 0, &err) == 0);
    CHECK(!tr_step_inbwd_exact(m, 0, 1));
    CHECK(m4_model_set_grad_sink(m, &dummy, &err) == NT_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "adapters");
    CHECK(!m4_model_has_grad_sink(m));
    tr_step_inbwd_free(sb), tr_optim_free(ob);
    m4_model_free(f), m4_model_free(m);
    tr_result_free(&s.res);
}

TEST_MAIN()
