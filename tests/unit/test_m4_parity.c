/* Parity of the Mistral 4 model with transformers' float64 reference (../shared/oracles/
 * numerics): logits, loss, hidden states and the gradient of every parameter, with and
 * without gradient checkpointing, for tests/fixtures/mistral4-tiny and every case folder
 * under tests/fixtures/oracle/. The worst errors are printed. */
#include <dirent.h>
#include <math.h>

#include "m4_case.h"
#include "test.h"

typedef struct {
    double logits, loss, hidden, grad;
    char grad_name[160];
} worst;

static double max_rel(const float *a, const double *b, int64_t n) {
    double md = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - b[i]));
        mb = fmax(mb, fabs(b[i]));
    }
    return mb > 0 ? md / mb : md;
}

static void check_hidden(m4_case *c, worst *w, const char *tag) {
    const m4_text_config *cfg = m4_model_config(c->model);
    int64_t n = c->batch.B * c->batch.T * cfg->hidden_size;
    for (int64_t l = 0; l <= cfg->num_layers; l++) {
        char name[64];
        if (l < cfg->num_layers) snprintf(name, sizeof name, "hidden.%lld", (long long)l);
        else snprintf(name, sizeof name, "hidden.final_norm");
        double *ref = case_doubles(c->ref, name, NULL);
        if (!ref) continue;
        const float *h = l < cfg->num_layers ? m4_hidden(c->model, l) : m4_hidden_final_norm(c->model);
        double e = max_rel(h, ref, n);
        w->hidden = fmax(w->hidden, e);
        CHECK_MSG(e <= 1e-5, "%s %s: %.3g", tag, name, e);
        free(ref);
    }
}

static void check_grads(m4_case *c, worst *w, const char *tag) {
    for (size_t i = 0; i < m4_model_num_params(c->model); i++) {
        const m4_param_info *p = m4_model_param(c->model, i);
        char name[200];
        snprintf(name, sizeof name, "grad.%s", p->name);
        double *ref = case_doubles(c->ref, name, NULL);
        CHECK_MSG(ref != NULL, "%s: reference has no %s", tag, name);
        if (!ref) continue;
        double e = rel_err_f(m4_model_grad_data(c->model, i), ref, p->numel);
        if (e > w->grad) {
            w->grad = e;
            snprintf(w->grad_name, sizeof w->grad_name, "%s", p->name);
        }
        CHECK_MSG(e <= 1e-4, "%s %s: %.3g", tag, name, e);
        free(ref);
    }
}

static void run_case(const char *dir, const char *ref, bool ckpt) {
    char tag[600];
    snprintf(tag, sizeof tag, "%s%s", dir, ckpt ? " (checkpointing)" : "");
    m4_case c;
    nt_err err = {0};
    if (case_open(&c, dir, ref, ckpt, &err)) {
        CHECK_MSG(0, "%s: %s", tag, err.msg);
        case_free(&c);
        return;
    }
    const m4_text_config *cfg = m4_model_config(c.model);
    int64_t nl = c.batch.B * c.batch.T * cfg->vocab_size;
    float *logits = malloc(nl * sizeof(float));
    m4_loss loss = {0};
    worst w = {0};
    CHECK(m4_model_alloc_grads(c.model, &err) == NT_OK);
    m4_model_zero_grads(c.model); /* lm_head's gradient is produced during the forward */
    CHECK(m4_forward(c.model, &c.batch, true, logits, &loss, &err) == NT_OK);
    double *rl = case_doubles(c.ref, "logits", NULL), *rloss = case_doubles(c.ref, "loss", NULL);
    CHECK(rl && rloss);
    if (rl && rloss) {
        w.logits = max_rel(logits, rl, nl);
        w.loss = fabs(loss.loss - rloss[0]);
        CHECK_MSG(w.logits <= 1e-5, "%s logits: %.3g", tag, w.logits);
        CHECK_MSG(w.loss <= 1e-5, "%s loss %.9f vs %.9f", tag, loss.loss, rloss[0]);
    }
    check_hidden(&c, &w, tag);
    CHECK(m4_backward(c.model, &err) == NT_OK);
    check_grads(&c, &w, tag);
    printf("  %s: logits %.2e (max abs / max |ref|), loss %.2e, hidden %.2e, worst grad %.2e (%s)\n",
           tag, w.logits, w.loss, w.hidden, w.grad, w.grad_name);
    free(logits); free(rl); free(rloss);
    case_free(&c);
}

TEST(tiny_fixture) {
    const char *dir = "tests/fixtures/mistral4-tiny";
    run_case(dir, "tests/fixtures/mistral4-tiny/ref_float64.safetensors", false);
    run_case(dir, "tests/fixtures/mistral4-tiny/ref_float64.safetensors", true);
}

/* Every case folder under tests/fixtures/oracle/ (config.json, model.safetensors,
 * ref_float64.safetensors holding the inputs and the expected outputs). */
TEST(oracle_cases) {
    DIR *d = opendir("tests/fixtures/oracle");
    if (!d) SKIP("no tests/fixtures/oracle/ folder");
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char dir[512], ref[700];
        snprintf(dir, sizeof dir, "tests/fixtures/oracle/%s", e->d_name);
        snprintf(ref, sizeof ref, "%s/ref_float64.safetensors", dir);
        if (access(ref, R_OK) != 0) continue;
        run_case(dir, ref, false);
        run_case(dir, ref, true);
        n++;
    }
    closedir(d);
    printf("  %d oracle case(s)\n", n);
    CHECK(n > 0);
}

TEST_MAIN()
