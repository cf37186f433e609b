/* Validation of a checkpoint against the tensors its config implies (model/m4_names.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "model/m4_load_internal.h"
#include "tensor/convert.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void m4w_scale_name(const char *weight, char *buf, size_t cap) {
    snprintf(buf, cap, "%s_scale_inv", weight);
}

size_t m4w_scale_count(const st_tensor *t) {
    return t->ndim == 3 ? (size_t)t->shape[0] : 1;
}

nt_status m4w_read_scales(const m4_weights *w, const st_tensor *t, float *dst, nt_err *err) {
    char name[512];
    m4w_scale_name(t->name, name, sizeof name);
    const st_tensor *s = st_model_find(w->model, name);
    tn_dtype dt;
    if (!s) return nt_err_set(err, NT_ENOTFOUND, "tensor '%s': F8_E4M3 without '%s'", t->name, name);
    if (!m4w_tn_dtype(s->dtype, &dt) || dt == TN_F8_E4M3)
        return nt_err_set(err, NT_EINVAL, "tensor '%s': scale dtype %s (expected F32, BF16 or F16)",
                          name, st_dtype_name(s->dtype));
    size_t n = m4w_scale_count(t);
    if (s->numel != n)
        return nt_err_set(err, NT_EINVAL, "tensor '%s': %llu scales for '%s' (expected %zu)", name,
                          (unsigned long long)s->numel, t->name, n);
    /* Scales are tiny; copy so an unaligned scale tensor is fine. */
    void *tmp = nt_xmalloc(s->nbytes ? s->nbytes : 1);
    memcpy(tmp, s->data, s->nbytes);
    nt_status st = tn_to_f32(dt, tmp, dst, n, err);
    free(tmp);
    for (size_t i = 0; !st && i < n; i++)
        if (!isfinite(dst[i]) || dst[i] <= 0)
            st = nt_err_set(err, NT_EINVAL, "tensor '%s': scale %zu is %g (must be finite > 0)",
                            name, i, (double)dst[i]);
    return st;
}

typedef struct {
    m4_weights *w;
    nt_err *err;
    nt_status st;
    const st_tensor **seen; /* tensors accounted for (expected weights and their scales) */
    size_t nseen, capseen;
} check_ctx;

static void mark(check_ctx *c, const st_tensor *t) {
    if (c->nseen == c->capseen) {
        c->capseen = c->capseen ? 2 * c->capseen : 256;
        c->seen = nt_xrealloc(c->seen, c->capseen * sizeof *c->seen);
    }
    c->seen[c->nseen++] = t;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

static nt_status check_fp8(check_ctx *c, const st_tensor *t) {
    size_t n = m4w_scale_count(t);
    float *scales = nt_xmalloc(n * sizeof *scales);
    nt_status st = m4w_read_scales(c->w, t, scales, c->err);
    free(scales);
    if (st) return st;
    char name[512];
    m4w_scale_name(t->name, name, sizeof name);
    mark(c, st_model_find(c->w->model, name));
    c->w->stats.fp8++;
    c->w->stats.scales++;
    return NT_OK;
}

static nt_status check_one(check_ctx *c, const m4_tensor_spec *s) {
    const st_tensor *t = st_model_find(c->w->model, s->name);
    char want[96], got[96];
    shape_str(want, sizeof want, s->ndim, s->shape);
    if (!t)
        return nt_err_set(c->err, NT_ENOTFOUND, "tensor '%s' %s missing (%s layout)", s->name,
                          want, m4_layout_name(c->w->layout));
    bool same = t->ndim == s->ndim;
    for (int i = 0; same && i < s->ndim; i++) same = t->shape[i] == s->shape[i];
    if (!same) {
        shape_str(got, sizeof got, t->ndim, t->shape);
        return nt_err_set(c->err, NT_EINVAL, "tensor '%s': shape %s, config.json implies %s",
                          s->name, got, want);
    }
    tn_dtype dt;
    if (!m4w_tn_dtype(t->dtype, &dt))
        return nt_err_set(c->err, NT_EUNSUPPORTED,
                          "tensor '%s': dtype %s (expected F32, BF16, F16 or F8_E4M3)", s->name,
                          st_dtype_name(t->dtype));
    mark(c, t);
    c->w->stats.text++;
    return dt == TN_F8_E4M3 ? check_fp8(c, t) : NT_OK;
}

static void on_expected(const m4_tensor_spec *s, void *ud) {
    check_ctx *c = ud;
    if (c->st || s->group == M4_GROUP_VISION || s->group == M4_GROUP_PROJECTOR) return;
    c->st = check_one(c, s);
}

static int cmp_ptr(const void *a, const void *b) {
    const void *x = *(const void *const *)a, *y = *(const void *const *)b;
    return x < y ? -1 : x > y;
}

/* Every checkpoint tensor is expected, a used scale, or one of the skipped kinds. */
static nt_status check_extra(check_ctx *c) {
    qsort(c->seen, c->nseen, sizeof *c->seen, cmp_ptr);
    const st_model *m = c->w->model;
    for (size_t i = 0; i < st_model_count(m); i++) {
        const st_tensor *t = st_model_tensor_sorted(m, i);
        if (bsearch(&t, c->seen, c->nseen, sizeof *c->seen, cmp_ptr)) continue;
        m4_group g = m4_group_of(t->name);
        if (g == M4_GROUP_VISION || g == M4_GROUP_PROJECTOR) {
            c->w->stats.skipped_vision++;
        } else if (ends_with(t->name, "activation_scale")) {
            c->w->stats.ignored_activation_scales++;
        } else if (g == M4_GROUP_FP8_SCALE) {
            return nt_err_set(c->err, NT_EINVAL,
                              "unexpected tensor '%s': a scale whose weight is missing or not "
                              "F8_E4M3", t->name);
        } else {
            return nt_err_set(c->err, NT_EINVAL,
                              "unexpected tensor '%s' (not part of a %s checkpoint of this "
                              "config.json)", t->name, m4_layout_name(c->w->layout));
        }
    }
    return NT_OK;
}

nt_status m4w_validate(m4_weights *w, nt_err *err) {
    check_ctx c = {.w = w, .err = err};
    memset(&w->stats, 0, sizeof w->stats);
    m4_enum_tensors(&w->cfg, w->layout, false, on_expected, &c);
    if (!c.st) c.st = check_extra(&c);
    free(c.seen);
    return c.st;
}
