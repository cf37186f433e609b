/* Frozen parameters and compact storage (model/m4_model.h: m4_model_apply_policy).
 *
 * The reference for a model whose frozen linear weights are stored bf16 / NF4 is the plain f32
 * model holding the same effective weights (rounded to bf16 with tn_f32_to_bf16, or quantized
 * and dequantized whole with tn_nf4 — both checked bit-exact against torch / bitsandbytes in
 * test_dtype.c and test_nf4.c) with the same tensors frozen: loss, logits and the gradients of
 * the trainable tensors (embedding = the scattered dX of the whole stack, norms, lm_head) must
 * agree within fp32 reassociation. The test config has hidden 40 and expert width 10, so NF4
 * blocks of 64 straddle rows and experts (gate_up expert = 800 elements, down = 400). */
#include <math.h>

#include "model/m4_internal.h"
#include "model/m4_load.h"
#include "tensor/convert.h"
#include "tensor/fp.h"
#include "test.h"

#define TINY "tests/fixtures/mistral4-tiny"
#define B_ 2
#define T_ 12

typedef struct {
    m4_text_config cfg;
    int32_t ids[B_ * T_], labels[B_ * T_];
    m4_batch b;
} setup;

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }
static float unif(uint32_t *s) { return (float)(lcg(s) >> 8) * 0x1p-24f * 2.0f - 1.0f; }

/* variant 1: no query compression (q_proj) and 2 shared experts. */
static int make_setup_v(setup *s, int variant) {
    nt_err err = {0};
    m4_weights *w = NULL;
    if (m4_weights_open(TINY, &w, &err)) return fprintf(stderr, "  %s\n", err.msg), 1;
    s->cfg = m4_weights_config(w)->text;
    m4_weights_close(w);
    s->cfg.hidden_size = 40;
    s->cfg.moe_intermediate_size = 10;
    s->cfg.intermediate_size = 50;
    s->cfg.first_k_dense_replace = 1; /* layer 0 dense, layer 1 MoE */
    if (variant == 1) {
        s->cfg.q_lora_rank = 0;
        s->cfg.n_shared_experts = 2;
    }
    uint32_t st = 7;
    for (int i = 0; i < B_ * T_; i++) {
        s->ids[i] = (int32_t)(lcg(&st) % (uint32_t)s->cfg.vocab_size);
        s->labels[i] = i % 5 == 1 ? -100 : (int32_t)(lcg(&st) % (uint32_t)s->cfg.vocab_size);
    }
    s->b = (m4_batch){B_, T_, s->ids, s->labels, NULL, NULL};
    return 0;
}

static int make_setup(setup *s) { return make_setup_v(s, 0); }

/* Deterministic values: norms near 1, matrices uniform ±0.15 (±0.5 for the embedding). */
static m4_model *make_model(const setup *s, nt_err *err) {
    m4_model *m = NULL;
    if (m4_model_new(&s->cfg, NULL, &m, err)) return NULL;
    uint32_t st = 12345;
    for (size_t i = 0; i < m4_model_num_params(m); i++) {
        const m4_param_info *p = m4_model_param(m, i);
        float *v = m4_model_param_data(m, i);
        bool norm = p->ndim == 1, emb = !strcmp(p->name, "model.embed_tokens.weight");
        for (int64_t j = 0; j < p->numel; j++)
            v[j] = norm ? 1.0f + 0.1f * unif(&st) : (emb ? 0.5f : 0.15f) * unif(&st);
    }
    return m;
}

/* Linear weights frozen with storage dt, everything else trainable f32. */
static nt_status freeze_linears(m4_model *m, tn_dtype dt, bool dq, nt_err *err) {
    size_t n = m4_model_num_params(m);
    m4_param_policy *pol = calloc(n, sizeof *pol);
    for (size_t i = 0; i < n; i++) {
        bool lin = m4_model_is_linear_weight(m, i);
        pol[i] = (m4_param_policy){.trainable = !lin, .storage = lin ? dt : TN_F32, .double_quant = dq};
    }
    nt_status st = m4_model_apply_policy(m, pol, err);
    free(pol);
    return st;
}

/* The f32 values the compact tensor i stands for, written into the reference model. */
static void effective_weights(m4_model *ref, size_t i, tn_dtype dt, bool dq) {
    const m4_param_info *p = m4_model_param(ref, i);
    float *v = m4_model_param_data(ref, i);
    if (dt == TN_BF16) {
        for (int64_t j = 0; j < p->numel; j++) v[j] = tn_bf16_to_f32(tn_f32_to_bf16(v[j]));
    } else if (dt == TN_NF4) {
        tn_nf4 q;
        nt_err err = {0};
        if (tn_nf4_quantize(TN_F32, v, p->shape, p->ndim, 64, dq, &q, &err)) abort();
        tn_nf4_dequant(&q, 0, (size_t)p->numel, v);
        tn_nf4_free(&q);
    }
}

