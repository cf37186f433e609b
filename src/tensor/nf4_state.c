/* X.weight.quant_state.bitsandbytes__nf4: bnb's QuantState.as_dict(packed=True) non-tensor
 * items serialized by Python json.dumps (spec §3.6): default separators, this key order,
 * nested_offset as repr() of the f32 offset widened to double (what tensor.item() gives). */
#include "tensor/nf4.h"

#include "base/mem.h"
#include "tensor/pyrepr.h"

char *tn_nf4_quant_state_json(const tn_nf4 *qt, size_t *len) {
    nt_buf b = {0};
    nt_buf_printf(&b, "{\"quant_type\": \"nf4\", \"blocksize\": %zu, \"dtype\": \"%s\", \"shape\": [",
                  qt->blocksize, tn_dtype_torch_name(qt->dtype));
    for (int d = 0; d < qt->ndim; d++)
        nt_buf_printf(&b, "%s%lld", d ? ", " : "", (long long)qt->shape[d]);
    nt_buf_puts(&b, "]");
    if (qt->double_quant) {
        char off[32];
        tn_py_float_repr(off, (double)qt->nested_offset);
        nt_buf_printf(&b, ", \"nested_blocksize\": %zu, \"nested_dtype\": \"float32\", "
                      "\"nested_offset\": %s", qt->nested_blocksize, off);
    }
    nt_buf_puts(&b, "}");
    return nt_buf_take(&b, len);
}
