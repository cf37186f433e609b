/* X.weight.quant_state.bitsandbytes__nf4 written and read. Writing: bnb's QuantState.as_dict(packed=True) non-tensor
 * items serialized by Python json.dumps (spec §3.6): default separators, this key order,
 * nested_offset as repr() of the f32 offset widened to double (what tensor.item() gives). */
#include "tensor/nf4.h"

#include <string.h>

#include "base/mem.h"
#include "formats/json.h"

char *tn_nf4_quant_state_json(const tn_nf4 *qt, size_t *len) {
    nt_buf b = {0};
    nt_buf_printf(&b, "{\"quant_type\": \"nf4\", \"blocksize\": %zu, \"dtype\": \"%s\", \"shape\": [",
                  qt->blocksize, tn_dtype_torch_name(qt->dtype));
    for (int d = 0; d < qt->ndim; d++)
        nt_buf_printf(&b, "%s%lld", d ? ", " : "", (long long)qt->shape[d]);
    nt_buf_puts(&b, "]");
    if (qt->double_quant) {
        char off[32];
        json_float_repr(off, (double)qt->nested_offset);
        nt_buf_printf(&b, ", \"nested_blocksize\": %zu, \"nested_dtype\": \"float32\", "
                      "\"nested_offset\": %s", qt->nested_blocksize, off);
    }
    nt_buf_puts(&b, "}");
    return nt_buf_take(&b, len);
}

static nt_status get_int(const val *d, const char *key, int64_t lo, int64_t hi, int64_t *out,
                         nt_err *err) {
    const val *v = val_dict_get(d, key);
    if (!val_is(v, VAL_INT) || v->u.i < lo || v->u.i > hi)
        return nt_err_set(err, NT_EINVAL, "quant_state: '%s' must be an integer in %lld..%lld",
                          key, (long long)lo, (long long)hi);
    *out = v->u.i;
    return NT_OK;
}

static nt_status parse_shape(const val *d, tn_nf4 *qt, nt_err *err) {
    const val *shape = val_dict_get(d, "shape");
    if (!val_is(shape, VAL_LIST) || val_list_len(shape) < 1 ||
        val_list_len(shape) > TN_NF4_MAX_DIMS)
        return nt_err_set(err, NT_EINVAL, "quant_state: 'shape' must be a list of 1..%d ints",
                          TN_NF4_MAX_DIMS);
    qt->ndim = (int)val_list_len(shape);
    qt->n = 1;
    for (int i = 0; i < qt->ndim; i++) {
        const val *e = val_list_get(shape, (size_t)i);
        if (!val_is(e, VAL_INT) || e->u.i <= 0 || (uint64_t)e->u.i > ((uint64_t)1 << 40) / qt->n)
            return nt_err_set(err, NT_EINVAL, "quant_state: 'shape'[%d] is not a valid size", i);
        qt->shape[i] = e->u.i;
        qt->n *= (size_t)e->u.i;
    }
    return NT_OK;
}

static nt_status parse_dtype(const val *d, tn_nf4 *qt, nt_err *err) {
    const val *dt = val_dict_get(d, "dtype");
    const char *s = val_is(dt, VAL_STR) ? dt->u.str.s : "";
    if (strcmp(s, "bfloat16") == 0) qt->dtype = TN_BF16;
    else if (strcmp(s, "float16") == 0) qt->dtype = TN_F16;
    else if (strcmp(s, "float32") == 0) qt->dtype = TN_F32;
    else return nt_err_set(err, NT_EINVAL, "quant_state: 'dtype' must be bfloat16, float16 or float32");
    return NT_OK;
}

static nt_status parse_nested(const val *d, tn_nf4 *qt, nt_err *err) {
    const val *nb = val_dict_get(d, "nested_blocksize"), *ndt = val_dict_get(d, "nested_dtype");
    const val *off = val_dict_get(d, "nested_offset");
    if (!nb && !ndt && !off) return NT_OK;
    int64_t v;
    nt_status st = get_int(d, "nested_blocksize", 1, 1 << 20, &v, err);
    if (st) return st;
    if (!val_is(ndt, VAL_STR) || strcmp(ndt->u.str.s, "float32") != 0)
        return nt_err_set(err, NT_EUNSUPPORTED, "quant_state: 'nested_dtype' must be \"float32\"");
    if (!val_is_number(off))
        return nt_err_set(err, NT_EINVAL, "quant_state: 'nested_offset' must be a number");
    qt->double_quant = true;
    qt->nested_blocksize = (size_t)v;
    qt->nnested = (qt->nblocks + qt->nested_blocksize - 1) / qt->nested_blocksize;
    qt->nested_offset = (float)val_to_double(off);
    return NT_OK;
}

nt_status tn_nf4_parse_quant_state(const char *json, size_t len, tn_nf4 *qt, nt_err *err) {
    memset(qt, 0, sizeof *qt);
    val *d = NULL;
    nt_status st = json_parse(json, len, &d, err);
    if (st) return nt_err_prefix(err, "quant_state: ");
    const val *qtype = val_is(d, VAL_DICT) ? val_dict_get(d, "quant_type") : NULL;
    int64_t bs = 0;
    if (!val_is(d, VAL_DICT)) {
        st = nt_err_set(err, NT_EINVAL, "quant_state: not a JSON object");
    } else if (!val_is(qtype, VAL_STR) || strcmp(qtype->u.str.s, "nf4") != 0) {
        st = nt_err_set(err, val_is(qtype, VAL_STR) ? NT_EUNSUPPORTED : NT_EINVAL,
                        "quant_state: 'quant_type' is %s%s%s, only \"nf4\" is supported",
                        val_is(qtype, VAL_STR) ? "\"" : "",
                        val_is(qtype, VAL_STR) ? qtype->u.str.s : "missing",
                        val_is(qtype, VAL_STR) ? "\"" : "");
    } else if (!(st = get_int(d, "blocksize", 64, 4096, &bs, err)) && (bs & (bs - 1))) {
        st = nt_err_set(err, NT_EINVAL, "quant_state: 'blocksize' %lld is not a power of two",
                        (long long)bs);
    }
    if (!st) st = parse_dtype(d, qt, err);
    if (!st) st = parse_shape(d, qt, err);
    if (!st) {
        qt->blocksize = (size_t)bs;
        qt->nblocks = (qt->n + qt->blocksize - 1) / qt->blocksize;
        st = parse_nested(d, qt, err);
    }
    val_unref(d);
    if (st) memset(qt, 0, sizeof *qt);
    return st;
}