typedef struct {
    m4_loss loss;
    float *logits;
} result;

static int step(m4_model *m, const setup *s, result *r, nt_err *err) {
    size_t nl = (size_t)(B_ * T_ * s->cfg.vocab_size);
    r->logits = malloc(nl * sizeof(float));
    m4_model_zero_grads(m); /* the first forward allocates them zeroed */
    return m4_forward(m, &s->b, true, r->logits, &r->loss, err) || m4_backward(m, err);
}

/* ‖a − b‖ / ‖b‖ */
static double rel(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Compact model vs the f32 model on the effective weights, same tensors frozen. */
static void check_storage(tn_dtype dt, bool dq, bool ckpt, int variant) {
    setup s;
    nt_err err = {0};
    CHECK(make_setup_v(&s, variant) == 0);
    m4_model *a = make_model(&s, &err), *ref = make_model(&s, &err);
    CHECK(a && ref);
    m4_options o = {.checkpointing = ckpt};
    m4_model_set_options(a, &o);
    m4_model_set_options(ref, &o);
    size_t n = m4_model_num_params(a), nlin = 0;
    for (size_t i = 0; i < n; i++)
        if (m4_model_is_linear_weight(ref, i)) effective_weights(ref, i, dt, dq), nlin++;
    CHECK(nlin > 10);
    CHECK_EQ_INT(freeze_linears(a, dt, dq, &err), NT_OK);
    CHECK_EQ_INT(freeze_linears(ref, TN_F32, false, &err), NT_OK);
    result ra, rr;
    CHECK_EQ_INT(step(a, &s, &ra, &err), NT_OK);
    CHECK_EQ_INT(step(ref, &s, &rr, &err), NT_OK);
    CHECK(rr.loss.count == ra.loss.count && rr.loss.count > 0);
    /* Never an f32 matrix: compact weights are dequantized inside the GEMM's packing, so the
     * compact model takes no more scratch than the f32 one. */
    CHECK_MSG(a->scratch.high_water <= ref->scratch.high_water,
              "%zu vs %zu", a->scratch.high_water, ref->scratch.high_water);
    CHECK_MSG(fabs(ra.loss.loss - rr.loss.loss) <= 1e-6 * fabs(rr.loss.loss), "%.9g vs %.9g", ra.loss.loss, rr.loss.loss);
    double el = rel(ra.logits, rr.logits, B_ * T_ * s.cfg.vocab_size);
    CHECK_MSG(el <= 1e-6, "logits %.3g", el);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const m4_param_info *p = m4_model_param(a, i);
        bool lin = m4_model_is_linear_weight(a, i);
        CHECK((m4_model_grad_data(a, i) == NULL) == lin);   /* frozen: no gradient */
        CHECK((m4_model_param_data(a, i) == NULL) == (lin && dt != TN_F32));
        if (lin) continue;
        double e = rel(m4_model_grad_data(a, i), m4_model_grad_data(ref, i), p->numel);
        CHECK_MSG(e <= 1e-6, "%s: %.3g", p->name, e);
        worst = fmax(worst, e);
    }
    printf("  %s%s%s%s: loss %.3g, logits %.3g, worst trainable grad %.3g (relative)\n", tn_dtype_name(dt),
           dq ? " double-quant" : "", ckpt ? " checkpointing" : "", variant ? " (q_proj, 2 shared)" : "", fabs(ra.loss.loss - rr.loss.loss) / rr.loss.loss, el, worst);
    free(ra.logits);
    free(rr.logits);
    m4_model_free(a);
    m4_model_free(ref);
}

TEST(bf16_frozen_weights_match_f32_on_rounded_weights) {
    check_storage(TN_BF16, false, false, 0);
    check_storage(TN_BF16, false, false, 1);
}
TEST(nf4_frozen_weights_match_f32_on_dequantized_weights) {
    check_storage(TN_NF4, false, false, 0);
    check_storage(TN_NF4, false, false, 1);
}
TEST(nf4_double_quant_with_checkpointing) { check_storage(TN_NF4, true, true, 0); }

/* Freezing other tensors leaves the trainable ones' gradients bit-identical: the backward
 * still computes every dX; it only skips the frozen weights' dW GEMMs. */
