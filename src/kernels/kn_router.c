/* MoE router: softmax over all experts, group-limited top-k (DeepSeek-V3 style: a group scores
 * the sum of its two best experts, the topk_group best groups stay eligible), selected
 * weights renormalized and scaled. Ties go to the lower index (deterministic). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

#define KN_ROUTER_MAX_E 4096

static void softmax_row(const float *z, float *p, int64_t E) {
    float m = z[0];
    for (int64_t e = 1; e < E; e++) m = z[e] > m ? z[e] : m;
    double s = 0;
    for (int64_t e = 0; e < E; e++) s += exp((double)(z[e] - m));
    for (int64_t e = 0; e < E; e++) p[e] = (float)(exp((double)(z[e] - m)) / s);
}

/* Index of the largest v[i] with ok[i], lower index on ties; -1 if none. */
static int64_t argmax_ok(const float *v, const unsigned char *ok, int64_t n) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++)
        if (ok[i] && (best < 0 || v[i] > v[best])) best = i;
    return best;
}

/* Marks in ok[E] the experts of the topk_group best groups. */
static void eligible_groups(const float *p, const kn_router_params *rp, unsigned char *ok) {
    int64_t G = rp->n_group, per = rp->n_experts / G;
    float gs[KN_ROUTER_MAX_E];
    unsigned char gok[KN_ROUTER_MAX_E];
    for (int64_t g = 0; g < G; g++) {
        float a = -INFINITY, b = -INFINITY; /* two largest */
        for (int64_t j = 0; j < per; j++) {
            float v = p[g * per + j];
            if (v > a) { b = a; a = v; } else if (v > b) b = v;
        }
        gs[g] = per >= 2 ? a + b : a;
        gok[g] = 1;
    }
    memset(ok, 0, (size_t)rp->n_experts);
    for (int64_t r = 0; r < rp->topk_group && r < G; r++) {
        int64_t g = argmax_ok(gs, gok, G);
        gok[g] = 0;
        memset(ok + g * per, 1, (size_t)per);
    }
}

static void route_row(const float *z, const kn_router_params *rp, float *p, int32_t *idx,
                      float *w) {
    int64_t E = rp->n_experts, k = rp->top_k;
    unsigned char ok[KN_ROUTER_MAX_E];
    softmax_row(z, p, E);
    if (rp->n_group > 1) eligible_groups(p, rp, ok);
    else memset(ok, 1, (size_t)E);
    double sum = 0;
    for (int64_t j = 0; j < k; j++) {
        int64_t e = argmax_ok(p, ok, E);
        ok[e] = 0;
        idx[j] = (int32_t)e;
        w[j] = p[e];
        sum += p[e];
    }
    for (int64_t j = 0; j < k; j++) {
        float v = rp->norm_topk_prob ? (float)(w[j] / (sum + 1e-20)) : w[j];
        w[j] = v * rp->routed_scaling_factor;
    }
}

void kn_router_fwd(const float *z, int64_t n, const kn_router_params *p, float *probs,
                   int32_t *idx, float *w) {
    if (p->n_experts > KN_ROUTER_MAX_E) abort(); /* the model checks this at setup */
#pragma omp parallel for schedule(static) if (n * p->n_experts > 65536)
    for (int64_t t = 0; t < n; t++)
        route_row(z + t * p->n_experts, p, probs + t * p->n_experts, idx + t * p->top_k,
                  w + t * p->top_k);
}

/* Normalized: w = s·softmax over the selected logits ⇒ dz_i = w_i·(dw_i − Σ_j q_j dw_j) on the
 * selection (q = w/s), 0 elsewhere. Unnormalized: w_i = s·π_i with π the full softmax ⇒
 * dz_m = π_m·(s·dw_m·[m selected] − Σ_j w_j dw_j) for every expert m. */
static void route_row_bwd(float *dz, const float *dw, const float *p, const int32_t *idx,
                          const float *w, const kn_router_params *rp) {
    int64_t k = rp->top_k;
    double dot = 0;
    for (int64_t j = 0; j < k; j++) dot += (double)w[j] * dw[j];
    if (rp->norm_topk_prob) {
        double s = rp->routed_scaling_factor;
        for (int64_t j = 0; j < k; j++) dz[idx[j]] += (float)(w[j] * (dw[j] - dot / s));
        return;
    }
    for (int64_t m = 0; m < rp->n_experts; m++) dz[m] -= (float)(p[m] * dot);
    for (int64_t j = 0; j < k; j++)
        dz[idx[j]] += p[idx[j]] * rp->routed_scaling_factor * dw[j];
}

void kn_router_bwd(float *dz, const float *dw, const float *probs, const int32_t *idx,
                   const float *w, int64_t n, const kn_router_params *p) {
#pragma omp parallel for schedule(static) if (n * p->n_experts > 65536)
    for (int64_t t = 0; t < n; t++)
        route_row_bwd(dz + t * p->n_experts, dw + t * p->top_k, probs + t * p->n_experts,
                      idx + t * p->top_k, w + t * p->top_k, p);
}
