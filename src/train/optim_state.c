/* Optimizer state to and from a safetensors file (checkpoints; spec formats.md §8.1 suggests
 * this layout in place of torch's pickled optimizer.pt). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "formats/safetensors.h"
#include "train/optim_internal.h"

/* One saved array: where it lives in the optimizer and how it is named in the file. */
typedef struct {
    const char *field;
    st_dtype dtype;
    void *data;
    size_t numel;
} tr_field;

/* The arrays of parameter i, in file order; returns their count (at most 6). */
static size_t state_fields(tr_optim *o, size_t i, tr_field *f) {
    tr_state *s = &o->st[i];
    size_t n = o->ps[i].numel, k = 0;
    if (o->hp.kind == TR_OPT_SGD) {
        if (s->m) f[k++] = (tr_field){"momentum_buffer", ST_F32, s->m, n};
        return k;
    }
    if (!s->is8) {
        f[k++] = (tr_field){"exp_avg", ST_F32, s->m, n};
        f[k++] = (tr_field){"exp_avg_sq", ST_F32, s->v, n};
        return k;
    }
    f[k++] = (tr_field){"state1", ST_U8, s->q1, n};
    f[k++] = (tr_field){"state2", ST_U8, s->q2, n};
    f[k++] = (tr_field){"absmax1", ST_F32, s->absmax1, s->nblocks};
    f[k++] = (tr_field){"absmax2", ST_F32, s->absmax2, s->nblocks};
    f[k++] = (tr_field){"qmap1", ST_F32, o->qmap1, 256};
    f[k++] = (tr_field){"qmap2", ST_F32, o->qmap2, 256};
    return k;
}

static char *field_key(const tr_optim *o, size_t i, const char *field) {
    return nt_xasprintf("state.%s.%s", o->ps[i].name, field);
}

nt_status tr_optim_save(const tr_optim *oc, const char *path, nt_err *err) {
    tr_optim *o = (tr_optim *)oc; /* state_fields hands out mutable pointers; nothing is written */
    st_writer *w = st_writer_new();
    char step[32];
    snprintf(step, sizeof step, "%" PRId64, o->step);
    st_writer_set_metadata(w, "optimizer", tr_optim_kind_name(o->hp.kind));
    st_writer_set_metadata(w, "step", step);
    nt_status rc = NT_OK;
    char **keys = nt_xcalloc(o->n * 6 + 1, sizeof(char *));
    size_t nk = 0;
    for (size_t i = 0; i < o->n && !rc; i++) {
        tr_field f[6];
        size_t k = state_fields(o, i, f);
        for (size_t j = 0; j < k && !rc; j++) {
            int64_t shape[1] = {(int64_t)f[j].numel};
            keys[nk] = field_key(o, i, f[j].field);
            rc = st_writer_add(w, keys[nk++], f[j].dtype, 1, shape, f[j].data, err);
        }
    }
    if (!rc) rc = st_writer_save(w, path, err);
    st_writer_free(w);
    for (size_t i = 0; i < nk; i++) free(keys[i]);
    free(keys);
    return rc;
}

static nt_status parse_meta(const tr_optim *o, const st_file *f, int64_t *step, nt_err *err) {
    const val *kind = val_dict_get(st_file_metadata(f), "optimizer");
    const val *st = val_dict_get(st_file_metadata(f), "step");
    if (!val_is(kind, VAL_STR) || !val_is(st, VAL_STR))
        return nt_err_set(err, NT_EPARSE, "metadata lacks \"optimizer\" or \"step\"");
    if (strcmp(kind->u.str.s, tr_optim_kind_name(o->hp.kind)) != 0)
        return nt_err_set(err, NT_EINVAL, "state of optimizer %s, not %s", kind->u.str.s,
                          tr_optim_kind_name(o->hp.kind));
    char *end;
    long long v = strtoll(st->u.str.s, &end, 10);
    if (*end || end == st->u.str.s || v < 0)
        return nt_err_set(err, NT_EPARSE, "metadata \"step\" is not a step count: '%s'",
                          st->u.str.s);
    *step = v;
    return NT_OK;
}

/* Finds and checks every array (copy == false), or copies them in (copy == true). */
static nt_status visit(tr_optim *o, const st_file *f, bool copy, nt_err *err) {
    for (size_t i = 0; i < o->n; i++) {
        tr_field fl[6];
        size_t k = state_fields(o, i, fl);
        for (size_t j = 0; j < k; j++) {
            char *key = field_key(o, i, fl[j].field);
            const st_tensor *t = st_file_find(f, key);
            nt_status rc = NT_OK;
            if (!t)
                rc = nt_err_set(err, NT_ENOTFOUND, "tensor '%s' missing", key);
            else if (t->dtype != fl[j].dtype || t->numel != fl[j].numel)
                rc = nt_err_set(err, NT_EINVAL, "tensor '%s': %s[%" PRIu64 "], expected %s[%zu]",
                                key, st_dtype_name(t->dtype), t->numel,
                                st_dtype_name(fl[j].dtype), fl[j].numel);
            else if (copy && t->nbytes)
                memcpy(fl[j].data, t->data, t->nbytes);
            free(key);
            if (rc) return rc;
        }
    }
    return NT_OK;
}

nt_status tr_optim_load(tr_optim *o, const char *path, nt_err *err) {
    st_file *f;
    nt_status rc = st_file_open(path, &f, err);
    if (rc) return rc;
    int64_t step = 0;
    rc = parse_meta(o, f, &step, err);
    if (!rc) rc = visit(o, f, false, err);
    if (!rc) {
        visit(o, f, true, err);
        o->step = step;
        if (o->hp.kind == TR_OPT_ADAMW_8BIT) { /* the file's maps replace ours: new tables */
            tr_qtable_build(&o->qt1, o->qmap1);
            tr_qtable_build(&o->qt2, o->qmap2);
        }
    } else {
        nt_err_prefix(err, "%s: ", path);
    }
    st_file_close(f);
    return rc;
}