TEST(freezing_does_not_change_trainable_gradients) {
    setup s;
    nt_err err = {0};
    CHECK(make_setup(&s) == 0);
    m4_model *all = make_model(&s, &err), *fz = make_model(&s, &err);
    CHECK_EQ_INT(freeze_linears(fz, TN_F32, false, &err), NT_OK);
    result ra, rf;
    CHECK_EQ_INT(step(all, &s, &ra, &err), NT_OK);
    CHECK_EQ_INT(step(fz, &s, &rf, &err), NT_OK);
    CHECK(ra.loss.loss == rf.loss.loss);
    m4_param_report r_all, r_fz;
    m4_model_report(all, &r_all);
    m4_model_report(fz, &r_fz);
    int64_t trained = 0;
    for (size_t i = 0; i < m4_model_num_params(fz); i++) {
        const m4_param_info *p = m4_model_param(fz, i);
        if (m4_model_is_linear_weight(fz, i)) continue;
        trained += p->numel;
        CHECK_MSG(memcmp(m4_model_grad_data(fz, i), m4_model_grad_data(all, i), (size_t)p->numel * 4) == 0, "%s", p->name);
    }
    CHECK_EQ_INT(r_fz.trainable, trained);
    CHECK_EQ_INT(r_all.trainable, m4_model_num_floats(all));
    CHECK_EQ_INT(r_fz.grad_bytes, trained * 4);
    free(ra.logits);
    free(rf.logits);
    m4_model_free(all);
    m4_model_free(fz);
}

/* Everything frozen (LoRA base without adapters): no gradient buffer at all, the backward
 * still runs through every layer, the loss is the trainable model's. */
TEST(fully_frozen_model_runs_backward_without_gradients) {
    setup s;
    nt_err err = {0};
    CHECK(make_setup(&s) == 0);
    m4_model *m = make_model(&s, &err), *ref = make_model(&s, &err);
    for (size_t i = 0; i < m4_model_num_params(ref); i++)
        if (m4_model_is_linear_weight(ref, i)) effective_weights(ref, i, TN_BF16, false);
    CHECK_EQ_INT(m4_model_freeze_base(m, TN_BF16, false, &err), NT_OK);
    result r, rr;
    CHECK_EQ_INT(step(m, &s, &r, &err), NT_OK);
    CHECK_EQ_INT(step(ref, &s, &rr, &err), NT_OK);
    CHECK(fabs(r.loss.loss - rr.loss.loss) <= 1e-6 * rr.loss.loss);
    for (size_t i = 0; i < m4_model_num_params(m); i++) CHECK(m4_model_grad_data(m, i) == NULL);
    m4_param_report rep;
    m4_model_report(m, &rep);
    CHECK(rep.trainable == 0 && rep.grad_bytes == 0);
    free(r.logits);
    free(rr.logits);
    m4_model_free(m);
    m4_model_free(ref);
}

/* Resident bytes by dtype, from the storage formulas (nf4.h): bf16 2 B; NF4 ceil(n/2) packed
 * bytes + 4 B absmax per 64-block + the 16-entry map; double quant 1 B per block + 4 B per
 * 256 blocks + both maps (16 + 256 floats). */
TEST(report_counts_resident_bytes_by_dtype) {
    setup s;
    nt_err err = {0};
    CHECK(make_setup(&s) == 0);
    for (int v = 0; v < 3; v++) {
        tn_dtype dt = v == 0 ? TN_BF16 : TN_NF4;
        bool dq = v == 2;
        m4_model *m = make_model(&s, &err);
        CHECK_EQ_INT(freeze_linears(m, dt, dq, &err), NT_OK);
        size_t want_c = 0, want_f = 0;
        int64_t cnt = 0, cnt_f = 0;
        for (size_t i = 0; i < m4_model_num_params(m); i++) {
            size_t n = (size_t)m4_model_param(m, i)->numel, nb = (n + 63) / 64;
            if (!m4_model_is_linear_weight(m, i)) { want_f += 4 * n; cnt_f += (int64_t)n; continue; }
            cnt += (int64_t)n;
            want_c += dt == TN_BF16 ? 2 * n : !dq ? (n + 1) / 2 + 4 * nb + 64
                                              : (n + 1) / 2 + nb + 4 * ((nb + 255) / 256) + 64 + 1024;
        }
        m4_param_report r;
        m4_model_report(m, &r);
        CHECK_EQ_INT(r.bytes[dt], want_c);
        CHECK_EQ_INT(r.count[dt], cnt);
        CHECK_EQ_INT(r.bytes[TN_F32], want_f);
        CHECK_EQ_INT(r.count[TN_F32], cnt_f);
        CHECK_EQ_INT(m->n_pfloats, cnt_f); /* the f32 allocation shrank to the f32 tensors */
        m4_model_free(m);
    }
}

