#include "export/hf_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/mem.h"
#include "formats/json.h"
#include "tensor/convert.h"

static const char *dtype_word(st_dtype d) { return d == ST_BF16 ? "bfloat16" : "float32"; }

static void set_dtype(val *d, st_dtype dtype, bool always) {
    if (!val_is(d, VAL_DICT)) return;
    bool had = val_dict_get(d, "dtype") || val_dict_get(d, "torch_dtype");
    val_dict_del(d, "torch_dtype");
    if (always || had) val_dict_set(d, "dtype", val_str(dtype_word(dtype)));
}

val *ex_model_config(const val *config, st_dtype dtype) {
    val *c = val_copy(config);
    set_dtype(c, dtype, true);
    set_dtype(val_dict_get(c, "text_config"), dtype, false);
    set_dtype(val_dict_get(c, "vision_config"), dtype, false);
    return c;
}

static const val *find_id(const val *config, const char *key) {
    const val *v = val_dict_get(config, key);
    if (v && !val_is(v, VAL_NULL)) return v;
    const val *text = val_dict_get(config, "text_config");
    v = val_is(text, VAL_DICT) ? val_dict_get(text, key) : NULL;
    return v && !val_is(v, VAL_NULL) ? v : NULL;
}

val *ex_generation_config(const val *config) {
    val *g = val_dict();
    val_dict_set(g, "_from_model_config", val_bool(true));
    static const char *ids[] = {"bos_token_id", "eos_token_id", "pad_token_id"};
    for (int i = 0; i < 3; i++) {
        const val *v = find_id(config, ids[i]);
        if (v) val_dict_set(g, ids[i], val_copy(v));
    }
    const val *tv = val_dict_get(config, "transformers_version");
    if (val_is(tv, VAL_STR)) val_dict_set(g, "transformers_version", val_copy(tv));
    return g;
}

static nt_status write_json(const char *dir, const char *file, val *v, nt_err *err) {
    json_opts o = {.indent = 2, .ensure_ascii = true, .sort_keys = true};
    nt_buf b = {0};
    json_dump(&b, v, &o);
    nt_buf_putc(&b, '\n');
    val_unref(v);
    char *path = nt_path_join(dir, file);
    nt_status st = nt_write_file_atomic(path, b.data, b.len, err);
    free(path);
    nt_buf_free(&b);
    return st;
}

/* BF16 on the fly: the writer asks for byte ranges; chunks are whole elements. */
static nt_status fill_bf16(void *ctx, uint64_t offset, void *buf, size_t n, nt_err *err) {
    const float *src = ctx;
    if (offset % 2 || n % 2) return nt_err_set(err, NT_EINVAL, "unaligned bf16 chunk");
    tn_f32_to_bf16_row(src + offset / 2, buf, n / 2);
    return NT_OK;
}

nt_status ex_save_model(const char *dir, const val *config, const ex_tensor *t, size_t n,
                        const ex_save_opts *o, nt_err *err) {
    if (o->dtype != ST_F32 && o->dtype != ST_BF16)
        return nt_err_set(err, NT_EINVAL, "model dtype must be F32 or BF16, not %s",
                          st_dtype_name(o->dtype));
    if (!val_is(config, VAL_DICT)) return nt_err_set(err, NT_EINVAL, "config is not a dict");
    nt_status st = nt_mkdirs(dir, err);
    st_writer *w = st_writer_new();
    for (size_t i = 0; i < n && !st; i++) {
        if (!t[i].data) {
            st = nt_err_set(err, NT_EINVAL, "tensor '%s': no data", t[i].name);
        } else if (o->dtype == ST_F32) {
            st = st_writer_add(w, t[i].name, ST_F32, t[i].ndim, t[i].shape, t[i].data, err);
        } else {
            st = st_writer_add_fill(w, t[i].name, ST_BF16, t[i].ndim, t[i].shape, fill_bf16,
                                    (void *)t[i].data, err);
        }
    }
    uint64_t limit = o->max_shard_bytes ? o->max_shard_bytes : EX_DEFAULT_SHARD_BYTES;
    /* config files first: a folder whose weights are complete is then a complete model. */
    if (!st) st = write_json(dir, "config.json", ex_model_config(config, o->dtype), err);
    if (!st) st = write_json(dir, "generation_config.json", ex_generation_config(config), err);
    if (!st) st = st_writer_save_sharded(w, dir, limit, err);
    st_writer_free(w);
    if (st) nt_err_prefix(err, "%s: ", dir);
    return st;
}

double ex_lora_scale(int64_t alpha, int64_t r, bool rslora) {
    return rslora ? (double)alpha / sqrt((double)r) : (double)alpha / (double)r;
}

void ex_merge_lora(float *W, int64_t E, int64_t out, int64_t in, const float *A,
                   const float *B, int64_t r, double s) {
    /* ΔW = s · (B_e @ A_e) in f32 (torch's order: product, then scale), added once per
     * element, so W' = round(W + ΔW) is rounded once as PEFT's unsafe merge does. */
    float *delta = nt_xmalloc((size_t)(in ? in : 1) * sizeof *delta);
    float sf = (float)s;
    for (int64_t e = 0; e < E; e++) {
        float *We = W + e * out * in;
        for (int64_t o = 0; o < out; o++) {
            memset(delta, 0, (size_t)in * sizeof *delta);
            for (int64_t k = 0; k < r; k++) {
                float b = B[o * r * E + k * E + e];
                const float *a = A + (e * r + k) * in;
                for (int64_t i = 0; i < in; i++) delta[i] += b * a[i];
            }
            float *row = We + o * in;
            for (int64_t i = 0; i < in; i++) row[i] += delta[i] * sf;
        }
    }
    free(delta);
}
