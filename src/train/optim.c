/* Optimizer creation, names, accessors and HF's weight-decay rule. The math lives in
 * optim_step.c, clipping in optim_clip.c, checkpoint state in optim_state.c. */
#include "train/optim.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "tensor/qmap.h"
#include "train/optim_internal.h"

static const struct {
    const char *name;
    tr_optim_kind kind;
} k_names[] = {
    {"adamw_torch", TR_OPT_ADAMW},        {"adamw_torch_fused", TR_OPT_ADAMW},
    {"adamw_hf", TR_OPT_ADAMW},           {"adamw_bnb_8bit", TR_OPT_ADAMW_8BIT},
    {"adamw_8bit", TR_OPT_ADAMW_8BIT},    {"paged_adamw_8bit", TR_OPT_ADAMW_8BIT},
    {"sgd", TR_OPT_SGD},
};

bool tr_optim_parse_name(const char *name, tr_optim_kind *out) {
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
        if (strcmp(name, k_names[i].name) == 0) {
            *out = k_names[i].kind;
            return true;
        }
    return false;
}

const char *tr_optim_kind_name(tr_optim_kind k) {
    switch (k) {
    case TR_OPT_ADAMW: return "adamw_torch";
    case TR_OPT_ADAMW_8BIT: return "adamw_bnb_8bit";
    case TR_OPT_SGD: return "sgd";
    }
    return "?";
}

tr_optim_hparams tr_optim_defaults(tr_optim_kind kind) {
    return (tr_optim_hparams){.kind = kind, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

static nt_status check_hparams(const tr_optim_hparams *hp, nt_err *err) {
    if (hp->kind != TR_OPT_ADAMW && hp->kind != TR_OPT_ADAMW_8BIT && hp->kind != TR_OPT_SGD)
        return nt_err_set(err, NT_EINVAL, "optimizer: unknown kind %d", (int)hp->kind);
    if (hp->kind == TR_OPT_SGD)
        return hp->momentum >= 0 && hp->momentum < 1
                   ? NT_OK
                   : nt_err_set(err, NT_EINVAL, "optimizer sgd: momentum %g outside [0, 1)",
                                hp->momentum);
    if (!(hp->beta1 >= 0 && hp->beta1 < 1))
        return nt_err_set(err, NT_EINVAL, "adam_beta1: %g outside [0, 1)", hp->beta1);
    if (!(hp->beta2 >= 0 && hp->beta2 < 1))
        return nt_err_set(err, NT_EINVAL, "adam_beta2: %g outside [0, 1)", hp->beta2);
    if (!(hp->eps >= 0 && isfinite(hp->eps)))
        return nt_err_set(err, NT_EINVAL, "adam_epsilon: %g must be >= 0", hp->eps);
    return NT_OK;
}

static nt_status check_params(const tr_param *ps, size_t n, nt_err *err) {
    for (size_t i = 0; i < n; i++) {
        if (!ps[i].name || !*ps[i].name)
            return nt_err_set(err, NT_EINVAL, "optimizer: parameter %zu has no name", i);
        if (ps[i].numel && !ps[i].param) /* grad may be NULL: tr_optim_range_* only */
            return nt_err_set(err, NT_EINVAL, "optimizer: parameter '%s' has no buffer",
                              ps[i].name);
        if (!(ps[i].weight_decay >= 0 && isfinite(ps[i].weight_decay)))
            return nt_err_set(err, NT_EINVAL, "optimizer: parameter '%s': weight_decay %g",
                              ps[i].name, ps[i].weight_decay);
        for (size_t j = 0; j < i; j++)
            if (strcmp(ps[i].name, ps[j].name) == 0)
                return nt_err_set(err, NT_EINVAL, "optimizer: parameter '%s' given twice",
                                  ps[i].name);
    }
    return NT_OK;
}

static void alloc_state(tr_optim *o, size_t i) {
    tr_state *s = &o->st[i];
    size_t n = o->ps[i].numel;
    if (o->hp.kind == TR_OPT_SGD) {
        if (o->hp.momentum != 0) s->m = nt_xcalloc(n ? n : 1, sizeof(float));
        return;
    }
    s->is8 = o->hp.kind == TR_OPT_ADAMW_8BIT && n >= TR_BNB_MIN_8BIT && !o->ps[i].bnb_32bit;
    if (!s->is8) {
        s->m = nt_xcalloc(n ? n : 1, sizeof(float));
        s->v = nt_xcalloc(n ? n : 1, sizeof(float));
        return;
    }
    s->nblocks = (n + TR_BNB_BLOCK - 1) / TR_BNB_BLOCK;
    s->q1 = nt_xcalloc(n, 1);
    s->q2 = nt_xcalloc(n, 1);
    s->absmax1 = nt_xcalloc(s->nblocks, sizeof(float));
    s->absmax2 = nt_xcalloc(s->nblocks, sizeof(float));
}

/* Fixed slices of all parameters, block-aligned, built once so a step needs no allocation. */
static void build_chunks(tr_optim *o) {
    size_t cap = 0;
    for (size_t i = 0; i < o->n; i++) cap += (o->ps[i].numel + TR_CHUNK - 1) / TR_CHUNK;
    o->chunks = nt_xcalloc(cap ? cap : 1, sizeof(tr_chunk));
    o->pchunk = nt_xcalloc(o->n + 1, sizeof(size_t));
    for (size_t i = 0; i < o->n; i++) {
        o->pchunk[i] = o->nchunks;
        for (size_t s = 0; s < o->ps[i].numel; s += TR_CHUNK) {
            size_t e = s + TR_CHUNK < o->ps[i].numel ? s + TR_CHUNK : o->ps[i].numel;
            o->chunks[o->nchunks++] = (tr_chunk){i, s, e};
        }
    }
    o->pchunk[o->n] = o->nchunks;
    o->partial = nt_xcalloc(o->nchunks ? o->nchunks : 1, sizeof(double));
}

nt_status tr_optim_new(const tr_optim_hparams *hp, const tr_param *params, size_t n,
                       tr_optim **out, nt_err *err) {
    *out = NULL;
    if (check_hparams(hp, err) || check_params(params, n, err)) return err ? err->code : NT_EINVAL;
    tr_optim *o = nt_xcalloc(1, sizeof *o);
    o->hp = *hp;
    o->n = n;
    o->ps = nt_xcalloc(n ? n : 1, sizeof(tr_param));
    o->st = nt_xcalloc(n ? n : 1, sizeof(tr_state));
    o->norms = nt_xcalloc(n ? n : 1, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        o->ps[i] = params[i];
        o->ps[i].name = nt_xstrdup(params[i].name);
        alloc_state(o, i);
    }
    tn_qmap_dynamic(true, o->qmap1);
    tn_qmap_dynamic(false, o->qmap2);
    if (hp->kind == TR_OPT_ADAMW_8BIT) {
        tr_qtable_build(&o->qt1, o->qmap1);
        tr_qtable_build(&o->qt2, o->qmap2);
    }
    build_chunks(o);
    *out = o;
    return NT_OK;
}

void tr_optim_free(tr_optim *o) {
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) {
        tr_state *s = &o->st[i];
        free(s->m);
        free(s->v);
        free(s->q1);
        free(s->q2);
        free(s->absmax1);
        free(s->absmax2);
        free((char *)o->ps[i].name);
    }
    free(o->ps);
    free(o->st);
    free(o->norms);
    free(o->chunks);
    free(o->partial);
    free(o->pchunk);
    free(o->lanes);
    free(o->range);
    tr_qtable_free(&o->qt1);
    tr_qtable_free(&o->qt2);
    free(o);
}

void tr_optim_step(tr_optim *o, double lr) {
    o->step++;
    tr_step_consts k;
    tr_step_consts_init(o, lr, &k);
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < o->nchunks; c++) {
        const tr_chunk *ch = &o->chunks[c];
        tr_step_range(o, &k, ch->param, ch->start, ch->end - ch->start,
                      o->ps[ch->param].grad + ch->start);
    }
}

