/* newt probe --model DIR --inputs IN.safetensors --out OUT.safetensors [--logits] [--grads]
 * [--checkpointing]: runs the model on one batch and writes what the reference fixtures hold
 * (loss, hidden.<i>, hidden.final_norm, optionally logits and grad.<HF name>), float32, so
 * newt's numerics can be compared with any other implementation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "cli/cli.h"
#include "formats/safetensors.h"
#include "model/m4_batch.h"
#include "model/m4_load.h"
#include "model/m4_model.h"

typedef struct {
    const char *model, *inputs, *out;
    bool logits, grads, ckpt;
} probe_args;

static int usage(void) {
    fprintf(stderr,
            "usage: newt probe --model DIR --inputs IN.safetensors --out OUT.safetensors\n"
            "                  [--logits] [--grads] [--checkpointing]\n"
            "  IN: input_ids [B,T] (I32/I64), optional labels, attention_mask, position_ids.\n"
            "  OUT: loss (with labels), hidden.<i>, hidden.final_norm, logits (--logits),\n"
            "  grad.<param> under HF names (--grads, needs labels); all F32.\n");
    return 2;
}

static int parse_args(int argc, char **argv, probe_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) return usage(), -1;
        if (!strcmp(k, "--logits")) { a->logits = true; continue; }
        if (!strcmp(k, "--grads")) { a->grads = true; continue; }
        if (!strcmp(k, "--checkpointing")) { a->ckpt = true; continue; }
        if (i + 1 >= argc) return usage();
        const char *v = argv[++i];
        if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--inputs")) a->inputs = v;
        else if (!strcmp(k, "--out")) a->out = v;
        else return usage();
    }
    return a->model && a->inputs && a->out ? 0 : usage();
}

typedef struct {
    m4_weights *w;
    m4_model *m;
    st_file *in;
    m4_batch_buf bb;
    float *logits, *loss;
    st_writer *wr;
} probe_state;

static void probe_free(probe_state *s) {
    st_writer_free(s->wr);
    free(s->logits);
    free(s->loss);
    m4_batch_buf_free(&s->bb);
    st_file_close(s->in);
    m4_model_free(s->m);
    m4_weights_close(s->w);
}

static nt_status run(const probe_args *a, probe_state *s, nt_err *err) {
    m4_options opt = {.checkpointing = a->ckpt};
    if (m4_weights_open(a->model, &s->w, err) ||
        m4_model_new(&m4_weights_config(s->w)->text, &opt, &s->m, err) ||
        m4_model_load(s->m, s->w, err) || st_file_open(a->inputs, &s->in, err) ||
        m4_batch_read(s->in, &s->bb, err))
        return err->code;
    const m4_batch *b = &s->bb.b;
    if (a->grads && !b->labels)
        return nt_err_set(err, NT_EINVAL, "%s: --grads needs a 'labels' tensor", a->inputs);
    const m4_text_config *c = m4_model_config(s->m);
    if (a->logits) s->logits = nt_xmalloc((size_t)(b->B * b->T * c->vocab_size) * sizeof(float));
    if (a->grads && m4_model_alloc_grads(s->m, err)) return err->code;
    m4_model_zero_grads(s->m);
    m4_loss loss = {0};
    if (m4_forward(s->m, b, a->grads, s->logits, &loss, err)) return err->code;
    if (a->grads && m4_backward(s->m, err)) return err->code;
    s->loss = nt_xmalloc(sizeof(float));
    *s->loss = (float)loss.loss;
    return NT_OK;
}

static nt_status write_out(const probe_args *a, probe_state *s, nt_err *err) {
    const m4_batch *b = &s->bb.b;
    const m4_text_config *c = m4_model_config(s->m);
    int64_t hs[3] = {b->B, b->T, c->hidden_size}, ls[3] = {b->B, b->T, c->vocab_size};
    s->wr = st_writer_new();
    st_writer_set_metadata(s->wr, "producer", "newt probe");
    if (b->labels && st_writer_add(s->wr, "loss", ST_F32, 0, NULL, s->loss, err)) return err->code;
    for (int64_t l = 0; l <= c->num_layers; l++) {
        char name[64];
        if (l < c->num_layers) snprintf(name, sizeof name, "hidden.%lld", (long long)l);
        else snprintf(name, sizeof name, "hidden.final_norm");
        const float *h = l < c->num_layers ? m4_hidden(s->m, l) : m4_hidden_final_norm(s->m);
        if (st_writer_add(s->wr, name, ST_F32, 3, hs, h, err)) return err->code;
    }
    if (s->logits && st_writer_add(s->wr, "logits", ST_F32, 3, ls, s->logits, err)) return err->code;
    for (size_t i = 0; a->grads && i < m4_model_num_params(s->m); i++) {
        const m4_param_info *p = m4_model_param(s->m, i);
        char name[200];
        snprintf(name, sizeof name, "grad.%s", p->name);
        if (st_writer_add(s->wr, name, ST_F32, p->ndim, p->shape, m4_model_grad_data(s->m, i), err))
            return err->code;
    }
    return st_writer_save(s->wr, a->out, err);
}

int cli_cmd_probe(int argc, char **argv) {
    probe_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    probe_state s;
    memset(&s, 0, sizeof s);
    nt_err err = {0};
    nt_status st = run(&a, &s, &err);
    if (!st) st = write_out(&a, &s, &err);
    if (st) cli_error("%s", err.msg);
    else if (s.bb.b.labels) printf("loss %.9g; wrote %s\n", (double)*s.loss, a.out);
    else printf("wrote %s\n", a.out);
    probe_free(&s);
    return st ? 1 : 0;
}
