#include "train/lora_spec.h"

#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

/* Appends the strings of a str-or-list value to b->strs; first and n give its slice. */
static nt_status take_strs(tr_spec_buf *b, size_t *used, const val *v, const char *key,
                           size_t *first, size_t *n, nt_err *err) {
    *first = *used;
    *n = 0;
    if (!v || val_is(v, VAL_NULL)) return NT_OK;
    size_t cnt = val_is(v, VAL_LIST) ? val_list_len(v) : 1;
    b->strs = nt_xrealloc(b->strs, (*used + cnt + 1) * sizeof *b->strs);
    for (size_t i = 0; i < cnt; i++) {
        const val *s = val_is(v, VAL_LIST) ? val_list_get(v, i) : v;
        if (!val_is(s, VAL_STR))
            return nt_err_set(err, NT_EINVAL, "%s[%zu]: expected a string, got %s", key, i,
                              val_kind_name(s->kind));
        b->strs[(*used)++] = s->u.str.s;
    }
    *n = cnt;
    return NT_OK;
}

static nt_status take_layers(tr_spec_buf *b, const val *v, nt_err *err) {
    if (!v || val_is(v, VAL_NULL)) return NT_OK;
    size_t cnt = val_is(v, VAL_LIST) ? val_list_len(v) : 1;
    b->layers = nt_xcalloc(cnt + 1, sizeof *b->layers);
    for (size_t i = 0; i < cnt; i++) {
        const val *x = val_is(v, VAL_LIST) ? val_list_get(v, i) : v;
        if (!val_is(x, VAL_INT))
            return nt_err_set(err, NT_EINVAL,
                              "peft_layers_to_transform: expected an integer or a list of "
                              "integers, got %s",
                              val_kind_name(x->kind));
        b->layers[i] = x->u.i;
    }
    b->spec.layers = b->layers;
    b->spec.n_layers = cnt;
    return NT_OK;
}

nt_status tr_spec_from_cfg(const cfg *c, tr_spec_buf *out, nt_err *err) {
    memset(out, 0, sizeof *out);
    tr_spec *s = &out->spec;
    const val *tm = cfg_get(c, "lora_target_modules");
    size_t used = 0, fm = 0, nm = 0, fp = 0, np = 0, fs = 0, ns = 0;
    nt_status st = NT_OK;
    if (val_is(tm, VAL_STR))
        s->modules_regex = tm->u.str.s;
    else
        st = take_strs(out, &used, tm, "lora_target_modules", &fm, &nm, err);
    if (!st)
        st = take_strs(out, &used, cfg_get(c, "lora_target_parameters"),
                       "lora_target_parameters", &fp, &np, err);
    if (!st)
        st = take_strs(out, &used, cfg_get(c, "lora_modules_to_save"), "lora_modules_to_save",
                       &fs, &ns, err);
    if (!st) st = take_layers(out, cfg_get(c, "peft_layers_to_transform"), err);
    if (st) {
        tr_spec_buf_free(out);
        return st;
    }
    /* slices are taken after the last realloc */
    s->modules = nm ? out->strs + fm : NULL;
    s->n_modules = nm;
    s->parameters = np ? out->strs + fp : NULL;
    s->n_parameters = np;
    s->modules_to_save = ns ? out->strs + fs : NULL;
    s->n_modules_to_save = ns;
    s->target_linear = cfg_get_bool(c, "lora_target_linear");
    s->lora_dropout = cfg_get_float(c, "lora_dropout");
    return NT_OK;
}

void tr_spec_buf_free(tr_spec_buf *b) {
    free(b->strs);
    free(b->layers);
    memset(b, 0, sizeof *b);
}