int64_t tr_optim_step_count(const tr_optim *o) { return o->step; }
size_t tr_optim_param_count(const tr_optim *o) { return o->n; }
const tr_param *tr_optim_param(const tr_optim *o, size_t i) { return &o->ps[i]; }

/* Does s contain w followed by '.' or the end; when !anywhere, also preceded by the start
 * or '.' (the regexes (?:^|\.)norm(?:$|\.) and _norm(?:$|\.)). */
static bool has_norm_component(const char *s, const char *w, bool anywhere) {
    size_t wl = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w)) {
        bool start_ok = anywhere || p == s || p[-1] == '.';
        bool end_ok = p[wl] == '\0' || p[wl] == '.';
        if (start_ok && end_ok) return true;
    }
    return false;
}

bool tr_param_decays(const char *hf_name) {
    size_t n = strlen(hf_name);
    char *s = nt_xmalloc(n + 1);
    for (size_t i = 0; i <= n; i++) s[i] = (char)tolower((unsigned char)hf_name[i]);
    /* HF: re.search of bias, layernorm, rmsnorm, (?:^|\.)norm(?:$|\.), _norm(?:$|\.) */
    bool no = strstr(s, "bias") || strstr(s, "layernorm") || strstr(s, "rmsnorm") ||
              has_norm_component(s, "norm", false) || has_norm_component(s, "_norm", true);
    free(s);
    return !no;
}