TEST(policy_errors_name_the_tensor_and_change_nothing) {
    setup s;
    nt_err err = {0};
    CHECK(make_setup(&s) == 0);
    m4_model *m = make_model(&s, &err);
    size_t n = m4_model_num_params(m);
    m4_param_policy *pol = calloc(n, sizeof *pol);
    int64_t qa = m4_model_find_param(m, "model.layers.1.self_attn.q_a_proj.weight");
    int64_t nrm = m4_model_find_param(m, "model.layers.0.input_layernorm.weight");
    int64_t emb = m4_model_find_param(m, "model.embed_tokens.weight");
    CHECK(qa >= 0 && nrm >= 0 && emb == 0);
    struct { int64_t i; bool tr; tn_dtype dt; const char *msg; } bad[] = {
        {qa, true, TN_BF16, "trainable"},
        {nrm, false, TN_BF16, "input_layernorm"},
        {emb, false, TN_NF4, "embed_tokens"},
        {qa, false, TN_F16, "storage f16"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        m4_model_get_policy(m, pol);
        pol[bad[k].i] = (m4_param_policy){.trainable = bad[k].tr, .storage = bad[k].dt};
        CHECK(m4_model_apply_policy(m, pol, &err) != NT_OK);
        CHECK_CONTAINS(err.msg, bad[k].msg);
        CHECK_CONTAINS(err.msg, m4_model_param(m, (size_t)bad[k].i)->name);
    }
    for (size_t i = 0; i < n; i++) CHECK(m4_model_param_data(m, i) != NULL);
    CHECK_EQ_INT(freeze_linears(m, TN_BF16, false, &err), NT_OK);
    CHECK(freeze_linears(m, TN_NF4, false, &err) != NT_OK);
    CHECK_CONTAINS(err.msg, "already stored bf16");
    CHECK(m4_model_set_trainable(m, (size_t)qa, true, &err) != NT_OK);
    CHECK_EQ_INT(m4_model_set_trainable(m, (size_t)emb, false, &err), NT_OK);
    CHECK(m4_model_param_data(m, (size_t)emb) != NULL); /* frozen f32 stays f32 */
    free(pol);
    m4_model_free(m);
}

/* m4_model_load into compact storage (each tensor converted as it is read: bf16 and NF4 through
 * m4_load_stored, NF4 double quant from an f32 copy) equals loading f32 and applying the
 * policy afterwards, bit for bit. */
static void check_load(m4_weights *w, tn_dtype dt, bool dq) {
    nt_err err = {0};
    const m4_text_config *c = &m4_weights_config(w)->text;
    m4_model *a = NULL, *b = NULL;
    CHECK(m4_model_new(c, NULL, &a, &err) == NT_OK && m4_model_new(c, NULL, &b, &err) == NT_OK);
    CHECK_EQ_INT(m4_model_freeze_base(a, dt, dq, &err), NT_OK);
    CHECK_EQ_INT(m4_model_load(a, w, &err), NT_OK);
    CHECK_EQ_INT(m4_model_load(b, w, &err), NT_OK);
    CHECK_EQ_INT(m4_model_freeze_base(b, dt, dq, &err), NT_OK);
    int32_t ids[20];
    for (int i = 0; i < 20; i++) ids[i] = (i * 37 + 5) % (int)c->vocab_size;
    m4_batch bt = {1, 20, ids, ids, NULL, NULL};
    m4_loss la, lb;
    CHECK(m4_forward(a, &bt, true, NULL, &la, &err) == NT_OK && m4_backward(a, &err) == NT_OK);
    CHECK(m4_forward(b, &bt, true, NULL, &lb, &err) == NT_OK && m4_backward(b, &err) == NT_OK);
    CHECK(la.loss == lb.loss && la.count == 19);
    size_t ncompact = 0;
    for (size_t i = 0; i < m4_model_num_params(a); i++) {
        const m4_store *sa = &a->store[i], *sb = &b->store[i];
        size_t n = (size_t)m4_model_param(a, i)->numel;
        CHECK(sa->dtype == sb->dtype);
        ncompact += sa->dtype != TN_F32;
        if (sa->dtype == TN_BF16) CHECK(memcmp(sa->bf16, sb->bf16, 2 * n) == 0);
        if (sa->dtype != TN_NF4) continue;
        CHECK(sa->nf4.double_quant == dq && memcmp(sa->nf4.packed, sb->nf4.packed, (n + 1) / 2) == 0);
        CHECK(dq ? memcmp(sa->nf4.absmax_q, sb->nf4.absmax_q, sa->nf4.nblocks) == 0
                 : memcmp(sa->nf4.absmax, sb->nf4.absmax, 4 * sa->nf4.nblocks) == 0);
    }
    CHECK(ncompact > 10);
    m4_model_free(a);
    m4_model_free(b);
}

TEST(load_into_compact_storage_equals_converting_after_load) {
    nt_err err = {0};
    m4_weights *w = NULL;
    CHECK_EQ_INT(m4_weights_open(TINY, &w, &err), NT_OK);
    check_load(w, TN_BF16, false);
    check_load(w, TN_NF4, false);
    check_load(w, TN_NF4, true);
    m4_weights_close(w);
}

TEST_MAIN()
