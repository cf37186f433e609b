/* Attention throughput: kn_attention_fwd and kn_attention_bwd on the benchmark model's shape
 * (8 heads, qk and v head dims 64, one causal sequence) at the given lengths, all threads.
 * GFLOP/s counts the causal half of the products: forward 2 (Q·Kᵀ, P·V), backward 5 (the
 * recomputed Q·Kᵀ, dO·Vᵀ, dS·K, dSᵀ·Q, Pᵀ·dO), each 2·T·T/2·d flops per head. Each figure is
 * the median of REPS runs (and the fastest). ATTN_CLOCK=cpu measures process CPU time divided by the thread
 * count instead of wall time (exact with OMP_NUM_THREADS=1: a run descheduled by other load
 * on a shared machine is not charged for the wait).
 * Usage: build/release/bench/attn_bench [T ...]   (default 512 4096); ATTN_REPS=5, ATTN_QT=rows,
 * ATTN_MASKS=1 */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "bench_util.h"

enum { H = 8, D = 64 };

static double now(void) {
    const char *clk = getenv("ATTN_CLOCK");
    bool cpu = clk && strcmp(clk, "cpu") == 0;
    return bn_clock(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC) / (cpu ? omp_get_max_threads() : 1);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *randf(int64_t n, uint32_t *st) {
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        *st = *st * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)(*st >> 8) % 20001) * 1e-4f;
    }
    return x;
}

static void run(int64_t T, int reps) {
    uint32_t st = 1;
    int64_t n = T * H * D;
    float *q = randf(n, &st), *k = randf(n, &st), *v = randf(n, &st), *g = randf(n, &st);
    float *o = calloc((size_t)n, sizeof(float)), *lse = calloc((size_t)(H * T), sizeof(float));
    float *dq = calloc((size_t)n, sizeof(float)), *dk = calloc((size_t)n, sizeof(float));
    float *dv = calloc((size_t)n, sizeof(float)), *qs = malloc((size_t)T * sizeof(float));
    for (int64_t t = 0; t < T; t++) qs[t] = 0.125f;
    const char *qt = getenv("ATTN_QT"); /* query tile rows; unset: the kernel's choice */
    kn_attn_shape s = {1, T, H, D, D, H * D, D, H * D, D, H * D, D, H * D, D, qt ? atoll(qt) : 0};
    float *scr = calloc((size_t)omp_get_max_threads() * kn_attention_scratch(&s), sizeof(float));
    /* ATTN_MASKS=1: segment ids and a keep mask, all one sample, no padding, as the trainer
     * always passes them (position_ids, attention_mask): the same visible keys as causal */
    const char *mk = getenv("ATTN_MASKS");
    int32_t *seg = mk && atoi(mk) ? calloc((size_t)T, sizeof(int32_t)) : NULL;
    uint8_t *keep = seg ? malloc((size_t)T) : NULL;
    if (keep) memset(keep, 1, (size_t)T);
    double tf[64], tb[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        kn_attention_fwd(o, lse, q, k, v, qs, seg, keep, &s, scr);
        double t1 = now();
        kn_attention_bwd(dq, dk, dv, g, q, k, v, o, lse, qs, seg, keep, &s, scr);
        tf[r] = t1 - t0, tb[r] = now() - t1;
    }
    qsort(tf, (size_t)reps, sizeof(double), cmp_d);
    qsort(tb, (size_t)reps, sizeof(double), cmp_d);
    double unit = 2.0 * (double)T * (double)T / 2 * D * H; /* one causal product, all heads */
    printf("T=%-5lld fwd %8.2f ms %6.1f GFLOP/s (min %.2f)   bwd %8.2f ms %6.1f GFLOP/s (min %.2f)"
           "   threads %d\n",
           (long long)T, tf[reps / 2] * 1e3, 2 * unit / tf[reps / 2] * 1e-9, tf[0] * 1e3,
           tb[reps / 2] * 1e3, 5 * unit / tb[reps / 2] * 1e-9, tb[0] * 1e3, omp_get_max_threads());
    free(q), free(k), free(v), free(g), free(o), free(lse), free(dq), free(dk), free(dv), free(qs);
    free(scr), free(seg), free(keep);
}

int main(int argc, char **argv) {
    const char *env = getenv("ATTN_REPS");
    int reps = env ? atoi(env) : 5;
    if (reps < 1 || reps > 64) reps = 5;
    if (argc < 2) {
        run(512, reps);
        run(4096, reps);
    }
    for (int i = 1; i < argc; i++) run(atoll(argv[i]), reps);
    return 0;
}
