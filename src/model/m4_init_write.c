/* m4_init_write: streams seeded random tensors into safetensors files. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "model/m4_init.h"
#include "model/m4_names.h"
#include "tensor/convert.h"

typedef struct {
    char *name;
    int ndim;
    int64_t shape[4];
    bool ones;      /* RMSNorm weight */
    double std;
    uint64_t seed;
    tn_dtype dtype;
    m4_rng rng;
    uint64_t next;  /* byte offset the next fill call must start at */
} init_tensor;

typedef struct {
    init_tensor *t;
    size_t n;
    double std;
    uint64_t seed;
    tn_dtype dtype;
} init_plan;

static void plan_cb(const m4_tensor_spec *s, void *ud) {
    init_plan *p = ud;
    p->t = nt_xrealloc(p->t, (p->n + 1) * sizeof *p->t);
    init_tensor *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    t->name = nt_xstrdup(s->name);
    t->ndim = s->ndim;
    memcpy(t->shape, s->shape, sizeof t->shape);
    t->ones = s->group == M4_GROUP_NORM;
    t->std = p->std;
    t->seed = p->seed;
    t->dtype = p->dtype;
}

static void gen_f32(init_tensor *t, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = t->ones ? 1.0f : (float)(t->std * m4_rng_normal(&t->rng));
}

/* st_fill_fn: the writer asks for consecutive, element-aligned byte ranges from offset 0. */
static nt_status fill(void *ctx, uint64_t offset, void *buf, size_t n, nt_err *err) {
    init_tensor *t = ctx;
    size_t es = t->dtype == TN_BF16 ? 2 : 4;
    if (offset == 0) {
        m4_rng_seed(&t->rng, t->seed, t->name);
        t->next = 0;
    }
    if (offset != t->next || offset % es || n % es)
        return nt_err_set(err, NT_EINVAL, "tensor '%s': out-of-order fill at byte %llu", t->name,
                          (unsigned long long)offset);
    if (es == 4) {
        gen_f32(t, buf, n / 4);
    } else {
        float tmp[1024];
        uint16_t *out = buf;
        for (size_t i = 0; i < n / 2; i += 1024) {
            size_t k = n / 2 - i < 1024 ? n / 2 - i : 1024;
            gen_f32(t, tmp, k);
            tn_f32_to_bf16_row(tmp, out + i, k);
        }
    }
    t->next += n;
    return NT_OK;
}

static nt_status parse_config(const char *json, m4_config *cfg, nt_err *err) {
    val *v = NULL;
    nt_status st = json_parse(json, strlen(json), &v, err);
    if (!st) st = m4_config_from_val(v, cfg, err);
    val_unref(v);
    if (!st && cfg->has_vision)
        st = nt_err_set(err, NT_EUNSUPPORTED,
                        "init-model writes text-only Mistral4ForCausalLM checkpoints; this "
                        "config has a vision_config");
    return st;
}

nt_status m4_init_write(const char *config_json, const char *dir, const m4_init_opts *o,
                        nt_err *err) {
    m4_config cfg;
    if (o->dtype != TN_F32 && o->dtype != TN_BF16)
        return nt_err_set(err, NT_EINVAL, "dtype %s: init-model writes f32 or bf16",
                          tn_dtype_name(o->dtype));
    nt_status st = parse_config(config_json, &cfg, err);
    if (st) return nt_err_prefix(err, "config.json: ");
    if ((st = nt_mkdirs(dir, err))) return st;
    init_plan p = {.std = cfg.text.initializer_range, .seed = o->seed, .dtype = o->dtype};
    m4_enum_tensors(&cfg, M4_NAMES_TEXT, false, plan_cb, &p);
    st_writer *w = st_writer_new();
    st_dtype sd = o->dtype == TN_BF16 ? ST_BF16 : ST_F32;
    for (size_t i = 0; !st && i < p.n; i++)
        st = st_writer_add_fill(w, p.t[i].name, sd, p.t[i].ndim, p.t[i].shape, fill, &p.t[i], err);
    uint64_t limit = o->max_shard_bytes ? o->max_shard_bytes : M4_INIT_DEFAULT_SHARD_BYTES;
    if (!st) st = st_writer_save_sharded(w, dir, limit, err);
    if (!st) { /* last: a folder with config.json has its weights */
        char *cp = nt_path_join(dir, "config.json");
        st = nt_write_file_atomic(cp, config_json, strlen(config_json), err);
        free(cp);
    }
    st_writer_free(w);
    for (size_t i = 0; i < p.n; i++) free(p.t[i].name);
    free(p.t);
    return st;
}
