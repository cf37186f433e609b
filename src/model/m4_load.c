#include "model/m4_load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "model/m4_load_internal.h"
#include "tensor/convert.h"

const char *m4_layout_name(m4_naming n) {
    switch (n) {
    case M4_NAMES_TEXT: return "text-only";
    case M4_NAMES_V5: return "transformers-v5";
    case M4_NAMES_LEGACY: return "legacy";
    }
    return "?";
}

/* Prefix of text-model tensors and the name of lm_head in each layout. */
static const char *text_prefix(m4_naming n) {
    return n == M4_NAMES_TEXT ? "model." : n == M4_NAMES_V5 ? "model.language_model."
                                                            : "language_model.model.";
}
static const char *head_name(m4_naming n) {
    return n == M4_NAMES_LEGACY ? "language_model.lm_head.weight" : "lm_head.weight";
}

void m4w_full_name(const m4_weights *w, const char *canon, char *buf, size_t cap) {
    if (!strcmp(canon, "lm_head.weight")) {
        if (w->cfg.text.tie_word_embeddings)
            snprintf(buf, cap, "%sembed_tokens.weight", text_prefix(w->layout));
        else
            snprintf(buf, cap, "%s", head_name(w->layout));
        return;
    }
    snprintf(buf, cap, "%s%s", text_prefix(w->layout), canon);
}

bool m4w_tn_dtype(st_dtype d, tn_dtype *out) {
    switch (d) {
    case ST_F32: *out = TN_F32; return true;
    case ST_BF16: *out = TN_BF16; return true;
    case ST_F16: *out = TN_F16; return true;
    case ST_F8_E4M3: *out = TN_F8_E4M3; return true;
    default: return false;
    }
}

static nt_status load_config(const char *path, m4_config *cfg, nt_err *err) {
    val *v = NULL;
    nt_status st = json_parse_file(path, &v, err);
    if (!st && (st = m4_config_from_val(v, cfg, err))) nt_err_prefix(err, "%s: ", path);
    val_unref(v);
    return st;
}

static nt_status detect_layout(m4_weights *w, nt_err *err) {
    static const m4_naming order[] = {M4_NAMES_TEXT, M4_NAMES_V5, M4_NAMES_LEGACY};
    for (int i = 0; i < 3; i++) {
        char name[128];
        snprintf(name, sizeof name, "%sembed_tokens.weight", text_prefix(order[i]));
        if (st_model_find(w->model, name)) {
            w->layout = order[i];
            return NT_OK;
        }
    }
    return nt_err_set(err, NT_ENOTFOUND,
                      "no embedding tensor: none of model.embed_tokens.weight, "
                      "model.language_model.embed_tokens.weight, "
                      "language_model.model.embed_tokens.weight");
}

nt_status m4_weights_open_paths(const char *config_path, const char *weights_path,
                                m4_weights **out, nt_err *err) {
    *out = NULL;
    m4_weights *w = nt_xcalloc(1, sizeof *w);
    nt_status st = load_config(config_path, &w->cfg, err);
    if (!st) st = st_model_open(weights_path, &w->model, err);
    if (!st && (st = detect_layout(w, err))) nt_err_prefix(err, "%s: ", weights_path);
    if (!st && (st = m4w_validate(w, err))) nt_err_prefix(err, "%s: ", weights_path);
    if (st) {
        m4_weights_close(w);
        return st;
    }
    *out = w;
    return NT_OK;
}

nt_status m4_weights_open(const char *dir, m4_weights **out, nt_err *err) {
    char *cp = nt_path_join(dir, "config.json");
    nt_status st = m4_weights_open_paths(cp, dir, out, err);
    free(cp);
    return st;
}

void m4_weights_close(m4_weights *w) {
    if (!w) return;
    st_model_close(w->model);
    free(w);
}

const m4_config *m4_weights_config(const m4_weights *w) { return &w->cfg; }
m4_naming m4_weights_layout(const m4_weights *w) { return w->layout; }
const m4_load_stats *m4_weights_stats(const m4_weights *w) { return &w->stats; }
const st_model *m4_weights_model(const m4_weights *w) { return w->model; }

const st_tensor *m4_weights_find(const m4_weights *w, const char *canon, nt_err *err) {
    char name[512];
    m4w_full_name(w, canon, name, sizeof name);
    const st_tensor *t = st_model_find(w->model, name);
    if (!t)
        nt_err_set(err, NT_ENOTFOUND, "tensor '%s' (checkpoint name '%s', %s layout) not found",
                   canon, name, m4_layout_name(w->layout));
    return t;
}

nt_status m4_weights_shape(const m4_weights *w, const char *canon, int *ndim, int64_t shape[4],
                           size_t *numel, nt_err *err) {
    const st_tensor *t = m4_weights_find(w, canon, err);
    if (!t) return err ? err->code : NT_ENOTFOUND;
    if (t->ndim > 4) return nt_err_set(err, NT_EINVAL, "tensor '%s': %d dims", canon, t->ndim);
    if (ndim) *ndim = t->ndim;
    for (int i = 0; shape && i < 4; i++) shape[i] = i < t->ndim ? t->shape[i] : 0;
    if (numel) *numel = (size_t)t->numel;
    return NT_OK;
}

void m4_stored_free(m4_stored *s) {
    if (!s) return;
    free(s->data);
    tn_nf4_free(&s->nf4);
    memset(s, 0, sizeof *s);
}
