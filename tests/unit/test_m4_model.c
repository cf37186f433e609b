/* Model-level properties that the parity test does not cover: checkpointing gives bit-identical
 * results, the activation plan matches the documented formula (docs/model.md) and the memory
 * actually taken, loss_sum semantics for gradient accumulation, input errors, and the probe
 * command end to end. */
#include "m4_case.h"
#include "m4_fixtures.h"
#include "test.h"

#define TINY "tests/fixtures/mistral4-tiny"
#define TINY_REF TINY "/ref_float64.safetensors"

typedef struct {
    double loss;
    float *grads;
    int64_t n;
    size_t high_water;
} run_out;

static int run(const char *dir, const char *ref, m4_options opt, run_out *o) {
    m4_case c;
    nt_err err = {0};
    if (case_open(&c, dir, ref, opt.checkpointing, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        case_free(&c);
        return 1;
    }
    m4_model_set_options(c.model, &opt);
    m4_loss loss;
    int rc = m4_model_alloc_grads(c.model, &err) || m4_forward(c.model, &c.batch, true, NULL, &loss, &err) ||
             m4_backward(c.model, &err);
    o->loss = loss.loss;
    o->n = m4_model_num_floats(c.model);
    o->grads = malloc(o->n * sizeof(float));
    memcpy(o->grads, m4_model_grad_data(c.model, 0), o->n * sizeof(float));
    o->high_water = m4_act_high_water(c.model);
    case_free(&c);
    return rc;
}

TEST(checkpointing_is_bit_identical) {
    const char *cases[][2] = {{TINY, TINY_REF},
                              {"tests/fixtures/oracle/group_routing", "tests/fixtures/oracle/group_routing/ref_float64.safetensors"}};
    for (int i = 0; i < 2; i++) {
        if (access(cases[i][1], R_OK)) continue;
        run_out a = {0}, b = {0};
        CHECK(run(cases[i][0], cases[i][1], (m4_options){.checkpointing = false}, &a) == 0);
        CHECK(run(cases[i][0], cases[i][1], (m4_options){.checkpointing = true}, &b) == 0);
        CHECK(a.loss == b.loss);
        CHECK(a.n == b.n && memcmp(a.grads, b.grads, a.n * sizeof(float)) == 0);
        CHECK_MSG(b.high_water < a.high_water, "%zu vs %zu", b.high_water, a.high_water);
        free(a.grads);
        free(b.grads);
    }
}

TEST(loss_sum_scales_gradients_by_count) {
    run_out mean = {0}, sum = {0};
    CHECK(run(TINY, TINY_REF, (m4_options){0}, &mean) == 0);
    CHECK(run(TINY, TINY_REF, (m4_options){.loss_sum = true}, &sum) == 0);
    /* fixture labels: [2,24], -100 on the first 3 of each row and 2 more in row 1 (run_ref.py);
     * shifted targets: 23 per row minus the ignored ones after position 0 => 21 + 19 = 40 */
    CHECK_NEAR(sum.loss / mean.loss, 40.0, 1e-4);
    double md = 0, mg = 0;
    for (int64_t i = 0; i < mean.n; i++) {
        md = fmax(md, fabs(sum.grads[i] - 40.0 * mean.grads[i]));
        mg = fmax(mg, fabs(sum.grads[i]));
    }
    CHECK(md <= 1e-5 * mg);
    free(mean.grads);
    free(sum.grads);
}

/* Two micro-batches (one row each) with loss_sum accumulate the same gradients as the whole
 * batch: gradients add across forward/backward pairs and nothing leaks between rows. */
TEST(gradient_accumulation_over_micro_batches) {
    m4_case c;
    nt_err err = {0};
    CHECK(case_open(&c, TINY, TINY_REF, false, &err) == 0);
    m4_options o = {.loss_sum = true};
    m4_model_set_options(c.model, &o);
    CHECK(m4_model_alloc_grads(c.model, &err) == NT_OK);
    int64_t n = m4_model_num_floats(c.model), T = c.batch.T;
    m4_loss whole, a, b;
    m4_model_zero_grads(c.model);
    CHECK(m4_forward(c.model, &c.batch, true, NULL, &whole, &err) == NT_OK && m4_backward(c.model, &err) == NT_OK);
    float *ref = malloc(n * sizeof(float));
    memcpy(ref, m4_model_grad_data(c.model, 0), n * sizeof(float));
    m4_batch r0 = {1, T, c.batch.input_ids, c.batch.labels, NULL, NULL};
    m4_batch r1 = {1, T, c.batch.input_ids + T, c.batch.labels + T, NULL, NULL};
    m4_model_zero_grads(c.model);
    CHECK(m4_forward(c.model, &r0, true, NULL, &a, &err) == NT_OK && m4_backward(c.model, &err) == NT_OK);
    CHECK(m4_forward(c.model, &r1, true, NULL, &b, &err) == NT_OK && m4_backward(c.model, &err) == NT_OK);
    CHECK_EQ_INT(a.count + b.count, whole.count);
    CHECK_NEAR(a.loss + b.loss, whole.loss, 1e-4);
    const float *g = m4_model_grad_data(c.model, 0);
    double md = 0, mg = 0;
    for (int64_t i = 0; i < n; i++) {
        md = fmax(md, fabs(g[i] - ref[i]));
        mg = fmax(mg, fabs(ref[i]));
    }
    CHECK_MSG(md <= 1e-5 * mg, "%.3g of %.3g", md, mg);
    free(ref);
    case_free(&c);
}

/* Tied head: same logits as the untied model whose lm_head equals the embedding, and the
 * shared matrix's gradient is the sum of the two untied gradients (the untied model is the
 * one checked against transformers). */
TEST(tied_embeddings_share_storage_and_gradient) {
    m4_case c;
    nt_err err = {0};
    CHECK(case_open(&c, TINY, TINY_REF, false, &err) == 0);
    m4_model *u = c.model, *t = NULL;
    m4_text_config tc = *m4_model_config(u);
    tc.tie_word_embeddings = true;
    CHECK(m4_model_new(&tc, NULL, &t, &err) == NT_OK);
    CHECK_EQ_INT(m4_model_num_params(t), m4_model_num_params(u) - 1);
    for (size_t i = 0; i < m4_model_num_params(t); i++) { /* same names, same order, minus lm_head */
        CHECK_EQ_STR(m4_model_param(t, i)->name, m4_model_param(u, i)->name);
        memcpy(m4_model_param_data(t, i), m4_model_param_data(u, i), m4_model_param(u, i)->numel * sizeof(float));
    }
    size_t head = m4_model_num_params(u) - 1;
    CHECK_EQ_STR(m4_model_param(u, head)->name, "lm_head.weight");
    int64_t VD = m4_model_param(u, 0)->numel, NL = c.batch.B * c.batch.T * tc.vocab_size;
    memcpy(m4_model_param_data(u, head), m4_model_param_data(u, 0), VD * sizeof(float));
    float *lu = malloc(NL * sizeof(float)), *lt = malloc(NL * sizeof(float));
    m4_loss a, b;
    CHECK(m4_model_alloc_grads(u, &err) == NT_OK && m4_model_alloc_grads(t, &err) == NT_OK);
    CHECK(m4_forward(u, &c.batch, true, lu, &a, &err) == NT_OK && m4_backward(u, &err) == NT_OK);
    CHECK(m4_forward(t, &c.batch, true, lt, &b, &err) == NT_OK && m4_backward(t, &err) == NT_OK);
    CHECK(a.loss == b.loss && memcmp(lu, lt, NL * sizeof(float)) == 0);
    const float *ge = m4_model_grad_data(u, 0), *gh = m4_model_grad_data(u, head), *gt = m4_model_grad_data(t, 0);
    double md = 0, mg = 0;
    for (int64_t i = 0; i < VD; i++) {
        md = fmax(md, fabs(gt[i] - (ge[i] + gh[i])));
        mg = fmax(mg, fabs(gt[i]));
    }
    CHECK(mg > 0 && md <= 1e-6 * mg);
    free(lu); free(lt);
    m4_model_free(t);
    case_free(&c);
}

/* Activation floats per token per layer, written out from the spec's shapes (docs/model.md). */
static int64_t formula(const m4_text_config *c, bool moe) {
    int64_t D = c->hidden_size, H = c->num_heads, dqk = c->qk_nope_head_dim + c->qk_rope_head_dim;
    int64_t rq = c->q_lora_rank, rkv = c->kv_lora_rank, k = c->experts_per_tok;
    int64_t attn = 1 + (rq ? 2 * rq + 1 : 0) + H * dqk + (rkv + c->qk_rope_head_dim) + 1 + rkv +
                   H * (c->qk_nope_head_dim + c->v_head_dim) + H * dqk + H + H * c->v_head_dim;
    int64_t ffn_in = D + 1; /* h, the post-norm's rstd (its output is remade in backward) */
    if (!moe) return attn + ffn_in + 2 * c->intermediate_size;
    int64_t F = c->moe_intermediate_size, S = F * c->n_shared_experts;
    return attn + ffn_in + c->n_routed_experts + 4 * k + 2 * k * F + 2 * S; /* gate_up outputs only */
}

TEST(activation_plan_matches_formula) {
    val *v = NULL;
    m4_config cfg;
    nt_err err = {0};
    CHECK(json_parse(M4_SMALL4_CONFIG_JSON, strlen(M4_SMALL4_CONFIG_JSON), &v, &err) == NT_OK);
    CHECK(m4_config_from_val(v, &cfg, &err) == NT_OK);
    val_unref(v);
    /* Mistral Small 4: 45,812 floats = 183,248 bytes per token per layer (+16,384 input) */
    CHECK_EQ_INT(m4_layer_act_floats(&cfg.text, 0), 45812);
    CHECK_EQ_INT(formula(&cfg.text, true), 45812);
    m4_text_config dense = cfg.text;
    dense.first_k_dense_replace = 1;
    CHECK_EQ_INT(m4_layer_act_floats(&dense, 0), formula(&dense, false));
    /* the tiny fixture: planned bytes vs what the arena really took */
    run_out a = {0}, b = {0};
    CHECK(run(TINY, TINY_REF, (m4_options){0}, &a) == 0);
    CHECK(run(TINY, TINY_REF, (m4_options){.checkpointing = true}, &b) == 0);
    m4_case c;
    CHECK(case_open(&c, TINY, TINY_REF, false, &err) == 0);
    const m4_text_config *t = m4_model_config(c.model);
    int64_t n = c.batch.B * c.batch.T, L = t->num_layers, D = t->hidden_size;
    int64_t per = formula(t, true) * 4 * n + (t->n_routed_experts + 1) * 8;
    int64_t base = (L + 1) * n * D * 4;
    CHECK_EQ_INT(m4_planned_act_bytes(c.model, n), base + L * per);
    m4_options ck = {.checkpointing = true};
    m4_model_set_options(c.model, &ck);
    CHECK_EQ_INT(m4_planned_act_bytes(c.model, n), base + per);
    /* measured: planned + the per-batch tables and alignment, never less than planned */
    CHECK(a.high_water >= (size_t)(base + L * per) && a.high_water < (size_t)(base + L * per) * 3 / 2 + 65536);
    CHECK(b.high_water >= (size_t)(base + per) && b.high_water < (size_t)(base + per) * 3 / 2 + 65536);
    printf("  tiny (%lld tokens): planned %lld / %lld B, arena high water %zu / %zu B (plain / checkpointing)\n",
           (long long)n, (long long)(base + L * per), (long long)(base + per), a.high_water, b.high_water);
    case_free(&c);
    free(a.grads);
    free(b.grads);
}

TEST(bad_inputs_name_the_row) {
    m4_case c;
    nt_err err = {0};
    CHECK(case_open(&c, TINY, TINY_REF, false, &err) == 0);
    CHECK(m4_backward(c.model, &err) == NT_EINVAL); /* no forward yet */
    c.bb.ids[30] = 100000;
    CHECK(m4_forward(c.model, &c.batch, false, NULL, NULL, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "input_ids[1][6]");
    c.bb.ids[30] = 5;
    c.bb.labels[2] = -7;
    CHECK(m4_forward(c.model, &c.batch, false, NULL, NULL, &err) == NT_EINVAL);
    CHECK_CONTAINS(err.msg, "labels[0][2]");
    case_free(&c);
}

TEST(probe_command_writes_fixture_tensors) {
    char cmd[8192], *out = NULL, path[512];
    snprintf(path, sizeof path, "%s/probe.safetensors", test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s probe --model %s --inputs %s --out %s --logits --grads 2>&1",
             test_newt_bin(), TINY, TINY_REF, path);
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    free(out);
    st_file *f = NULL, *ref = NULL;
    nt_err err = {0};
    CHECK(st_file_open(path, &f, &err) == NT_OK);
    CHECK(st_file_open(TINY_REF, &ref, &err) == NT_OK);
    if (!f || !ref) return;
    /* every tensor of the reference except the inputs, same shape */
    for (size_t i = 0; i < st_file_count(ref); i++) {
        const st_tensor *r = st_file_tensor(ref, i), *t = st_file_find(f, r->name);
        if (!strcmp(r->name, "input_ids") || !strcmp(r->name, "labels")) continue;
        CHECK_MSG(t && t->numel == r->numel && t->dtype == ST_F32, "%s", r->name);
    }
    double *l = case_doubles(f, "loss", NULL), *rl = case_doubles(ref, "loss", NULL);
    CHECK(l && rl && fabs(l[0] - rl[0]) < 1e-5);
    free(l); free(rl);
    st_file_close(f);
    st_file_close(ref);
    snprintf(cmd, sizeof cmd, "%s probe --model %s --inputs %s/config.json --out %s 2>&1",
             test_newt_bin(), TINY, TINY, path);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    CHECK_CONTAINS(out, "config.json");
    free(out);
}

/* Inputs without labels: hidden states only (no loss tensor); --grads is refused by name. */
TEST(probe_without_labels) {
    char in[512], outp[512], cmd[8192], *out = NULL;
    snprintf(in, sizeof in, "%s/ids_only.safetensors", test_tmpdir());
    snprintf(outp, sizeof outp, "%s/ids_only.out.safetensors", test_tmpdir());
    int32_t ids[2 * 5] = {1, 5, 9, 200, 7, 1, 3, 3, 3, 511};
    int64_t shape[2] = {2, 5};
    nt_err err = {0};
    st_writer *w = st_writer_new();
    CHECK(st_writer_add(w, "input_ids", ST_I32, 2, shape, ids, &err) == NT_OK);
    CHECK(st_writer_save(w, in, &err) == NT_OK);
    st_writer_free(w);
    snprintf(cmd, sizeof cmd, "%s probe --model %s --inputs %s --out %s --logits 2>&1", test_newt_bin(), TINY, in, outp);
    CHECK_EQ_INT(test_run(cmd, &out), 0);
    free(out);
    st_file *f = NULL;
    CHECK(st_file_open(outp, &f, &err) == NT_OK);
    if (f) {
        CHECK(st_file_find(f, "loss") == NULL);
        const st_tensor *lg = st_file_find(f, "logits");
        CHECK(lg && lg->ndim == 3 && lg->shape[0] == 2 && lg->shape[1] == 5 && lg->shape[2] == 512);
        CHECK(st_file_find(f, "hidden.final_norm") != NULL);
        st_file_close(f);
    }
    snprintf(cmd, sizeof cmd, "%s probe --model %s --inputs %s --out %s --grads 2>&1", test_newt_bin(), TINY, in, outp);
    CHECK_EQ_INT(test_run(cmd, &out), 1);
    CHECK_CONTAINS(out, "labels");
    free(out);
}

TEST_MAIN()
