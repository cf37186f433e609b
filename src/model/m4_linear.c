/* The one call site of every linear layer: y = x·Wᵀ and its backward, with W either f32 in the
 * parameter allocation or compact (bf16 / NF4). A compact weight goes to the GEMM as it is
 * stored (kn_wsrc): the GEMM dequantizes the rows and columns it needs straight into its
 * packed panels, so no f32 copy of W exists and these functions use no scratch arena (they
 * may run on several threads at once). Compact weights are frozen: no weight gradient. */
#include "model/m4_internal.h"

m4_wt m4_weight(const m4_model *m, int64_t l, size_t field_off) {
    int32_t idx = m->lidx[(size_t)l * M4_LAYER_FIELDS + field_off / sizeof(float *)];
    const float *f = *(float *const *)((const char *)&m->p.layers[l] + field_off);
    return (m4_wt){.f = f, .s = idx >= 0 && !f ? &m->store[idx] : NULL, .row0 = 0, .lrow = 0,
                   .idx = idx};
}

m4_wt m4_wt_rows(m4_wt w, int64_t row0, int64_t K) {
    if (w.f) w.f += row0 * K;
    else w.row0 += row0;
    w.lrow += row0;
    return w;
}

/* The compact store of w as the GEMM's weight source: element (r, c) of W[·, K] is flat
 * element (row0 + r)·K + c of the tensor (an expert slice of a fused tensor included). */
static kn_wsrc wsrc_of(m4_wt w, int64_t K) {
    const m4_store *s = w.s;
    kn_wsrc r = {.off = w.row0 * K, .ld = K};
    if (s->dtype == TN_BF16) {
        r.kind = KN_W_BF16;
        r.bf16 = s->bf16;
        return r;
    }
    const tn_nf4 *q = &s->nf4;
    r.kind = KN_W_NF4;
    r.packed = q->packed;
    r.blocksize = (int64_t)q->blocksize;
    r.quant_map = q->quant_map;
    r.absmax = q->double_quant ? NULL : q->absmax;
    r.absmax_q = q->absmax_q;
    r.nested_absmax = q->nested_absmax;
    r.nested_quant_map = q->nested_quant_map;
    r.nested_blocksize = (int64_t)q->nested_blocksize;
    r.nested_offset = q->nested_offset;
    return r;
}

static void base_fwd(float *y, int64_t ldy, const float *x, int64_t ldx, m4_wt w, int64_t M,
                     int64_t N, int64_t K, bool accumulate) {
    if (w.f) {
        kn_linear_fwd_ld(y, ldy, x, ldx, w.f, K, M, N, K, accumulate);
        return;
    }
    kn_wsrc src = wsrc_of(w, K);
    kn_sgemm_w(KN_N, KN_T, M, N, K, 1.0f, x, ldx, &src, accumulate ? 1.0f : 0.0f, y, ldy);
}

static void base_bwd(float *dx, int64_t lddx, float *dw, const float *dy, int64_t lddy,
                     const float *x, int64_t ldx, m4_wt w, int64_t M, int64_t N, int64_t K) {
    if (!dx && !dw) return;
    if (w.f) {
        kn_linear_bwd_ld(dx, lddx, dw, K, dy, lddy, x, ldx, w.f, K, M, N, K);
        return;
    }
    if (!dx) return; /* compact means frozen: dw is always NULL here */
    kn_wsrc src = wsrc_of(w, K); /* dx[M, K] += dy[M, N] · W[N, K] */
    kn_sgemm_w(KN_N, KN_N, M, K, N, 1.0f, dy, lddy, &src, 1.0f, dx, lddx);
}

void m4_lin_fwd(m4_model *m, float *y, int64_t ldy, const float *x, int64_t ldx, m4_wt w,
                int64_t M, int64_t N, int64_t K, bool accumulate) {
    base_fwd(y, ldy, x, ldx, w, M, N, K, accumulate);
    if (m->lora) m4_lora_fwd(m, y, ldy, x, ldx, w, M, N, K);
}

void m4_lin_bwd(m4_model *m, float *dx, int64_t lddx, float *dw, const float *dy, int64_t lddy,
                const float *x, int64_t ldx, m4_wt w, int64_t M, int64_t N, int64_t K) {
    if (m->lora) m4_lora_bwd(m, dx, lddx, dy, lddy, x, ldx, w, M, N, K);
    base_bwd(dx, lddx, dw, dy, lddy, x, ldx, w, M, N, K);
}
